"""Concurrent work on one acceptance, on PostgreSQL: nothing lost, nothing twice."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.utils import timezone

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.models import Campaign, Execution, GoLiveAgreement
from tests.conftest import totp_code
from tests.integration.conftest import wait_until
from workflow.transitions import ActionRefused, history_of

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


def _own_connection(action):
    """`action` in a thread of its own: its own connection, closed after."""

    def run():
        try:
            return action()
        finally:
            connection.close()

    return run


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waits_for_a_lock(pids: dict, name: str):
    """A predicate: the connection `name` waits for a lock (pg_stat_activity)."""

    def waiting() -> bool:
        if name not in pids:
            return False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                [pids[name]],
            )
            row = cursor.fetchone()
        return bool(row) and row[0] == "Lock"

    return waiting


@pytest.mark.django_db(transaction=True)
def test_testers_recording_at_once_do_not_wait_and_closing_waits_for_them(
    world, campaign
):
    """Recording takes a shared lock on the campaign: a tester whose transaction
    is still open holds nobody else up, but closing the campaign waits for it, and
    once closed, nothing more is recorded."""
    first, second = campaign.change_request.acceptance_plan.cases.order_by("position")
    testeur, porteur = world.user("cd23.testeur"), world.user("cd23.porteur")
    holding, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}

    def record_and_hold():
        with transaction.atomic():
            services.results_record(
                pk=campaign.pk,
                by=testeur,
                results=[{"case": first.pk, "result": R.PASSED, "key": "a-1"}],
            )
            holding.set()
            release.wait(timeout=60)
            # The close is queued behind this transaction's lock by now: a second
            # batch in the same transaction still goes through (no deadlock).
            services.results_record(
                pk=campaign.pk,
                by=testeur,
                results=[{"case": second.pk, "result": R.FAILED, "key": "a-2"}],
            )

    def record_meanwhile():
        # Fails instead of waiting, were it held up by the other tester.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            return services.results_record(
                pk=campaign.pk,
                by=porteur,
                results=[{"case": second.pk, "result": R.BLOCKED, "key": "b-1"}],
            )

    def close():
        pids["close"] = _backend_pid()
        return services.campaign_close(pk=campaign.pk, by=porteur)

    with ThreadPoolExecutor(max_workers=3) as pool:
        holder = pool.submit(_own_connection(record_and_hold))
        assert holding.wait(timeout=30), "le premier testeur n'a pas enregistré"
        other = pool.submit(_own_connection(record_meanwhile)).result(timeout=30)
        closing = pool.submit(_own_connection(close))
        wait_until(
            _waits_for_a_lock(pids, "close"),
            timeout=30,
            what="la clôture attend le testeur encore en transaction",
        )
        assert not closing.done()
        release.set()
        holder.result(timeout=30)
        closed = closing.result(timeout=30)

    assert other.acknowledged == ["b-1"]
    assert closed.status == Campaign.Status.CLOSED
    with pytest.raises(ActionRefused, match="close"):
        services.results_record(
            pk=campaign.pk,
            by=testeur,
            results=[{"case": first.pk, "result": R.FAILED, "key": "a-3"}],
        )
    saved = Execution.objects.filter(campaign=campaign)
    assert sorted(saved.values_list("client_key", flat=True)) == ["a-1", "a-2", "b-1"]


@pytest.mark.django_db(transaction=True)
def test_a_result_sent_while_the_campaign_closes_waits_and_is_refused(world, campaign):
    first = campaign.change_request.acceptance_plan.cases.order_by("position")[0]
    testeur, porteur = world.user("cd23.testeur"), world.user("cd23.porteur")
    closing, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}

    def close_and_hold():
        with transaction.atomic():
            services.campaign_close(pk=campaign.pk, by=porteur)
            closing.set()
            release.wait(timeout=60)

    def record():
        pids["record"] = _backend_pid()
        return services.results_record(
            pk=campaign.pk,
            by=testeur,
            results=[{"case": first.pk, "result": R.PASSED, "key": "late"}],
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        closer = pool.submit(_own_connection(close_and_hold))
        assert closing.wait(timeout=30), "la campagne n'a pas été close"
        recording = pool.submit(_own_connection(record))
        wait_until(
            _waits_for_a_lock(pids, "record"),
            timeout=30,
            what="l'enregistrement attend la clôture en cours",
        )
        release.set()
        closer.result(timeout=30)
        with pytest.raises(ActionRefused, match="close"):
            recording.result(timeout=30)

    assert not Execution.objects.filter(campaign=campaign).exists()


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
