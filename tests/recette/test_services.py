"""The acceptance lifecycle through its services: plan, qualification, deliveries,
campaigns, executions and defects."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.demo import _step
from recette.flows import RecetteFlow
from recette.models import AcceptancePlan, Campaign, Defect, Execution
from recette.selectors import campaign_figures, latest_results
from tests.conftest import totp_code
from workflow.transitions import ActionRefused, history_of

R = Execution.Result
P = AcceptancePlan.Status


@pytest.fixture
def people(world):
    evolutions_demo_load()

    class People:
        porteur = world.user("cd23.porteur")
        testeur = world.user("cd23.testeur")
        testeur_57 = world.user("cd57.testeur")
        commande = world.user("cnaf.commande")
        moe = world.user("cnaf.moe")

    return People


@pytest.fixture
def manufactured(people):
    return ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )


def _plan_with_cases(people, change_request, cases=4):
    plan = services.plan_prepare(change_request_pk=change_request.pk, by=people.moe)
    today = timezone.localdate()
    services.plan_update(
        pk=plan.pk,
        by=people.moe,
        workload=Decimal("5"),
        start=today + timedelta(days=7),
        end=today + timedelta(days=21),
    )
    for number in range(1, cases + 1):
        services.case_add(
            pk=plan.pk,
            by=people.moe,
            reference=f"CT-{number:03d}",
            title=f"Cas {number}",
            steps=[("Ouvrir", "Écran affiché"), ("Valider", "OK")],
        )
    return plan


def _validated_plan(people, change_request, cases=4):
    plan = _plan_with_cases(people, change_request, cases)
    services.plan_submit(pk=plan.pk, by=people.moe)
    services.plan_decide(pk=plan.pk, by=people.porteur, validated=True)
    return AcceptancePlan.objects.get(pk=plan.pk)


def _qualified(people, change_request):
    services.qualification_record(
        change_request_pk=change_request.pk,
        by=people.moe,
        passed=True,
        on=timezone.localdate(),
    )


def test_plan_is_sent_back_then_validated_and_frozen(people, manufactured):
    plan = _plan_with_cases(people, manufactured)
    services.plan_submit(pk=plan.pk, by=people.moe)

    with pytest.raises(ActionRefused, match="figé"):
        services.case_add(
            pk=plan.pk, by=people.moe, reference="CT-X", title="x", steps=[("a", "b")]
        )
    services.plan_decide(
        pk=plan.pk,
        by=people.porteur,
        validated=False,
        comment="Ajoutez un cas d'erreur.",
    )
    services.case_add(
        pk=plan.pk,
        by=people.moe,
        reference="CT-ERR",
        title="Erreur",
        steps=[("Saisir n'importe quoi", "Message d'erreur")],
    )
    services.plan_submit(pk=plan.pk, by=people.moe)
    services.plan_decide(pk=plan.pk, by=people.porteur, validated=True)

    plan = AcceptancePlan.objects.get(pk=plan.pk)
    assert (plan.status, plan.version, plan.cases.count()) == (P.VALIDATED, 1, 5)
    assert [h.target for h in history_of(plan)] == [
        P.SUBMITTED,
        P.SENT_BACK,
        P.SUBMITTED,
        P.VALIDATED,
    ]


def test_changing_a_validated_plan_needs_a_new_validation(people, manufactured):
    plan = _plan_with_cases(people, manufactured)
    # Through the flow's tasks: a plan is reopened from the step that follows it.
    _step(
        manufactured,
        RecetteFlow.prepare_plan,
        people.commande,
        lambda: services.plan_submit(pk=plan.pk, by=people.moe),
    )
    _step(
        manufactured,
        RecetteFlow.review_plan,
        people.porteur,
        lambda: services.plan_decide(pk=plan.pk, by=people.porteur, validated=True),
    )

    services.plan_reopen(pk=plan.pk, by=people.moe, reason="Nouveau cas réglementaire")

    plan = AcceptancePlan.objects.get(pk=plan.pk)
    assert (plan.status, plan.version) == (P.DRAFT, 2)
    with pytest.raises(ActionRefused, match="validé"):
        _qualified(people, manufactured)
        services.delivery_record(
            change_request_pk=manufactured.pk,
            by=people.moe,
            on=timezone.localdate(),
            environment="REC1",
        )


def test_plan_submission_needs_schedule_and_cases(people, manufactured):
    plan = services.plan_prepare(change_request_pk=manufactured.pk, by=people.moe)

    with pytest.raises(ValidationError, match="la charge et le planning"):
        services.plan_submit(pk=plan.pk, by=people.moe)


def test_schedule_eating_the_margin_is_flagged(people, manufactured, settings):
    settings.TANDEM_RECETTE_MARGIN_DAYS = 10
    plan = _plan_with_cases(people, manufactured)
    production = manufactured.release.production_date
    assert services.plan_margin_warning(plan) is None

    services.plan_update(
        pk=plan.pk,
        by=people.moe,
        workload=Decimal("5"),
        start=production - timedelta(days=20),
        end=production - timedelta(days=3),
    )

    warning = services.plan_margin_warning(AcceptancePlan.objects.get(pk=plan.pk))
    assert warning is not None and "marge demandée est de 10 jours ouvrés" in warning


def test_only_the_supplier_writes_the_plan_and_only_the_client_validates(
    people, manufactured
):
    with pytest.raises(PermissionDenied):
        services.plan_prepare(change_request_pk=manufactured.pk, by=people.porteur)
    plan = _plan_with_cases(people, manufactured)
    services.plan_submit(pk=plan.pk, by=people.moe)

    with pytest.raises(PermissionDenied):
        services.plan_decide(pk=plan.pk, by=people.moe, validated=True)
    with pytest.raises(PermissionDenied):
        services.plan_decide(pk=plan.pk, by=people.testeur_57, validated=True)


def test_no_delivery_before_a_passed_qualification(people, manufactured):
    _validated_plan(people, manufactured)
    services.qualification_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        passed=False,
        on=timezone.localdate(),
    )

    with pytest.raises(ActionRefused, match="qualification technique réussie"):
        services.delivery_record(
            change_request_pk=manufactured.pk,
            by=people.moe,
            on=timezone.localdate(),
            environment="REC1",
        )


def test_first_campaign_runs_every_case_and_retest_only_what_must_be(
    people, manufactured
):
    plan = _validated_plan(people, manufactured, cases=5)
    _qualified(people, manufactured)
    first = services.delivery_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
    )
    cases = list(plan.cases.order_by("position"))
    assert first.kind == Campaign.Kind.FIRST
    assert set(latest_results(first)) == {case.pk for case in cases}

    executions = services.executions_record(
        pk=first.pk,
        by=people.testeur,
        results=[
            {"case": cases[0].pk, "result": R.PASSED},
            {"case": cases[1].pk, "result": R.FAILED, "comment": "Erreur 500"},
            {"case": cases[2].pk, "result": R.BLOCKED},
            {"case": cases[3].pk, "result": R.PASSED, "comment": "Libellé à revoir"},
            {"case": cases[4].pk, "result": R.NOT_APPLICABLE},
        ],
    )
    blocking = services.defect_open(
        change_request_pk=manufactured.pk,
        by=people.testeur,
        title="Erreur 500",
        severity=Defect.Severity.BLOCKING,
        execution_pks=(executions[1].pk,),
    )
    # Raised from a passed case: once claimed fixed, that case is re-run too.
    cosmetic = services.defect_open(
        change_request_pk=manufactured.pk,
        by=people.testeur,
        title="Libellé",
        severity=Defect.Severity.MINOR,
        execution_pks=(executions[3].pk,),
    )
    figures = campaign_figures(first)
    assert (figures["planned"], figures["run"], figures[R.FAILED]) == (5, 5, 1)
    assert (figures[R.PASSED], figures[R.BLOCKED], figures[R.NOT_APPLICABLE]) == (
        2,
        1,
        1,
    )
    services.campaign_close(pk=first.pk, by=people.porteur)

    retest = services.delivery_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
        fixed_defect_pks=(blocking.pk, cosmetic.pk),
    )

    assert retest.kind == Campaign.Kind.RETEST
    assert set(latest_results(retest)) == {cases[1].pk, cases[2].pk, cases[3].pk}
    blocking = Defect.objects.get(pk=blocking.pk)
    assert (blocking.status, blocking.fixed_in) == (
        Defect.Status.FIXED,
        retest.delivery,
    )


def test_no_new_delivery_while_a_campaign_is_open(people, manufactured):
    _validated_plan(people, manufactured)
    _qualified(people, manufactured)
    services.delivery_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
    )

    with pytest.raises(ActionRefused, match="en cours"):
        services.delivery_record(
            change_request_pk=manufactured.pk,
            by=people.moe,
            on=timezone.localdate(),
            environment="REC1",
        )


def test_re_executions_keep_their_history(people, manufactured):
    plan = _validated_plan(people, manufactured, cases=1)
    _qualified(people, manufactured)
    campaign = services.delivery_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
    )
    case = plan.cases.get()

    for result in (R.FAILED, R.BLOCKED, R.PASSED):
        services.executions_record(
            pk=campaign.pk,
            by=people.testeur,
            results=[{"case": case.pk, "result": result}],
        )

    history = Execution.objects.filter(campaign=campaign, case=case)
    assert [e.result for e in history] == [R.FAILED, R.BLOCKED, R.PASSED]
    assert latest_results(campaign) == {case.pk: R.PASSED}


def test_results_are_refused_on_a_closed_campaign_or_from_another_client(
    people, manufactured
):
    plan = _validated_plan(people, manufactured, cases=1)
    _qualified(people, manufactured)
    campaign = services.delivery_record(
        change_request_pk=manufactured.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
    )
    entry = [{"case": plan.cases.get().pk, "result": R.PASSED}]

    # Another client's campaign is, for its testers, one that does not exist.
    with pytest.raises(Campaign.DoesNotExist):
        services.executions_record(pk=campaign.pk, by=people.testeur_57, results=entry)
    with pytest.raises(ValidationError, match="inconnu"):
        services.executions_record(
            pk=campaign.pk,
            by=people.testeur,
            results=[{**entry[0], "result": "peut-être"}],
        )
    services.campaign_close(pk=campaign.pk, by=people.porteur)
    with pytest.raises(ActionRefused, match="close"):
        services.executions_record(pk=campaign.pk, by=people.testeur, results=entry)
    assert not Execution.objects.exists()


def test_defect_lifecycle(people, manufactured):
    defect = services.defect_open(
        change_request_pk=manufactured.pk,
        by=people.testeur,
        title="Libellé faux",
        severity=Defect.Severity.MAJOR,
    )
    assert defect.reference == "ANO-001"

    services.defect_reject(pk=defect.pk, by=people.moe, reason="Conforme au CDC")
    services.defect_reopen(pk=defect.pk, by=people.porteur, reason="Non conforme")
    with pytest.raises(ValidationError, match="motif du rejet"):
        services.defect_reject(pk=defect.pk, by=people.moe, reason="")
    services.defect_reject(pk=defect.pk, by=people.moe, reason="Vraiment conforme")
    services.defect_accept_rejection(pk=defect.pk, by=people.porteur)

    defect = Defect.objects.get(pk=defect.pk)
    assert defect.status == Defect.Status.REJECTION_ACCEPTED
    assert [h.target for h in history_of(defect)] == [
        "rejetee",
        "reouverte",
        "rejetee",
        "rejet_accepte",
    ]
    with pytest.raises(ActionRefused):
        services.defect_verify(pk=defect.pk, by=people.testeur)
    with pytest.raises(PermissionDenied):
        services.defect_reject(pk=defect.pk, by=people.testeur_57, reason="x")


def _campaign_with_defects(people, change_request):
    plan = _validated_plan(people, change_request, cases=3)
    _qualified(people, change_request)
    campaign = services.delivery_record(
        change_request_pk=change_request.pk,
        by=people.moe,
        on=timezone.localdate(),
        environment="REC1",
    )
    cases = list(plan.cases.order_by("position"))
    executions = services.executions_record(
        pk=campaign.pk,
        by=people.testeur,
        results=[
            {"case": cases[0].pk, "result": R.PASSED},
            {"case": cases[1].pk, "result": R.FAILED},
            {"case": cases[2].pk, "result": R.FAILED},
        ],
    )
    blocking = services.defect_open(
        change_request_pk=change_request.pk,
        by=people.testeur,
        title="Plantage",
        severity=Defect.Severity.BLOCKING,
        execution_pks=(executions[1].pk,),
    )
    major = services.defect_open(
        change_request_pk=change_request.pk,
        by=people.testeur,
        title="Calcul faux",
        severity=Defect.Severity.MAJOR,
        execution_pks=(executions[2].pk,),
    )
    services.campaign_close(pk=campaign.pk, by=people.porteur)
    return blocking, major


def _submitted_report(people, change_request, *, reserved=(), verdict="reserves"):
    report = services.report_prepare(
        change_request_pk=change_request.pk, by=people.porteur
    )
    services.report_update(
        pk=report.pk,
        by=people.porteur,
        verdict=verdict,
        reserves="Calcul à corriger",
        reserved_defect_pks=reserved,
    )
    return services.report_submit(pk=report.pk, by=people.porteur)


@pytest.fixture
def dsis(world):
    class Dsis:
        client = world.user("cd23.dsi")
        client_57 = world.user("cd57.dsi")
        supplier = world.user("cnaf.dsi")

    return Dsis


def test_signing_is_refused_while_a_blocking_defect_is_open(people, manufactured, dsis):
    blocking, major = _campaign_with_defects(people, manufactured)
    agreement = _submitted_report(people, manufactured, reserved=(major.pk,))

    for dsi in (dsis.client, dsis.supplier):
        with pytest.raises(ActionRefused, match=f"bloquante.*{blocking.reference}"):
            services.agreement_sign(
                pk=agreement.pk,
                by=dsi,
                password="tandem-demo",
                otp_token=totp_code(dsi),
            )
    assert not agreement.signatures.exists()


def test_open_major_defect_must_be_in_the_reserves(people, manufactured, dsis):
    blocking, major = _campaign_with_defects(people, manufactured)
    services.defect_reject(pk=blocking.pk, by=people.moe, reason="Hors périmètre")
    services.defect_accept_rejection(pk=blocking.pk, by=people.porteur)
    agreement = _submitted_report(people, manufactured, reserved=())

    with pytest.raises(ActionRefused, match=f"majeure.*{major.reference}"):
        services.agreement_sign(
            pk=agreement.pk,
            by=dsis.client,
            password="tandem-demo",
            otp_token=totp_code(dsis.client),
        )


def test_both_dsis_sign_and_the_request_goes_into_production(
    people, manufactured, dsis
):
    blocking, major = _campaign_with_defects(people, manufactured)
    services.defect_reject(pk=blocking.pk, by=people.moe, reason="Hors périmètre")
    services.defect_accept_rejection(pk=blocking.pk, by=people.porteur)
    agreement = _submitted_report(people, manufactured, reserved=(major.pk,))
    report = manufactured.acceptance_report.__class__.objects.get(
        change_request=manufactured
    )
    assert report.document_sha256 == agreement.report_sha256
    assert hashlib.sha256(report.document.read()).hexdigest() == report.document_sha256

    with pytest.raises(ValidationError, match="Mot de passe incorrect"):
        services.agreement_sign(
            pk=agreement.pk,
            by=dsis.supplier,
            password="faux",
            otp_token=totp_code(dsis.supplier),
        )
    with pytest.raises(PermissionDenied):
        services.agreement_sign(
            pk=agreement.pk,
            by=dsis.client_57,
            password="tandem-demo",
            otp_token=totp_code(dsis.client_57),
        )
    services.agreement_sign(
        pk=agreement.pk,
        by=dsis.supplier,
        password="tandem-demo",
        otp_token=totp_code(dsis.supplier),
    )
    with pytest.raises(ActionRefused, match="déjà signé"):
        services.agreement_sign(
            pk=agreement.pk,
            by=dsis.supplier,
            password="tandem-demo",
            otp_token=totp_code(dsis.supplier),
        )
    services.agreement_sign(
        pk=agreement.pk,
        by=dsis.client,
        password="tandem-demo",
        otp_token=totp_code(dsis.client),
    )

    agreement = agreement.__class__.objects.get(pk=agreement.pk)
    assert agreement.status == "signe"
    assert {s.report_sha256 for s in agreement.signatures.all()} == {
        report.document_sha256
    }
    assert {s.second_factor for s in agreement.signatures.all()} == {"totp"}
    assert ChangeRequest.objects.get(pk=manufactured.pk).status == "en_production"


def test_refusal_needs_a_reason_and_reopens_the_report(people, manufactured, dsis):
    _blocking, major = _campaign_with_defects(people, manufactured)
    agreement = _submitted_report(people, manufactured, reserved=(major.pk,))

    with pytest.raises(ValidationError, match="motif du refus"):
        services.agreement_refuse(
            pk=agreement.pk,
            by=dsis.client,
            password="tandem-demo",
            reason=" ",
            otp_token=totp_code(dsis.client),
        )
    services.agreement_refuse(
        pk=agreement.pk,
        by=dsis.client,
        password="tandem-demo",
        reason="Corrigez d'abord le plantage.",
        otp_token=totp_code(dsis.client),
    )

    report = manufactured.__class__.objects.get(pk=manufactured.pk).acceptance_report
    assert (report.status, report.version) == ("brouillon", 2)
    refused = agreement.__class__.objects.get(pk=agreement.pk)
    assert refused.refusal_second_factor == "totp"
    with pytest.raises(ActionRefused, match="plus à signer"):
        services.agreement_sign(
            pk=agreement.pk,
            by=dsis.supplier,
            password="tandem-demo",
            otp_token=totp_code(dsis.supplier),
        )


def test_imported_cases_replace_the_plans_cases_with_their_steps(people, manufactured):
    from recette.importing import parse_cases

    plan = _plan_with_cases(people, manufactured, cases=1)
    rows = ["référence;titre;priorité;action;résultat attendu"]
    for case in range(1, 4):
        rows.append(f"CT-{case};Cas importé {case};haute;Étape 1;Attendu 1")
        rows.append(";;;Étape 2;Attendu 2")
    preview = parse_cases("\n".join(rows).encode("cp1252"), filename="plan.csv")

    changes = services.cases_import(
        pk=plan.pk, by=people.moe, preview=preview, mode=services.IMPORT_REPLACE
    )
    assert (len(changes.added), len(changes.absent)) == (3, 1)
    cases = list(plan.cases.order_by("position"))
    assert [c.reference for c in cases] == ["CT-1", "CT-2", "CT-3"]
    assert [(s.number, s.action) for s in cases[1].steps.all()] == [
        (1, "Étape 1"),
        (2, "Étape 2"),
    ]


def test_import_with_errors_saves_nothing(people, manufactured):
    from recette.importing import parse_cases

    plan = _plan_with_cases(people, manufactured, cases=2)
    bad = "référence;titre;action;résultat attendu\nCT-1;Cas;;Attendu\n".encode()
    long = f"référence;titre;action;résultat attendu\n{'X' * 60};Cas;A;B\n".encode()

    with pytest.raises(ValidationError, match="erreurs"):
        services.cases_import(
            pk=plan.pk, by=people.moe, preview=parse_cases(bad, filename="a.csv")
        )
    with pytest.raises(ValidationError, match="Ligne 2 : « référence » dépasse 50"):
        services.cases_import(
            pk=plan.pk, by=people.moe, preview=parse_cases(long, filename="a.csv")
        )
    assert plan.cases.count() == 2
