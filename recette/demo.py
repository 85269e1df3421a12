"""Demo acceptances: one in progress for client 23 (a campaign half run, with
failures and defects) and one fully signed for client 57 (in production).

Every step goes through the services and the RecetteFlow tasks, like a user's.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from evolutions.models import ChangeRequest
from recette import services
from recette.flows import RecetteFlow
from recette.models import Defect, Execution, Qualification
from workflow.demo import DEMO_PASSWORD, complete_open_task, demo_totp_code

F = RecetteFlow
R = Execution.Result

CASES = [
    ("CT-001", "Saisir une déclaration de grossesse complète", "haute"),
    ("CT-002", "Refuser une déclaration sans date présumée", "haute"),
    ("CT-003", "Recevoir le flux DSG du jour", "haute"),
    ("CT-004", "Exporter les déclarations du mois", "moyenne"),
    ("CT-005", "Consulter l'historique d'une déclaration", "moyenne"),
    ("CT-006", "Purger les déclarations anciennes", "basse"),
    ("CT-007", "Contrôler les droits d'un agent sans habilitation", "haute"),
    ("CT-008", "Imprimer l'accusé de réception", "basse"),
]


def _users() -> dict:
    names = ["cnaf.commande", "cnaf.moe", "cnaf.dsi"]
    names += [
        f"cd{code}.{role}"
        for code in ("23", "57")
        for role in ("porteur", "testeur", "dsi")
    ]
    return {u.username: u for u in get_user_model().objects.filter(username__in=names)}


def _step(change_request, node, user, perform) -> None:
    complete_open_task(
        node, user, perform, recetteprocess__change_request=change_request
    )


def _to_first_campaign(change_request, users, code):
    commande, moe, porteur = (
        users["cnaf.commande"],
        users["cnaf.moe"],
        users[f"cd{code}.porteur"],
    )
    today = timezone.localdate()
    plan = services.plan_prepare(change_request_pk=change_request.pk, by=commande)

    def prepare():
        services.plan_update(
            pk=plan.pk,
            by=commande,
            workload=6,
            start=today + timedelta(days=3),
            end=today + timedelta(days=17),
        )
        for reference, title, priority in CASES:
            services.case_add(
                pk=plan.pk,
                by=commande,
                reference=reference,
                title=title,
                priority=priority,
                steps=[
                    ("Ouvrir l'écran concerné", "L'écran s'affiche"),
                    (title, "Le résultat est conforme au cahier des charges"),
                ],
            )
        services.plan_submit(pk=plan.pk, by=commande)

    _step(change_request, F.prepare_plan, commande, prepare)
    _step(
        change_request,
        F.review_plan,
        porteur,
        lambda: services.plan_decide(pk=plan.pk, by=porteur, validated=True),
    )
    _step(
        change_request,
        F.qualify,
        moe,
        lambda: services.qualification_record(
            change_request_pk=change_request.pk, by=moe, passed=True, on=today
        ),
    )
    _step(
        change_request,
        F.deliver,
        moe,
        lambda: services.delivery_record(
            change_request_pk=change_request.pk,
            by=moe,
            on=today,
            environment="Recette nationale",
            release_notes="Première livraison.",
        ),
    )
    campaign = change_request.campaigns.get(number=1)
    testeur = users[f"cd{code}.testeur"]
    cases = list(plan.cases.order_by("position"))
    services.campaign_assign(
        pk=campaign.pk, by=porteur, case_pks=[c.pk for c in cases], tester=testeur
    )
    return plan, campaign, cases


def _in_progress(change_request, users) -> None:
    """Client 23: half the cases run, two failures, a blocking and a minor defect."""
    _plan, campaign, cases = _to_first_campaign(change_request, users, "23")
    testeur = users["cd23.testeur"]
    executions = services.executions_record(
        pk=campaign.pk,
        by=testeur,
        results=[
            {"case": cases[0].pk, "result": R.PASSED},
            {
                "case": cases[1].pk,
                "result": R.FAILED,
                "comment": "La déclaration sans date est acceptée.",
            },
            {"case": cases[2].pk, "result": R.PASSED},
            {
                "case": cases[3].pk,
                "result": R.BLOCKED,
                "comment": "Export indisponible.",
            },
            {"case": cases[7].pk, "result": R.FAILED, "comment": "Logo absent."},
        ],
    )
    blocking = services.defect_open(
        change_request_pk=change_request.pk,
        by=testeur,
        title="Une déclaration sans date présumée est acceptée",
        severity=Defect.Severity.BLOCKING,
        description="Le contrôle de la date présumée ne se déclenche pas.",
        steps_to_reproduce=(
            "1. Saisir une déclaration\n2. Laisser la date présumée vide\n3. Valider"
        ),
        expected="La déclaration est refusée : la date présumée est obligatoire.",
        observed="La déclaration est enregistrée sans date.",
        campaign_pk=campaign.pk,
        case_pk=cases[1].pk,
        execution_pks=(executions[1].pk,),
    )
    services.defect_comment_add(
        pk=blocking.pk,
        by=users["cnaf.moe"],
        text="Reproduit sur la recette nationale : correction prévue dans la "
        "prochaine livraison.",
    )
    services.defect_open(
        change_request_pk=change_request.pk,
        by=testeur,
        title="Le logo manque sur l'accusé de réception",
        severity=Defect.Severity.MINOR,
        execution_pks=(executions[4].pk,),
    )


def _signed(change_request, users) -> None:
    """Client 57: every case passed, report favourable, both DSIs signed."""
    _plan, campaign, cases = _to_first_campaign(change_request, users, "57")
    porteur, testeur = users["cd57.porteur"], users["cd57.testeur"]
    services.executions_record(
        pk=campaign.pk,
        by=testeur,
        results=[{"case": c.pk, "result": R.PASSED} for c in cases],
    )
    _step(
        change_request,
        F.run_campaign,
        porteur,
        lambda: services.campaign_close(pk=campaign.pk, by=porteur),
    )

    def report():
        draft = services.report_prepare(change_request_pk=change_request.pk, by=porteur)
        services.report_update(pk=draft.pk, by=porteur, verdict="favorable")
        services.report_submit(pk=draft.pk, by=porteur)

    _step(change_request, F.write_report, porteur, report)
    for node, username in ((F.sign_client, "cd57.dsi"), (F.sign_supplier, "cnaf.dsi")):
        agreement = change_request.go_live_agreements.last()
        _step(
            change_request,
            node,
            users[username],
            lambda a=agreement, u=users[username]: services.agreement_sign(
                pk=a.pk, by=u, password=DEMO_PASSWORD, otp_token=demo_totp_code(u)
            ),
        )


def recette_demo_load() -> None:
    """Stand the demo acceptances (once)."""
    # Plans exist from the start of each acceptance: a qualification says the
    # demo's acceptances were already walked.
    if Qualification.objects.filter(
        change_request__organisation__code__in=["23", "57"]
    ).exists():
        return
    users = _users()
    for code, build in (("23", _in_progress), ("57", _signed)):
        change_request = ChangeRequest.objects.filter(
            organisation__code=code, status=ChangeRequest.Status.IN_ACCEPTANCE
        ).first()
        if change_request is not None:
            build(change_request, users)
