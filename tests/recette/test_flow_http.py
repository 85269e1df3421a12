"""RecetteFlow walked through the HTTP test client, each step by the right user."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.models import ChangeRequest
from recette import services
from recette.flows import RecetteFlow
from recette.models import Campaign, Defect, Execution
from recette.selectors import latest_results
from tests.conftest import totp_code
from tests.consistency import assert_consistent

F = RecetteFlow
R = Execution.Result
PASSWORD = "tandem-demo"


def _open_task(change_request, node):
    return Task.objects.get(
        process__recetteprocess__change_request=change_request,
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def _signing(user, decision="sign", **data) -> dict:
    """The signature form as the DSI fills it: password and a fresh TOTP code."""
    return {
        "decision": decision,
        "password": PASSWORD,
        "otp_token": totp_code(user),
        **data,
    }


def _act(client, user, change_request, node, data, expect=302):
    task = _open_task(change_request, node)
    client.force_login(user)
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        assert client.post(node.reverse("assign", args=args)).status_code == 302
    response = client.post(node.reverse("execute", args=args), data)
    assert response.status_code == expect, response.content.decode()[:3000]
    assert_consistent(change_request)
    return response


CASES_CSV = "\n".join(
    [
        "référence;titre;priorité;action;résultat attendu",
        "CT-1;Saisie;haute;Saisir une déclaration;Déclaration enregistrée",
        ";;;Valider;Accusé de réception",
        "CT-2;Export;moyenne;Exporter;Fichier produit",
        "CT-3;Purge;basse;Purger;Rien ne reste",
        "CT-4;Droits;haute;Se connecter sans droit;Accès refusé",
    ]
).encode("cp1252")


def test_whole_acceptance_journey_through_http(world, client, acceptance):
    cr = acceptance
    porteur, testeur = world.user("cd23.porteur"), world.user("cd23.testeur")
    commande, moe = world.user("cnaf.commande"), world.user("cnaf.moe")
    today = timezone.localdate()
    plan_data = {"workload": "4", "start": today.isoformat(), "end": today.isoformat()}

    _act(
        client,
        commande,
        cr,
        F.prepare_plan,
        {**plan_data, "cases_file": SimpleUploadedFile("cas.csv", CASES_CSV)},
    )
    plan = cr.__class__.objects.get(pk=cr.pk).acceptance_plan
    assert [c.reference for c in plan.cases.order_by("position")] == [
        "CT-1",
        "CT-2",
        "CT-3",
        "CT-4",
    ]
    _act(client, porteur, cr, F.review_plan, {"decision": "no", "comment": "Un cas KO"})
    _act(client, commande, cr, F.prepare_plan, plan_data)
    _act(client, porteur, cr, F.review_plan, {"decision": "yes"})
    _act(client, moe, cr, F.qualify, {"passed": "yes", "on": today.isoformat()})
    _act(client, moe, cr, F.deliver, {"on": today.isoformat(), "environment": "REC"})

    first = Campaign.objects.get(change_request=cr, number=1)
    cases = {c.reference: c for c in plan.cases.all()}
    client.force_login(testeur)
    _grid(
        client,
        first,
        {"CT-1": R.PASSED, "CT-2": R.FAILED, "CT-3": R.BLOCKED, "CT-4": R.PASSED},
        cases,
    )
    failed = Execution.objects.get(campaign=first, case=cases["CT-2"])
    response = client.post(
        reverse("recettes:defect_new", args=[cr.pk]),
        {
            "title": "Export vide",
            "severity": "bloquante",
            "executions": [failed.pk],
        },
    )
    assert response.status_code == 302
    blocking = Defect.objects.get(change_request=cr)
    _act(client, porteur, cr, F.run_campaign, {"outcome": "corrections"})
    _act(
        client,
        moe,
        cr,
        F.deliver,
        {
            "on": today.isoformat(),
            "environment": "REC",
            "fixed_defects": [blocking.pk],
        },
    )

    retest = Campaign.objects.get(change_request=cr, number=2)
    assert set(latest_results(retest)) == {cases["CT-2"].pk, cases["CT-3"].pk}
    client.force_login(testeur)
    _grid(client, retest, {"CT-2": R.PASSED, "CT-3": R.PASSED}, cases)
    verify = reverse("recettes:defect_action", args=[blocking.pk, "verifier"])
    assert client.post(verify).status_code == 302
    _act(client, porteur, cr, F.run_campaign, {"outcome": "bilan"})
    _act(client, porteur, cr, F.write_report, {"verdict": "favorable"})

    _act(
        client,
        world.user("cnaf.dsi"),
        cr,
        F.sign_supplier,
        _signing(world.user("cnaf.dsi")),
    )
    assert ChangeRequest.objects.get(pk=cr.pk).status == "en_recette"
    _act(
        client,
        world.user("cd23.dsi"),
        cr,
        F.sign_client,
        _signing(world.user("cd23.dsi")),
    )

    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == ChangeRequest.Status.IN_PRODUCTION
    assert cr.recette_process.status == "DONE"


def _grid(client, campaign, results, cases):
    """Record results the way the grid's script does, one request per result."""
    for reference, result in results.items():
        response = client.post(
            reverse("recettes:record", args=[campaign.pk]),
            json.dumps({"results": [{"case": cases[reference].pk, "result": result}]}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content


def _to_signatures(world, client, cr, *, with_blocking_open: bool, open_major=False):
    porteur, testeur = world.user("cd23.porteur"), world.user("cd23.testeur")
    commande, moe = world.user("cnaf.commande"), world.user("cnaf.moe")
    today = timezone.localdate().isoformat()
    _act(
        client,
        commande,
        cr,
        F.prepare_plan,
        {
            "workload": "2",
            "start": today,
            "end": today,
            "cases_file": SimpleUploadedFile("cas.csv", CASES_CSV),
        },
    )
    _act(client, porteur, cr, F.review_plan, {"decision": "yes"})
    _act(client, moe, cr, F.qualify, {"passed": "yes", "on": today})
    _act(client, moe, cr, F.deliver, {"on": today, "environment": "REC"})
    campaign = Campaign.objects.get(change_request=cr, number=1)
    case = cr.acceptance_plan.cases.first()
    execution = services.executions_record(
        pk=campaign.pk, by=testeur, results=[{"case": case.pk, "result": R.FAILED}]
    )[0]
    if with_blocking_open or open_major:
        services.defect_open(
            change_request_pk=cr.pk,
            by=testeur,
            title="Plantage",
            severity=Defect.Severity.BLOCKING if with_blocking_open else "majeure",
            execution_pks=(execution.pk,),
        )
    _act(client, porteur, cr, F.run_campaign, {"outcome": "bilan"})
    _act(client, porteur, cr, F.write_report, {"verdict": "favorable"})


def test_signature_tasks_refuse_while_a_blocking_defect_is_open(
    world, client, acceptance
):
    _to_signatures(world, client, acceptance, with_blocking_open=True)

    for user, node in (("cnaf.dsi", F.sign_supplier), ("cd23.dsi", F.sign_client)):
        response = _act(
            client,
            world.user(user),
            acceptance,
            node,
            _signing(world.user(user)),
            expect=409,
        )
        assert "bloquante" in response.content.decode()
    assert ChangeRequest.objects.get(pk=acceptance.pk).status == "en_recette"


def test_other_clients_dsi_gets_404_on_the_signature(world, client, acceptance):
    _to_signatures(world, client, acceptance, with_blocking_open=False)
    task = _open_task(acceptance, F.sign_client)
    client.force_login(world.user("cd57.dsi"))

    for action in ("index", "assign", "execute"):
        url = F.sign_client.reverse(action, args=[task.process_id, task.pk])
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404


def test_refusal_cancels_the_other_signature_and_goes_back_to_fixes(
    world, client, acceptance
):
    _to_signatures(world, client, acceptance, with_blocking_open=False)

    _act(
        client,
        world.user("cd23.dsi"),
        acceptance,
        F.sign_client,
        _signing(world.user("cd23.dsi"), decision="refuse", reason="Pas convaincu"),
    )

    assert _open_task(acceptance, F.deliver)
    assert not Task.objects.filter(
        process__recetteprocess__change_request=acceptance,
        flow_task=F.sign_supplier,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    ).exists()
    assert (
        acceptance.acceptance_report.__class__.objects.get(
            change_request=acceptance
        ).version
        == 2
    )


def _workbook(rows) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(
        ["Référence", "Titre", "Priorité", "Étape", "Action", "Résultat attendu"]
    )
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_import_lists_every_bad_row_then_saves_the_corrected_file(
    world, client, acceptance
):
    commande = world.user("cnaf.commande")
    today = timezone.localdate().isoformat()
    rows = [
        [f"CT-{n:03d}", f"Cas {n}", "haute", 1, f"Action {n}", f"Attendu {n}"]
        for n in range(1, 201)
    ]
    bad = [list(row) for row in rows]
    bad[9][4] = ""  # line 11: no action
    bad[99][2] = "urgente"  # line 101: unknown priority
    bad[149][3] = "deux"  # line 151: step is not a number
    data = {"workload": "3", "start": today, "end": today}

    refused = _act(
        client,
        commande,
        acceptance,
        F.prepare_plan,
        {
            **data,
            "cases_file": SimpleUploadedFile("plan.xlsx", _workbook(bad)),
        },
        expect=400,
    )

    page = refused.content.decode()
    for line in (11, 101, 151):
        assert f"Ligne {line}," in page
    assert page.count("Ligne ") == 3
    plan = ChangeRequest.objects.get(pk=acceptance.pk).acceptance_plan
    assert not plan.cases.exists()
    assert (plan.status, plan.workload) == ("brouillon", None)  # nothing half-saved

    _act(
        client,
        commande,
        acceptance,
        F.prepare_plan,
        {
            **data,
            "cases_file": SimpleUploadedFile("plan.xlsx", _workbook(rows)),
        },
    )
    cases = list(plan.cases.order_by("position").prefetch_related("steps"))
    assert len(cases) == 200
    assert [c.reference for c in cases[:3]] == ["CT-001", "CT-002", "CT-003"]
    assert [s.action for s in cases[199].steps.all()] == ["Action 200"]


def test_other_client_sees_nothing_in_the_recette_flow_pages(world, client, acceptance):
    _to_signatures(world, client, acceptance, with_blocking_open=False)
    process = acceptance.recette_process
    client.force_login(world.user("cd57.testeur"))

    for url in (
        "/taches-recettes/",
        "/taches-recettes/flows/",
        "/taches-recettes/tasks/",
        "/taches-recettes/inbox/",
        "/taches-recettes/queue/",
        "/taches-recettes/archive/",
    ):
        # viewflow's lists lead to « Mes tâches », filtered on the flow.
        response = client.get(url, follow=True)
        assert response.redirect_chain == [("/?processus=taches-recettes", 302)]
        assert response.status_code == 200, url
        assert acceptance.reference not in response.content.decode(), url
    for url in (
        f"/taches-recettes/{process.pk}/",
        f"/taches-recettes/{process.pk}/chart/",
    ):
        assert client.get(url).status_code == 404, url

    # The process's page is the acceptance's own.
    client.force_login(world.user("cd23.testeur"))
    response = client.get(f"/taches-recettes/{process.pk}/")
    assert (response.status_code, response.url) == (
        302,
        f"/recettes/{acceptance.pk}/",
    )


def test_signature_tasks_refuse_an_open_major_defect_not_in_the_reserves(
    world, client, acceptance
):
    _to_signatures(world, client, acceptance, with_blocking_open=False, open_major=True)

    for user, node in (("cnaf.dsi", F.sign_supplier), ("cd23.dsi", F.sign_client)):
        response = _act(
            client,
            world.user(user),
            acceptance,
            node,
            _signing(world.user(user)),
            expect=409,
        )
        assert "majeure" in response.content.decode()
        assert "absente(s) des réserves" in response.content.decode()
    assert ChangeRequest.objects.get(pk=acceptance.pk).status == "en_recette"


def test_wrong_signature_passwords_count_as_failed_logins(world, client, acceptance):
    _to_signatures(world, client, acceptance, with_blocking_open=False)
    task = _open_task(acceptance, F.sign_client)
    client.force_login(world.user("cd23.dsi"))
    args = [task.process_id, task.pk]
    assert client.post(F.sign_client.reverse("assign", args=args)).status_code == 302
    execute = F.sign_client.reverse("execute", args=args)
    # A well-formed code: the password is checked first, before the second factor.
    wrong = {"decision": "sign", "password": "mauvais", "otp_token": "123456"}

    for _attempt in range(4):
        response = client.post(execute, wrong)
        assert response.status_code == 400
        assert "Mot de passe incorrect." in response.content.decode()
    locked = client.post(execute, wrong)
    right = client.post(execute, {**wrong, "password": PASSWORD})

    assert locked.status_code == right.status_code == 429
    assert "la connexion est bloquée pendant 15 minutes" in right.content.decode()
    assert not acceptance.go_live_agreements.last().signatures.exists()
    client.logout()
    login = client.post(
        reverse("login"), {"username": "cd23.dsi", "password": PASSWORD}
    )
    assert login.status_code == 429
