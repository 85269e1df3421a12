"""Counters on PostgreSQL under contention: refusals of anonymous requests and the
password-reset limits count every hit once, without the audit journal's lock."""

import pytest
from django.test import RequestFactory

from tests.integration.conftest import THREADS, race
from workflow import middleware, passwords
from workflow.models import AnonymousRefusal, AuditEntry, RateCounter

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_concurrent_anonymous_refusals_are_all_counted_on_one_row(world):
    before = AuditEntry.objects.count()

    def refuse_five():
        for _number in range(5):
            request = RequestFactory().get("/inconnu/", REMOTE_ADDR="203.0.113.7")
            middleware.count_refusal(request, 404)
        return "ok"

    assert race(refuse_five) == ["ok"] * THREADS

    row = AnonymousRefusal.objects.get()
    assert (row.path, row.address, row.count) == ("/inconnu/", "203.0.113.7", 40)
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_reset_requests_are_all_counted(world):
    outcomes = race(lambda: passwords.within_limit("reset_email", "a@b.fr", 3))

    assert sorted(outcomes) == [False] * (THREADS - 3) + [True] * 3
    assert RateCounter.objects.get().count == THREADS
