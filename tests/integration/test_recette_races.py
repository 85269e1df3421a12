"""Concurrent work on one acceptance, on PostgreSQL: nothing lost, nothing twice."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.models import Campaign, Execution, GoLiveAgreement
from tests.conftest import totp_code
from workflow.transitions import history_of

pytestmark = pytest.mark.integration
R = Execution.Result
REPETITIONS = 10


def _together(*actions):
    """Run each action in its own thread and connection, released together."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = action()
        except Exception as exc:  # the outcome is what the test asserts on
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


@pytest.fixture
def campaign(world):
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    plan = services.plan_prepare(change_request_pk=cr.pk, by=moe)
    today = timezone.localdate()
    services.plan_update(pk=plan.pk, by=moe, workload=1, start=today, end=today)
    for n in (1, 2):
        services.case_add(
            pk=plan.pk, by=moe, reference=f"CT-{n}", title="Cas", steps=[("a", "b")]
        )
    services.plan_submit(pk=plan.pk, by=moe)
    services.plan_decide(pk=plan.pk, by=porteur, validated=True)
    services.qualification_record(
        change_request_pk=cr.pk, by=moe, passed=True, on=today
    )
    return services.delivery_record(
        change_request_pk=cr.pk, by=moe, on=today, environment="REC"
    )


@pytest.mark.django_db(transaction=True)
def test_two_testers_at_once_lose_nothing(world, campaign):
    first, second = campaign.change_request.acceptance_plan.cases.order_by("position")
    testeur, porteur = world.user("cd23.testeur"), world.user("cd23.porteur")

    for _ in range(REPETITIONS):
        outcomes = _together(
            lambda: services.executions_record(
                pk=campaign.pk,
                by=testeur,
                results=[{"case": first.pk, "result": R.PASSED}],
            ),
            lambda: services.executions_record(
                pk=campaign.pk,
                by=porteur,
                results=[{"case": second.pk, "result": R.FAILED}],
            ),
            lambda: services.executions_record(
                pk=campaign.pk,
                by=porteur,
                results=[{"case": first.pk, "result": R.BLOCKED}],
            ),
        )
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes

    executions = Execution.objects.filter(campaign=campaign)
    assert executions.filter(case=first).count() == 2 * REPETITIONS
    assert executions.filter(case=second).count() == REPETITIONS


@pytest.mark.django_db(transaction=True)
def test_both_dsis_signing_at_once_complete_the_agreement_once(world, campaign):
    porteur = world.user("cd23.porteur")
    case = campaign.change_request.acceptance_plan.cases.first()
    services.executions_record(
        pk=campaign.pk, by=porteur, results=[{"case": case.pk, "result": R.PASSED}]
    )
    services.campaign_close(pk=campaign.pk, by=porteur)
    cr = campaign.change_request
    report = services.report_prepare(change_request_pk=cr.pk, by=porteur)
    services.report_update(pk=report.pk, by=porteur, verdict="favorable")
    agreement = services.report_submit(pk=report.pk, by=porteur)

    # Each DSI confirms with a code of their own device (demo accounts have one).
    client_dsi, supplier_dsi = world.user("cd23.dsi"), world.user("cnaf.dsi")
    client_code, supplier_code = totp_code(client_dsi), totp_code(supplier_dsi)
    outcomes = _together(
        lambda: services.agreement_sign(
            pk=agreement.pk,
            by=client_dsi,
            password="tandem-demo",
            otp_token=client_code,
        ),
        lambda: services.agreement_sign(
            pk=agreement.pk,
            by=supplier_dsi,
            password="tandem-demo",
            otp_token=supplier_code,
        ),
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
    assert agreement.status == GoLiveAgreement.Status.SIGNED
    assert agreement.signatures.count() == 2
    assert set(agreement.signatures.values_list("second_factor", flat=True)) == {"totp"}
    go_lives = [
        h
        for h in history_of(ChangeRequest.objects.get(pk=cr.pk))
        if h.transition == "go_live"
    ]
    assert len(go_lives) == 1
    assert Campaign.objects.get(pk=campaign.pk).status == "close"


@pytest.mark.django_db(transaction=True)
def test_reopening_the_plan_while_the_delivery_is_saved_one_wins(world, settings):
    """The order owner reopens the validated plan while the project team saves the
    delivery it waited for: one of them wins, the other is told, and the request's
    records and open tasks agree."""
    from django.test import Client
    from django.urls import reverse
    from viewflow.workflow.models import Task

    from recette.demo import _step, _to_first_campaign, _users
    from recette.flows import RecetteFlow
    from tests.consistency import assert_consistent
    from workflow.consistency import OPEN

    evolutions_demo_load()
    users = _users()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    _plan, first, cases = _to_first_campaign(cr, users, "23")
    services.executions_record(
        pk=first.pk,
        by=users["cd23.testeur"],
        results=[{"case": case.pk, "result": R.FAILED} for case in cases],
    )
    porteur = users["cd23.porteur"]
    _step(
        cr,
        RecetteFlow.run_campaign,
        porteur,
        lambda: services.campaign_close(pk=first.pk, by=porteur, outcome="corrections"),
    )
    task = Task.objects.get(
        process__recetteprocess__change_request=cr,
        flow_task=RecetteFlow.deliver,
        status__in=OPEN,
    )
    moe, commande = Client(), Client()
    moe.force_login(users["cnaf.moe"])
    commande.force_login(users["cnaf.commande"])
    args = [task.process_id, task.pk]
    moe.post(RecetteFlow.deliver.reverse("assign", args=args))
    today = timezone.localdate().isoformat()

    outcomes = _together(
        lambda: (
            moe.post(
                RecetteFlow.deliver.reverse("execute", args=args),
                {"on": today, "environment": "REC"},
            ).status_code
        ),
        lambda: (
            commande.post(
                reverse("recettes:plan_reopen", args=[cr.pk]),
                {"reason": "Un cas de plus"},
            ).status_code
        ),
    )

    assert sorted(outcomes) == [302, 409], outcomes
    delivered = cr.campaigns.count() == 2
    plan = cr.__class__.objects.get(pk=cr.pk).acceptance_plan
    assert delivered == (outcomes[0] == 302)
    assert (plan.version == 2) == (outcomes[1] == 302)
    assert_consistent(cr)
