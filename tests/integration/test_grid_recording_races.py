"""The grid's results sent twice at once, on PostgreSQL: saved once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import transaction

from recette import services
from recette.models import Execution
from tests.integration.conftest import wait_until
from tests.integration.test_recette_races import (
    _backend_pid,
    _own_connection,
    _waits_for_a_lock,
)

pytestmark = pytest.mark.integration
R = Execution.Result


@pytest.mark.django_db(transaction=True)
def test_the_same_keys_sent_twice_at_once_are_saved_once(world, campaign):
    """The second request reads the keys before the first commits, so its insert
    waits on the unique key, then breaks it: its save starts again and finds the
    keys saved (no savepoint around the insert)."""
    first, second = campaign.change_request.acceptance_plan.cases.order_by("position")[
        :2
    ]
    testeur = world.user("cd23.testeur")
    batch = [
        {"case": first.pk, "result": R.PASSED, "key": "k-1"},
        {"case": second.pk, "result": R.FAILED, "key": "k-2"},
    ]
    holding, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}

    def record_and_hold():
        with transaction.atomic():
            recorded = services.results_record(
                pk=campaign.pk, by=testeur, results=batch
            )
            holding.set()
            release.wait(timeout=60)
        return recorded

    def record_again():
        pids["again"] = _backend_pid()
        return services.results_record(pk=campaign.pk, by=testeur, results=batch)

    with ThreadPoolExecutor(max_workers=2) as pool:
        holder = pool.submit(_own_connection(record_and_hold))
        assert holding.wait(timeout=30), "le premier envoi n'a pas enregistré"
        again = pool.submit(_own_connection(record_again))
        wait_until(
            _waits_for_a_lock(pids, "again"),
            timeout=30,
            what="le second envoi attend la clé du premier",
        )
        release.set()
        sent = holder.result(timeout=30)
        resent = again.result(timeout=30)

    assert [e.client_key for e in sent.executions] == ["k-1", "k-2"]
    assert resent.executions == [] and resent.acknowledged == ["k-1", "k-2"]
    assert resent.changes == {
        first.pk: (R.PASSED, R.PASSED),
        second.pk: (R.FAILED, R.FAILED),
    }
    saved = Execution.objects.filter(campaign=campaign)
    assert sorted(saved.values_list("client_key", flat=True)) == ["k-1", "k-2"]
