"""An incident's service clocks (incidents/clocks.py): the contract's targets
counted in the GSI's support hours (Monday–Friday 6:00–20:00, Saturday
6:00–15:30, national public holidays off, Europe/Paris) or around the clock."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contacts.models import Organisation, SupportHours
from incidents import clocks
from incidents.clocks import (
    SERVICE_BACK,
    TAKE_IN,
    Clock,
    client_notification,
    policy_in_force,
    registration_targets,
)
from workflow.calendars import CNAF_SUPPORT_HOURS

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def annexe_1() -> dict:
    return policy_in_force(weekly=CNAF_SUPPORT_HOURS)


def technical(registered_at: datetime, policy=None) -> dict:
    return registration_targets(policy or annexe_1(), "technique", registered_at)


def test_the_issue_example_friday_evening_runs_over_to_saturday_morning():
    # 10 minutes on Friday before 20:00, the rest from Saturday 6:00.
    due = technical(paris(2026, 12, 4, 19, 50))
    assert due["take_in_due"] == paris(2026, 12, 5, 6, 5)
    assert due["service_back_due"] == paris(2026, 12, 5, 13, 50)


def test_during_opening_hours_the_targets_are_15_minutes_and_8_hours_later():
    due = technical(paris(2026, 12, 8, 9, 0))  # a Tuesday
    assert due["take_in_due"] == paris(2026, 12, 8, 9, 15)
    assert due["service_back_due"] == paris(2026, 12, 8, 17, 0)


def test_saturday_closes_at_half_past_three_and_sunday_is_closed():
    due = technical(paris(2026, 12, 5, 15, 20))
    # 10 minutes on Saturday, none on Sunday, then Monday from 6:00.
    assert due["take_in_due"] == paris(2026, 12, 7, 6, 5)
    assert due["service_back_due"] == paris(2026, 12, 7, 13, 50)


def test_a_registration_outside_opening_hours_starts_at_the_next_opening():
    sunday = technical(paris(2026, 12, 6, 10, 0))
    assert sunday["take_in_due"] == paris(2026, 12, 7, 6, 15)
    assert sunday["service_back_due"] == paris(2026, 12, 7, 14, 0)
    night = technical(paris(2026, 12, 8, 2, 30))
    assert night["take_in_due"] == paris(2026, 12, 8, 6, 15)


def test_a_public_holiday_is_closed_all_day():
    # Thursday 24 December at 19:00: one hour, Christmas closed, Saturday 6:00 + 7 h.
    due = technical(paris(2026, 12, 24, 19, 0))
    assert due["take_in_due"] == paris(2026, 12, 24, 19, 15)
    assert due["service_back_due"] == paris(2026, 12, 26, 13, 0)
    # 1 May 2027 is a Saturday: from Friday 30 April 19:55 to Monday 3 May.
    may = technical(paris(2027, 4, 30, 19, 55))
    assert may["take_in_due"] == paris(2027, 5, 3, 6, 10)


def test_the_spring_daylight_saving_weekend_counts_real_hours():
    # Saturday 27 March 2027 15:00 (UTC+1): 30 minutes; Sunday 28 March the clocks
    # go to UTC+2, and Monday 29 March is Easter Monday: Tuesday 30 March 6:00
    # (UTC+2) + 7 h 30.
    due = technical(paris(2027, 3, 27, 15, 0))
    assert due["service_back_due"] == paris(2027, 3, 30, 13, 30)
    assert due["service_back_due"].astimezone(UTC) == datetime(
        2027, 3, 30, 11, 30, tzinfo=UTC
    )
    # Friday 26 March 19:50 (UTC+1): the last 5 minutes on Saturday 6:05.
    assert technical(paris(2027, 3, 26, 19, 50))["take_in_due"] == paris(
        2027, 3, 27, 6, 5
    )


def test_around_the_clock_across_the_autumn_change_counts_the_repeated_hour(
    settings,
):
    settings.TANDEM_INCIDENT_CLOCK_SERVICE_BACK = "continu"
    # Saturday 24 October 2026 22:00 (UTC+2) + 8 h: the night of the change to
    # UTC+1 has a 25th hour, so the local clock shows 05:00, not 06:00.
    due = technical(paris(2026, 10, 24, 22, 0), policy_in_force(CNAF_SUPPORT_HOURS))
    assert due["service_back_due"] == datetime(2026, 10, 25, 5, 0, tzinfo=PARIS)
    assert due["service_back_due"].utcoffset() == timedelta(hours=1)
    start = paris(2026, 10, 24, 22, 0).astimezone(UTC)
    assert due["service_back_due"].astimezone(UTC) - start == timedelta(hours=8)
    # The other target keeps the support hours: Monday 26 October, 6:15.
    assert due["take_in_due"] == paris(2026, 10, 26, 6, 15)


def test_each_target_has_its_own_clock_setting(settings):
    settings.TANDEM_INCIDENT_CLOCK_TAKE_IN = "continu"
    policy = policy_in_force(CNAF_SUPPORT_HOURS)
    assert policy["targets"][TAKE_IN]["clock"] == "continu"
    assert policy["targets"][SERVICE_BACK]["clock"] == "plages"
    due = technical(paris(2026, 12, 4, 19, 50), policy)
    assert due["take_in_due"] == paris(2026, 12, 4, 20, 5)
    assert due["service_back_due"] == paris(2026, 12, 5, 13, 50)
    settings.TANDEM_INCIDENT_CLOCK_TAKE_IN = "parfois"
    with pytest.raises(ValueError, match="TANDEM_INCIDENT_CLOCK_TAKE_IN"):
        policy_in_force(CNAF_SUPPORT_HOURS)


def test_a_functional_incident_gets_no_deadline_at_registration():
    # Taken in: no target in the contract; service back: the next corrective
    # version, known when the incident is linked to the release of its fix.
    due = registration_targets(annexe_1(), "fonctionnel", paris(2026, 12, 8, 9, 0))
    assert due == {"take_in_due": None, "service_back_due": None}


@pytest.mark.django_db
def test_the_policy_is_read_from_the_supplier_support_hours_and_kept(world):
    supplier = Organisation.objects.get(kind=Organisation.Kind.SUPPLIER)
    SupportHours.objects.filter(organisation=supplier).delete()
    assert policy_in_force()["support_hours"] == annexe_1()["support_hours"]
    kept = policy_in_force()
    # The administrator shortens the GSI's hours: weekdays 8:00–18:00 only.
    for day in range(5):
        SupportHours.objects.create(
            organisation=supplier, weekday=day, opens=time(8), closes=time(18)
        )
    now = policy_in_force()
    assert now["support_hours"] == {str(d): [["08:00", "18:00"]] for d in range(5)}
    friday = paris(2026, 12, 4, 17, 50)
    assert technical(friday, now)["take_in_due"] == paris(2026, 12, 7, 8, 5)
    # An incident registered before keeps its own policy, hence its deadline.
    assert technical(friday, kept)["take_in_due"] == paris(2026, 12, 4, 18, 5)
    assert Clock(kept).due(TAKE_IN, friday) == paris(2026, 12, 4, 18, 5)


def test_the_share_of_a_target_run_counts_only_open_time():
    clock = Clock(annexe_1())
    start = paris(2026, 12, 4, 19, 50)
    due = clock.due(TAKE_IN, start)
    # 10 of 15 minutes at Friday's closing; the night adds nothing.
    assert clock.share(TAKE_IN, start, due, paris(2026, 12, 4, 20, 0)) == pytest.approx(
        2 / 3
    )
    assert clock.share(TAKE_IN, start, due, paris(2026, 12, 5, 5, 0)) == pytest.approx(
        2 / 3
    )
    assert clock.share(TAKE_IN, start, due, paris(2026, 12, 5, 6, 2)) == pytest.approx(
        0.8
    )
    assert clock.share(TAKE_IN, start, due, due) == pytest.approx(1.0)
    assert clock.share(TAKE_IN, start, due, paris(2026, 12, 5, 7, 0)) > 1


def test_the_client_notification_delay_runs_from_detection_or_qualification():
    policy = annexe_1()
    late = client_notification(
        policy, "technique", paris(2026, 12, 8, 10, 0), paris(2026, 12, 8, 10, 20)
    )
    assert (late.elapsed, late.limit, late.on_time) == (
        timedelta(minutes=20),
        timedelta(minutes=15),
        False,
    )
    # Around the clock by default: a detection at night counts from the night.
    night = client_notification(
        policy, "technique", paris(2026, 12, 8, 1, 0), paris(2026, 12, 8, 1, 10)
    )
    assert night.on_time
    functional = client_notification(
        policy, "fonctionnel", paris(2026, 12, 7, 9, 0), paris(2026, 12, 8, 8, 0)
    )
    assert (functional.elapsed, functional.on_time) == (timedelta(hours=23), True)
    assert client_notification(policy, "technique", None, paris(2026, 12, 8)) is None


def test_kept_opening_hours_are_built_once_per_snapshot():
    clocks._HOURS.clear()
    policy = annexe_1()
    assert Clock(policy).hours is Clock(dict(policy)).hours
    assert len(clocks._HOURS) == 1


def test_the_client_delay_across_the_autumn_change_is_real_time():
    # Detected at 02:50 before the change (UTC+2), registered at 02:05 after it
    # (UTC+1): 15 minutes, though the wall clock went back.
    detected = datetime(2026, 10, 25, 2, 50, tzinfo=PARIS)
    registered = datetime(2026, 10, 25, 2, 5, fold=1, tzinfo=PARIS)
    delay = client_notification(annexe_1(), "technique", detected, registered)
    assert (delay.elapsed, delay.on_time) == (timedelta(minutes=15), True)
