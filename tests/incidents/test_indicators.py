"""The incident indicators (incidents/indicators.py) and what feeds them:
interruptions flagged, recurring incidents grouped."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from contacts.models import Organisation
from incidents import services
from incidents.indicators import indicators, semester_of
from incidents.models import Incident

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def user(username):
    return get_user_model().objects.get(username=username)


def at(*args):
    return datetime(*args, tzinfo=PARIS)


def incident(code="23", kind=Incident.Kind.TECHNICAL, registered=None, **fields):
    registered = registered or at(2026, 12, 8, 9, 0)  # a Tuesday
    started = fields.pop("started", registered - timedelta(minutes=5))
    return services.incident_register(
        by=user(f"cd{code}.incidents"),
        organisation=Organisation.objects.get(code=code),
        now=registered,
        kind=kind,
        gravity=Incident.Gravity.MAJOR,
        reporter_name="Déclarant",
        reporter_phone="01 02 03 04 05",
        reporter_email="declarant@cd.invalid",
        domain="Flux",
        description="Panne",
        detected_at=started,
        qualified_at=started,
    )


def take_in(item, when):
    return services.incident_take_in(pk=item.pk, by=user("cnaf.gsi"), now=when)


def restore(item, when):
    return services.incident_restore(
        pk=item.pk, by=user("cnaf.gsi"), resolution="x", now=when
    )


def test_the_shares_count_on_time_late_and_pending_from_each_incident_clock(world):
    nine = at(2026, 12, 8, 9, 0)
    fast = incident(registered=nine)
    take_in(fast, nine + timedelta(minutes=10))
    restore(fast, nine + timedelta(hours=7))
    slow = incident(registered=nine, started=nine - timedelta(minutes=40))
    take_in(slow, nine + timedelta(minutes=20))
    restore(slow, nine + timedelta(hours=9))
    waiting = incident(registered=at(2026, 12, 8, 16, 0))
    functional = incident(kind=Incident.Kind.FUNCTIONAL, registered=nine)
    now = at(2026, 12, 8, 17, 0)
    figures = indicators(
        Incident.objects.all(), date(2026, 12, 1), date(2026, 12, 31), now=now
    )
    overall = figures.overall
    assert sorted(overall.registered) == sorted(
        [fast.pk, slow.pk, waiting.pk, functional.pk]
    )
    # Taken in: the waiting one was due at 16:15 and is late at 17:00.
    assert (overall.take_in.on_time, sorted(overall.take_in.late)) == (
        [fast.pk],
        sorted([slow.pk, waiting.pk]),
    )
    # Back in service: the waiting one is due the next morning: pending.
    assert overall.service_back.on_time == [fast.pk]
    assert overall.service_back.late == [slow.pk]
    assert overall.service_back.pending == [waiting.pk]
    assert overall.service_back.rate == 0.5
    assert overall.service_back_met is False
    # The functional incident has no target of the supplier's yet.
    assert figures.by_kind["fonctionnel"].registered == [functional.pk]
    assert figures.by_kind["fonctionnel"].take_in.counted == 0
    # The clients' notification: 40 minutes after detection is late.
    assert slow.pk in overall.notification.late
    assert fast.pk in overall.notification.on_time
    assert list(figures.by_month) == [(2026, 12)]


def test_a_client_scoped_queryset_gives_its_own_figures_only(world):
    mine, theirs = incident("23"), incident("57")
    figures = indicators(
        Incident.objects.filter(organisation__code="23"),
        date(2026, 12, 1),
        date(2026, 12, 31),
    )
    assert figures.overall.registered == [mine.pk]
    assert theirs.pk not in figures.overall.take_in.late


def test_the_period_is_inclusive_of_its_last_day_in_paris_time(world):
    last_evening = incident(registered=at(2026, 12, 31, 23, 30))
    next_year = incident(registered=at(2027, 1, 1, 0, 30))
    figures = indicators(Incident.objects.all(), date(2026, 12, 1), date(2026, 12, 31))
    assert figures.overall.registered == [last_evening.pk]
    assert next_year.pk not in figures.overall.registered


def test_interruptions_count_per_semester_and_client_against_two(world):
    gsi = user("cnaf.gsi")
    starts = [at(2026, 7, 2, 10), at(2026, 9, 1, 10), at(2026, 12, 1, 10)]
    for start in starts:
        item = incident(registered=start)
        services.incident_flag_interruption(
            pk=item.pk, by=gsi, start=start, end=start + timedelta(hours=2)
        )
    other = incident("57", registered=at(2026, 8, 1, 10))
    services.incident_flag_interruption(
        pk=other.pk, by=user("cnaf.support2"), start=at(2026, 8, 1, 10)
    )
    figures = indicators(Incident.objects.all(), date(2026, 7, 1), date(2026, 12, 31))
    assert {
        code: len(ids) for code, ids in figures.interruptions[(2026, 2)].items()
    } == {
        "23": 3,
        "57": 1,
    }
    assert figures.semesters_over() == [((2026, 2), "23", 3)]
    assert semester_of(at(2026, 6, 30, 23, 59)) == (2026, 1)


def test_an_interruption_is_flagged_by_the_support_with_times_in_order(world):
    item = incident()
    start = at(2026, 12, 1, 9, 0)
    with pytest.raises(PermissionDenied):
        services.incident_flag_interruption(
            pk=item.pk, by=user("cd23.incidents"), start=start
        )
    with pytest.raises(ValidationError) as refused:
        services.incident_flag_interruption(
            pk=item.pk, by=user("cnaf.gsi"), start=start, end=start - timedelta(1)
        )
    assert "interruption_end" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.incident_flag_interruption(pk=item.pk, by=user("cnaf.gsi"), start=None)
    with pytest.raises(ValidationError, match="futur"):
        services.incident_flag_interruption(
            pk=item.pk, by=user("cnaf.gsi"), start=start, now=start - timedelta(1)
        )
    assert not Incident.objects.get(pk=item.pk).interruption


def test_recurring_incidents_form_one_group_named_by_the_first(world):
    first, second, third = incident(), incident(), incident()
    gsi = user("cnaf.gsi")
    services.incident_mark_recurring(pk=second.pk, by=gsi, of_number=first.number)
    # Linked to a member of the group, it joins the group's first incident.
    services.incident_mark_recurring(
        pk=third.pk, by=gsi, of_number=second.number.lower()
    )
    assert set(first.recurrences.values_list("pk", flat=True)) == {
        second.pk,
        third.pk,
    }
    for number in (first.number, "INC-2099-99999", "n'importe quoi"):
        with pytest.raises(ValidationError):
            services.incident_mark_recurring(pk=first.pk, by=gsi, of_number=number)
    with pytest.raises(PermissionDenied):
        services.incident_mark_recurring(
            pk=third.pk, by=user("cd23.dsi"), of_number=first.number
        )
