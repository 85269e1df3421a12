"""Concurrent actions on one incident, on PostgreSQL: exactly one wins, and
concurrent registrations never share a dossier number."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

from contacts.models import Organisation
from incidents import services
from incidents.models import Incident
from tests.integration.conftest import REPETITIONS, THREADS, race
from workflow.transitions import ActionRefused

pytestmark = pytest.mark.integration
PARIS = ZoneInfo("Europe/Paris")


def _register(by):
    return services.incident_register(
        by=by,
        organisation=Organisation.objects.get(code="23"),
        kind=Incident.Kind.TECHNICAL,
        gravity=Incident.Gravity.MAJOR,
        reporter_name="Karim Haddad",
        reporter_phone="05 55 00 00 00",
        reporter_email="karim.haddad@cd23.invalid",
        domain="Flux DSG",
        description="Course",
        detected_at=datetime(2026, 12, 4, 9, 0, tzinfo=PARIS),
        now=datetime(2026, 12, 4, 9, 5, tzinfo=PARIS),
    )


@pytest.mark.django_db(transaction=True)
def test_two_gsi_agents_taking_in_one_incident_one_wins(world):
    users = get_user_model().objects
    declarer, gsi = users.get(username="cd23.incidents"), users.get(username="cnaf.gsi")
    for _ in range(REPETITIONS):
        incident = _register(declarer)
        outcomes = race(lambda pk=incident.pk: services.incident_take_in(pk=pk, by=gsi))
        winners = [o for o in outcomes if isinstance(o, Incident)]
        losers = [o for o in outcomes if isinstance(o, ActionRefused)]
        assert (len(winners), len(losers)) == (1, THREADS - 1), outcomes
        assert all("Pris en compte" in str(o) for o in losers)


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_distinct_numbers(world):
    declarer = get_user_model().objects.get(username="cd23.incidents")
    outcomes = race(lambda: _register(declarer))
    assert all(isinstance(o, Incident) for o in outcomes), outcomes
    numbers = sorted(o.number for o in outcomes)
    assert numbers == [f"INC-2026-{n:05d}" for n in range(1, THREADS + 1)]
