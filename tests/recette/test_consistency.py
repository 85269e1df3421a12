"""An acceptance's records and RecetteFlow's open tasks never disagree; a reopened
report and a re-test tell the truth."""

import hashlib
from io import BytesIO

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from viewflow.workflow.models import Task

from evolutions.models import ChangeRequest
from recette import services
from recette.demo import _step, _to_first_campaign, _users
from recette.flows import RecetteFlow
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    Execution,
    GoLiveAgreement,
    RecetteProcess,
)
from recette.selectors import latest_results
from tests.consistency import assert_consistent, open_steps
from workflow.consistency import OPEN, process_consistency
from workflow.demo import DEMO_PASSWORD, demo_totp_code
from workflow.models import Notification

F = RecetteFlow
R = Execution.Result


def _open_steps(change_request) -> list[str]:
    return open_steps(RecetteProcess, change_request)


def _close(change_request, users, outcome):
    porteur = users["cd23.porteur"]
    campaign = change_request.campaigns.order_by("number").last()
    _step(
        change_request,
        F.run_campaign,
        porteur,
        lambda: services.campaign_close(pk=campaign.pk, by=porteur, outcome=outcome),
    )


def _deliver(change_request, users, fixed=()):
    moe = users["cnaf.moe"]
    _step(
        change_request,
        F.deliver,
        moe,
        lambda: services.delivery_record(
            change_request_pk=change_request.pk,
            by=moe,
            on=timezone.localdate(),
            environment="Recette",
            fixed_defect_pks=tuple(fixed),
        ),
    )
    return change_request.campaigns.order_by("number").last()


def _record(campaign, users, results):
    services.executions_record(
        pk=campaign.pk,
        by=users["cd23.testeur"],
        results=[{"case": case.pk, "result": result} for case, result in results],
    )


def test_the_plan_exists_from_the_start_and_its_page_writes_nothing(
    world, client, acceptance
):
    """GET never writes: the plan is created with the acceptance's process."""
    plan = AcceptancePlan.objects.get(change_request=acceptance)
    task = Task.objects.get(
        process__recetteprocess__change_request=acceptance, status__in=OPEN
    )
    client.force_login(world.user("cnaf.commande"))
    url = F.prepare_plan.reverse("execute", args=[task.process_id, task.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "django_session" not in q["sql"]
    ]
    assert writes == []
    assert AcceptancePlan.objects.get(change_request=acceptance).pk == plan.pk
    assert_consistent(acceptance)


def test_reopening_the_validated_plan_while_waiting_for_a_delivery(
    world, client, acceptance
):
    """Defect 2: reopened while RecetteFlow waited at `deliver`, the plan could
    never be submitted again: the acceptance was stuck."""
    cr, users = acceptance, _users()
    _plan, campaign, cases = _to_first_campaign(cr, users, "23")
    _record(
        campaign,
        users,
        [(cases[0], R.FAILED)] + [(case, R.PASSED) for case in cases[1:]],
    )
    _close(cr, users, Campaign.Outcome.FIXES)
    assert _open_steps(cr) == ["deliver"]

    deliver = Task.objects.get(
        process__recetteprocess__change_request=cr, flow_task=F.deliver, status__in=OPEN
    )
    client.force_login(users["cnaf.commande"])
    response = client.post(
        reverse("recettes:plan_reopen", args=[cr.pk]), {"reason": "Un cas de plus."}
    )

    assert response.status_code == 302
    assert _open_steps(cr) == ["prepare_plan"]
    # The project team's delivery page, loaded before and posted after: refused.
    client.force_login(users["cnaf.moe"])
    args = [deliver.process_id, deliver.pk]
    for name in ("assign", "execute"):
        stale = client.post(
            F.deliver.reverse(name, args=args),
            {"on": timezone.localdate().isoformat(), "environment": "Recette"},
        )
        assert 400 <= stale.status_code < 500, stale.status_code
        assert "attend maintenant « Préparer le plan de recette »" in (
            stale.content.decode()
        )
    assert _open_steps(cr) == ["prepare_plan"]
    assert_consistent(cr)
    # The client's owner learns that a new version will come to validate.
    told = Notification.objects.filter(event__startswith=f"plan_reopened:{cr.pk}:")
    assert {n.recipient_email for n in told} == {users["cd23.porteur"].email}
    plan = AcceptancePlan.objects.get(change_request=cr)
    commande, porteur = users["cnaf.commande"], users["cd23.porteur"]

    def prepare():
        services.case_add(
            pk=plan.pk,
            by=commande,
            reference="CT-009",
            title="Nouveau cas",
            steps=[("Ouvrir", "Ouvert")],
        )
        services.plan_submit(pk=plan.pk, by=commande)

    _step(cr, F.prepare_plan, commande, prepare)
    assert_consistent(cr)
    _step(
        cr,
        F.review_plan,
        porteur,
        lambda: services.plan_decide(pk=plan.pk, by=porteur, validated=True),
    )
    # Qualified already: the acceptance waits for the delivery again.
    assert _open_steps(cr) == ["deliver"]
    assert_consistent(cr)
    retest = _deliver(cr, users)
    new_case = plan.cases.get(reference="CT-009")
    # The failed case and the case the new version added.
    assert set(latest_results(retest)) == {cases[0].pk, new_case.pk}
    assert_consistent(cr)


def test_the_plan_cannot_be_reopened_during_the_signatures(world, client, acceptance):
    cr, users = acceptance, _users()
    _plan, campaign, cases = _to_first_campaign(cr, users, "23")
    _record(campaign, users, [(case, R.PASSED) for case in cases])
    _close(cr, users, Campaign.Outcome.REPORT)
    _submit_report(cr, users)
    client.force_login(users["cnaf.commande"])

    response = client.post(
        reverse("recettes:plan_reopen", args=[cr.pk]), {"reason": "Trop tard."}
    )

    assert response.status_code == 409
    assert "Signer l" in response.content.decode()
    assert _open_steps(cr) == ["sign_client", "sign_supplier"]
    assert_consistent(cr)


def _submit_report(cr, users, verdict="favorable"):
    porteur = users["cd23.porteur"]

    def report():
        draft = services.report_prepare(change_request_pk=cr.pk, by=porteur)
        services.report_update(pk=draft.pk, by=porteur, verdict=verdict)
        services.report_submit(pk=draft.pk, by=porteur)

    _step(cr, F.write_report, porteur, report)


def test_a_reopened_report_never_serves_the_previous_version(world, client, acceptance):
    """Defect 3: after a refused agreement and a corrective delivery, the report
    read "v2" but its PDF was v1's bytes, and the page showed v1's hash."""
    cr, users = acceptance, _users()
    _plan, campaign, cases = _to_first_campaign(cr, users, "23")
    _record(campaign, users, [(case, R.PASSED) for case in cases])
    _close(cr, users, Campaign.Outcome.REPORT)
    _submit_report(cr, users)
    client.force_login(users["cd23.porteur"])
    v1 = client.get(reverse("recettes:report_pdf", args=[cr.pk]))
    v1_bytes = b"".join(v1.streaming_content)
    v1_sha = hashlib.sha256(v1_bytes).hexdigest()
    dsi = users["cd23.dsi"]
    agreement = cr.go_live_agreements.last()
    _step(
        cr,
        F.sign_client,
        dsi,
        lambda: services.agreement_refuse(
            pk=agreement.pk,
            by=dsi,
            password=DEMO_PASSWORD,
            reason="Les libellés ne conviennent pas.",
            otp_token=demo_totp_code(dsi),
        ),
    )
    assert_consistent(cr)
    _deliver(cr, users)
    _close(cr, users, Campaign.Outcome.REPORT)
    assert _open_steps(cr) == ["write_report"]
    assert_consistent(cr)

    response = client.get(reverse("recettes:report_pdf", args=[cr.pk]))
    page = client.get(reverse("recettes:detail", args=[cr.pk])).content.decode()

    draft = response.content
    assert draft != v1_bytes
    assert "v2" in response["Content-Disposition"]
    assert v1_sha not in page
    assert "Projet de bilan" in page
    text = _pdf_text(draft)
    assert "PROJET — non signé" in text
    assert "Bilan v2" in text
    # The refused version's PDF is kept with its agreement.
    agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
    with agreement.report_document.open("rb") as kept:
        assert hashlib.sha256(kept.read()).hexdigest() == v1_sha
    assert "Bilan v1 soumis à cet accord" in page
    earlier = client.get(reverse("recettes:report_pdf", args=[cr.pk]), {"version": 1})
    assert hashlib.sha256(b"".join(earlier.streaming_content)).hexdigest() == v1_sha
    for wrong in ("2", "abc", "9" * 30):
        missing = client.get(
            reverse("recettes:report_pdf", args=[cr.pk]), {"version": wrong}
        )
        assert missing.status_code == 404


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_a_failed_case_left_unrun_in_a_retest_is_tested_again(world, acceptance):
    """Defect 4: the re-test scope looked at the previous campaign only, so a
    failed case left unrun there was never run again."""
    cr, users = acceptance, _users()
    _plan, first, cases = _to_first_campaign(cr, users, "23")
    failing, left = cases[0], cases[1]
    _record(
        first,
        users,
        [(failing, R.FAILED), (left, R.FAILED)]
        + [(case, R.PASSED) for case in cases[2:]],
    )
    _close(cr, users, Campaign.Outcome.FIXES)
    second = _deliver(cr, users)
    assert set(latest_results(second)) == {failing.pk, left.pk}
    _record(second, users, [(failing, R.PASSED)])  # `left` is not run
    _close(cr, users, Campaign.Outcome.FIXES)

    third = _deliver(cr, users)

    assert set(latest_results(third)) == {left.pk}
    assert_consistent(cr)


def test_defects_no_longer_move_once_the_acceptance_is_over(world, client, acceptance):
    cr, users = acceptance, _users()
    _plan, campaign, cases = _to_first_campaign(cr, users, "23")
    _record(campaign, users, [(case, R.PASSED) for case in cases])
    executions = services.executions_record(
        pk=campaign.pk,
        by=users["cd23.testeur"],
        results=[{"case": cases[0].pk, "result": R.FAILED}],
    )
    defect = services.defect_open(
        change_request_pk=cr.pk,
        by=users["cd23.testeur"],
        title="Libellé tronqué",
        severity="mineure",
        execution_pks=(executions[0].pk,),
    )
    _close(cr, users, Campaign.Outcome.REPORT)
    _submit_report(cr, users)
    agreement = cr.go_live_agreements.last()
    for node, username in ((F.sign_client, "cd23.dsi"), (F.sign_supplier, "cnaf.dsi")):
        dsi = users[username]
        _step(
            cr,
            node,
            dsi,
            lambda dsi=dsi: services.agreement_sign(
                pk=agreement.pk,
                by=dsi,
                password=DEMO_PASSWORD,
                otp_token=demo_totp_code(dsi),
            ),
        )
    assert ChangeRequest.objects.get(pk=cr.pk).status == "en_production"
    client.force_login(users["cnaf.moe"])

    response = client.post(
        reverse("recettes:defect_action", args=[defect.pk, "rejeter"]),
        {"reason": "Hors périmètre"},
    )

    assert response.status_code == 409
    assert "La recette est terminée" in response.content.decode()
    assert cr.defects.get().status == "ouverte"
    page = client.get(reverse("recettes:detail", args=[cr.pk])).content.decode()
    assert "Rejeter" not in page
    assert_consistent(cr)


def test_the_invariant_names_a_report_that_is_not_its_version(world, acceptance):
    """process_consistency bites: a report whose hash is not its file's, a draft
    holding a submitted version's PDF, a plan moved without its flow."""
    cr, users = acceptance, _users()
    _plan, campaign, cases = _to_first_campaign(cr, users, "23")
    _record(campaign, users, [(case, R.PASSED) for case in cases])
    _close(cr, users, Campaign.Outcome.REPORT)
    _submit_report(cr, users)
    process = cr.recette_process
    assert process_consistency(process) == []
    reports = AcceptanceReport.objects.filter(change_request=cr)

    reports.update(document_sha256="0" * 64)
    assert any("empreinte" in p for p in process_consistency(process))
    reports.update(status=AcceptanceReport.Status.DRAFT)
    assert any("en rédaction avec le PDF" in p for p in process_consistency(process))
    AcceptancePlan.objects.filter(change_request=cr).update(status="brouillon")
    assert any("attendues ['prepare_plan']" in p for p in process_consistency(process))
