"""Tests for workflow.calendars: working days and opening-hours arithmetic."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflow import calendars
from workflow.calendars import (
    CD_SUPPORT_HOURS,
    CNAF_SUPPORT_HOURS,
    OpeningHours,
    add_working_days,
    cd_opening_hours,
    cnaf_opening_hours,
    holidays_for,
    is_working_day,
    subdivision_for,
    working_days_between,
)

PARIS = ZoneInfo("Europe/Paris")
FULL_DAY = (time(0, 0), time(0, 0))
ALWAYS_OPEN = {day: [FULL_DAY] for day in range(7)}


def paris(*args: int) -> datetime:
    """Build an aware Europe/Paris datetime."""
    return datetime(*args, tzinfo=PARIS)


def days(first: date, last: date) -> list[date]:
    """List every day from first to last inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def reference_between(start: date, end: date, departement: str | None) -> int:
    """Count working days in (start, end] one day at a time."""
    if end < start:
        return -reference_between(end, start, departement)
    return sum(
        is_working_day(day, departement) for day in days(start + timedelta(days=1), end)
    )


def reference_add(start: date, n: int, departement: str | None) -> date:
    """Move n working days one day at a time."""
    step = timedelta(days=1 if n > 0 else -1)
    current, remaining = start, abs(n)
    while remaining:
        current += step
        remaining -= is_working_day(current, departement)
    return current


# --- holiday calendars -------------------------------------------------------------


def test_whit_monday_2027_is_a_national_holiday() -> None:
    assert date(2027, 5, 17) in holidays_for(None)
    assert not is_working_day(date(2027, 5, 17))


@pytest.mark.parametrize(
    ("departement", "subdivision"),
    [
        (None, None),
        ("01", None),
        ("23", None),
        ("75", None),
        ("2A", None),
        ("2B", None),
        ("95", None),
        ("57", "57"),
        ("67", "6AE"),
        ("68", "6AE"),
        ("971", "971"),
        ("972", "972"),
        ("973", "973"),
        ("974", "974"),
        ("976", "976"),
    ],
)
def test_departement_maps_to_its_holidays_subdivision(
    departement: str | None, subdivision: str | None
) -> None:
    assert subdivision_for(departement) == subdivision
    assert holidays_for(departement).subdiv == subdivision


@pytest.mark.parametrize(
    "code", ["20", "00", "96", "975", "977", "1", "2a", "6AE", "", "57 "]
)
def test_unknown_departement_is_rejected(code: str) -> None:
    with pytest.raises(ValueError, match=repr(code)):
        holidays_for(code)
    with pytest.raises(ValueError, match=repr(code)):
        is_working_day(date(2027, 1, 4), code)
    with pytest.raises(ValueError, match=repr(code)):
        OpeningHours(CD_SUPPORT_HOURS, departement=code)


def test_holidays_for_is_cached_and_expands_lazily() -> None:
    calendar = holidays_for("57")
    assert holidays_for("57") is calendar
    assert date(2091, 12, 26) in calendar
    assert date(1999, 3, 29) not in calendar
    # Départements without calendar of their own share the national one.
    assert holidays_for("23") is holidays_for(None)


def test_good_friday_is_a_holiday_in_moselle_only() -> None:
    good_friday = date(2027, 3, 26)
    assert not is_working_day(good_friday, "57")
    assert is_working_day(good_friday, "23")
    assert is_working_day(good_friday)


def test_saint_stephen_is_a_holiday_in_alsace_moselle_only() -> None:
    saint_stephen = date(2028, 12, 26)  # a Tuesday
    for departement in ("57", "67", "68"):
        assert not is_working_day(saint_stephen, departement)
    assert is_working_day(saint_stephen)
    assert is_working_day(saint_stephen, "75")


def test_abolition_of_slavery_is_a_holiday_in_reunion_only() -> None:
    abolition = date(2027, 12, 20)  # a Monday
    assert not is_working_day(abolition, "974")
    assert is_working_day(abolition)
    assert is_working_day(abolition, "971")


def test_each_overseas_departement_has_its_own_abolition_day() -> None:
    abolition_days = {
        "971": date(2027, 5, 27),
        "972": date(2027, 5, 22),
        "973": date(2027, 6, 10),
        "974": date(2027, 12, 20),
        "976": date(2027, 4, 27),
    }
    for departement, day in abolition_days.items():
        assert day in holidays_for(departement)
        assert day not in holidays_for(None)


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2027, 5, 15))
    assert not is_working_day(date(2027, 5, 16))
    assert is_working_day(date(2027, 5, 18))


def test_datetime_is_rejected_where_a_date_is_expected() -> None:
    moment = datetime(2027, 5, 18, 10, 0, tzinfo=PARIS)
    with pytest.raises(TypeError):
        is_working_day(moment)
    with pytest.raises(TypeError):
        add_working_days(moment, 1)
    with pytest.raises(TypeError):
        working_days_between(date(2027, 5, 18), moment)


# --- working-day arithmetic --------------------------------------------------------


def test_next_working_day_after_may_day_weekend() -> None:
    assert add_working_days(date(2027, 4, 30), 1) == date(2027, 5, 3)


def test_ascension_is_skipped() -> None:
    assert add_working_days(date(2027, 5, 5), 1) == date(2027, 5, 7)


def test_whit_monday_is_skipped() -> None:
    assert add_working_days(date(2027, 5, 14), 1) == date(2027, 5, 18)


def test_good_friday_is_skipped_in_moselle_only() -> None:
    assert add_working_days(date(2027, 3, 25), 1, "57") == date(2027, 3, 30)
    assert add_working_days(date(2027, 3, 25), 1, "23") == date(2027, 3, 26)


def test_adding_zero_working_days_returns_start_even_on_a_holiday() -> None:
    assert add_working_days(date(2027, 5, 15), 0) == date(2027, 5, 15)
    assert add_working_days(date(2027, 5, 17), 0) == date(2027, 5, 17)


def test_negative_working_days_move_backwards() -> None:
    assert add_working_days(date(2027, 5, 18), -1) == date(2027, 5, 14)
    assert add_working_days(date(2027, 5, 7), -1) == date(2027, 5, 5)
    assert add_working_days(date(2027, 5, 16), -1) == date(2027, 5, 14)
    assert add_working_days(date(2027, 3, 30), -1, "57") == date(2027, 3, 25)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    assert working_days_between(date(2027, 4, 30), date(2027, 5, 3)) == 1
    assert working_days_between(date(2027, 5, 3), date(2027, 4, 30)) == -1
    assert working_days_between(date(2027, 5, 3), date(2027, 5, 3)) == 0
    assert working_days_between(date(2027, 5, 15), date(2027, 5, 17)) == 0


def test_working_days_between_over_several_years_matches_a_day_by_day_count() -> None:
    start = date(2025, 12, 24)
    for departement in (None, "57", "67", "971", "974", "976"):
        for end in (date(2026, 1, 2), date(2027, 6, 10), date(2031, 3, 1)):
            expected = reference_between(start, end, departement)
            assert working_days_between(start, end, departement) == expected
            assert working_days_between(end, start, departement) == -expected
    # 2027: 261 weekdays, 7 national holidays on weekdays.
    assert working_days_between(date(2026, 12, 31), date(2027, 12, 31)) == 254


def test_working_days_are_computed_across_many_years_quickly() -> None:
    start = date(2000, 1, 1)
    end = add_working_days(start, 100_000, "57")
    assert working_days_between(start, end, "57") == 100_000
    # `end` is a working day: stepping back 99,999 days reaches the first one counted.
    assert add_working_days(end, -99_999, "57") == add_working_days(start, 1, "57")
    assert add_working_days(end, -100_000, "57") == date(1999, 12, 31)


def test_add_working_days_matches_a_day_by_day_walk() -> None:
    for departement in (None, "57", "971"):
        for start in days(date(2027, 3, 20), date(2027, 6, 1)):
            for n in (-12, -3, -1, 1, 2, 5, 13):
                assert add_working_days(start, n, departement) == reference_add(
                    start, n, departement
                )


def test_add_working_days_and_working_days_between_are_inverse() -> None:
    """For every start and n >= 0, between(s, add(s, n)) == n; n < 0 needs s working."""
    amounts = [*range(-25, 26), 100, 261, 1000]
    for departement in (None, "57", "974"):
        for start in days(date(2026, 12, 1), date(2028, 1, 31)):
            start_is_working = is_working_day(start, departement)
            for n in amounts:
                result = add_working_days(start, n, departement)
                between = working_days_between(start, result, departement)
                if n >= 0 or start_is_working:
                    assert between == n, (start, n, departement)
                if n > 0:
                    # Smallest such day: the day before still falls one short.
                    assert is_working_day(result, departement)
                    day_before = result - timedelta(days=1)
                    assert working_days_between(start, day_before, departement) == n - 1
                if n < 0:
                    assert is_working_day(result, departement)
                    # Exactly -n working days in [result, start).
                    assert (
                        reference_between(
                            result - timedelta(days=1),
                            start - timedelta(days=1),
                            departement,
                        )
                        == -n
                    )


# --- opening hours -----------------------------------------------------------------


def test_support_hours_match_the_contract() -> None:
    assert CNAF_SUPPORT_HOURS[0] == ((time(6, 0), time(20, 0)),)
    assert CNAF_SUPPORT_HOURS[4] == ((time(6, 0), time(20, 0)),)
    assert CNAF_SUPPORT_HOURS[5] == ((time(6, 0), time(15, 30)),)
    assert 6 not in CNAF_SUPPORT_HOURS
    assert CD_SUPPORT_HOURS[2] == ((time(9, 0), time(18, 0)),)
    assert set(CD_SUPPORT_HOURS) == {0, 1, 2, 3, 4}


def test_cnaf_saturday_afternoon_request_resumes_after_whit_monday() -> None:
    hours = cnaf_opening_hours()
    start = paris(2027, 5, 15, 15, 20)
    result = hours.add(start, timedelta(minutes=15))
    assert result == paris(2027, 5, 18, 6, 5)
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(hours=2)
    assert hours.open_time_between(start, result) == timedelta(minutes=15)


def test_add_may_end_exactly_at_closing_time() -> None:
    hours = cnaf_opening_hours()
    result = hours.add(paris(2027, 5, 15, 15, 20), timedelta(minutes=10))
    assert result == paris(2027, 5, 15, 15, 30)


def test_add_zero_returns_start_when_open_and_next_opening_when_closed() -> None:
    hours = cnaf_opening_hours()
    assert hours.add(paris(2027, 5, 18, 10, 0), timedelta(0)) == paris(
        2027, 5, 18, 10, 0
    )
    assert hours.add(paris(2027, 5, 15, 15, 30), timedelta(0)) == paris(
        2027, 5, 18, 6, 0
    )


def test_add_counts_from_next_opening_when_closed() -> None:
    hours = cnaf_opening_hours()
    result = hours.add(paris(2027, 5, 16, 12, 0), timedelta(hours=1))
    assert result == paris(2027, 5, 18, 7, 0)


def test_add_returns_the_calendars_time_zone() -> None:
    hours = cnaf_opening_hours()
    start = datetime(2027, 5, 15, 13, 20, tzinfo=UTC)  # 15:20 in Paris
    result = hours.add(start, timedelta(minutes=15))
    assert result == paris(2027, 5, 18, 6, 5)
    assert result.tzinfo == PARIS


def test_add_rejects_negative_duration() -> None:
    with pytest.raises(ValueError, match="negative"):
        cnaf_opening_hours().add(paris(2027, 5, 18, 10, 0), timedelta(minutes=-1))


def test_naive_datetimes_are_rejected() -> None:
    hours = cnaf_opening_hours()
    naive = datetime(2027, 5, 18, 10, 0)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.add(naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.open_time_between(naive, paris(2027, 5, 19, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.open_time_between(paris(2027, 5, 17, 10, 0), naive)


def test_is_open_includes_opening_and_excludes_closing() -> None:
    hours = cnaf_opening_hours()
    assert hours.is_open(paris(2027, 5, 15, 6, 0))
    assert hours.is_open(paris(2027, 5, 15, 15, 29, 59))
    assert not hours.is_open(paris(2027, 5, 15, 15, 30))
    assert not hours.is_open(paris(2027, 5, 15, 5, 59))
    assert not hours.is_open(paris(2027, 5, 16, 12, 0))


def test_opening_hours_are_closed_on_public_holidays() -> None:
    assert not cnaf_opening_hours().is_open(paris(2027, 5, 17, 10, 0))
    assert not cd_opening_hours("57").is_open(paris(2027, 3, 26, 10, 0))
    assert cd_opening_hours("23").is_open(paris(2027, 3, 26, 10, 0))
    assert not cd_opening_hours("67").is_open(paris(2028, 12, 26, 10, 0))
    assert cd_opening_hours(None).is_open(paris(2028, 12, 26, 10, 0))


def test_overseas_opening_hours_use_local_time_and_holidays() -> None:
    reunion = ZoneInfo("Indian/Reunion")
    hours = OpeningHours(CD_SUPPORT_HOURS, departement="974", tz="Indian/Reunion")
    assert hours.is_open(datetime(2027, 12, 17, 9, 30, tzinfo=reunion))
    assert not hours.is_open(datetime(2027, 12, 20, 9, 30, tzinfo=reunion))
    # 17:30 on Friday + 1 h: 30 min on Friday, then Tuesday (Monday is 20 December).
    result = hours.add(
        datetime(2027, 12, 17, 17, 30, tzinfo=reunion), timedelta(hours=1)
    )
    assert result == datetime(2027, 12, 21, 9, 30, tzinfo=reunion)
    assert result.tzinfo == reunion


def test_open_time_between_is_negative_when_reversed() -> None:
    hours = cnaf_opening_hours()
    a, b = paris(2027, 5, 15, 15, 20), paris(2027, 5, 18, 6, 5)
    assert hours.open_time_between(b, a) == -timedelta(minutes=15)
    assert hours.open_time_between(a, a) == timedelta(0)


def test_open_time_between_over_a_week_of_cd_hours() -> None:
    hours = cd_opening_hours(None)
    # Monday 3 May to Monday 10 May 2027: Ascension Thursday (6 May) is closed.
    elapsed = hours.open_time_between(paris(2027, 5, 3, 0, 0), paris(2027, 5, 10, 0, 0))
    assert elapsed == timedelta(hours=4 * 9)


def test_full_day_lasts_23_hours_on_spring_forward_sunday() -> None:
    hours = OpeningHours({6: [FULL_DAY]})
    sunday, monday = paris(2027, 3, 28, 0, 0), paris(2027, 3, 29, 0, 0)
    assert hours.open_time_between(sunday, monday) == timedelta(hours=23)
    assert hours.add(sunday, timedelta(hours=23)) == monday
    # 00:00 CET + 2 h of elapsed time is 03:00 CEST (02:00-03:00 never happens).
    result = hours.add(sunday, timedelta(hours=2))
    assert result == paris(2027, 3, 28, 3, 0)
    assert result.utcoffset() == timedelta(hours=2)
    assert not hours.is_open(monday)


def test_full_day_lasts_25_hours_on_fall_back_sunday() -> None:
    hours = OpeningHours({6: [FULL_DAY]})
    sunday, monday = paris(2027, 10, 31, 0, 0), paris(2027, 11, 1, 0, 0)
    assert hours.open_time_between(sunday, monday) == timedelta(hours=25)
    assert hours.add(sunday, timedelta(hours=25)) == monday
    # 00:00 CEST + 3 h of elapsed time is the second 02:00, in CET.
    result = hours.add(sunday, timedelta(hours=3))
    # Compare in UTC: PEP 495 makes fold=1 times unequal to any other zone's times.
    assert result.astimezone(UTC) == datetime(2027, 10, 31, 1, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(hours=1)
    assert (result.hour, result.minute) == (2, 0)


def test_cnaf_hours_across_the_spring_change() -> None:
    hours = cnaf_opening_hours()
    start = paris(2027, 3, 27, 15, 0)  # Saturday, CET
    result = hours.add(start, timedelta(hours=1))
    # Easter Monday (29 March) follows the change: Tuesday, CEST.
    assert result == paris(2027, 3, 30, 6, 30)
    assert result.utcoffset() == timedelta(hours=2)
    assert hours.open_time_between(start, result) == timedelta(hours=1)


def test_cnaf_hours_across_the_autumn_change() -> None:
    hours = cnaf_opening_hours()
    start = paris(2027, 10, 30, 15, 0)  # Saturday, CEST
    result = hours.add(start, timedelta(hours=1))
    assert result == paris(2027, 11, 2, 6, 30)  # Monday 1 November is All Saints
    assert result.utcoffset() == timedelta(hours=1)
    assert hours.open_time_between(start, result) == timedelta(hours=1)


def test_open_time_between_matches_sampling_across_dst_and_holidays() -> None:
    step = timedelta(minutes=5)
    ranges = [
        (paris(2027, 3, 25, 12, 0), paris(2027, 4, 1, 12, 0)),  # spring change
        (paris(2027, 10, 28, 12, 0), paris(2027, 11, 4, 12, 0)),  # autumn change
        (paris(2027, 5, 12, 0, 0), paris(2027, 5, 19, 0, 0)),  # Whit Monday
    ]
    for hours in (cnaf_opening_hours(), OpeningHours(ALWAYS_OPEN, departement="57")):
        for a, b in ranges:
            moment, sampled = a.astimezone(UTC), timedelta(0)
            while moment < b:
                sampled += step if hours.is_open(moment) else timedelta(0)
                moment += step
            assert hours.open_time_between(a, b) == sampled


def test_add_and_open_time_between_are_inverse() -> None:
    hours = cnaf_opening_hours()
    start = paris(2027, 3, 25, 5, 0)
    durations = [timedelta(0), timedelta(minutes=1), timedelta(hours=3, minutes=7)]
    durations += [timedelta(hours=14), timedelta(hours=40)]
    for i in range(0, 24 * 12 * 10, 7):  # every 35 minutes over ten days
        moment = start + timedelta(minutes=5 * i)
        for duration in durations:
            result = hours.add(moment, duration)
            assert result >= moment
            assert hours.open_time_between(moment, result) == duration
            if duration:
                # The end instant is inside a window or at its closing.
                assert hours.is_open(result - timedelta(microseconds=1))


def test_window_closing_at_midnight_runs_into_the_next_day() -> None:
    hours = OpeningHours(
        {0: [(time(22, 0), time(0, 0))], 1: [(time(0, 0), time(2, 0))]}
    )
    monday = paris(2027, 6, 7, 23, 0)
    assert hours.add(monday, timedelta(hours=2)) == paris(2027, 6, 8, 1, 0)
    assert hours.open_time_between(
        paris(2027, 6, 7, 21, 0), paris(2027, 6, 8, 3, 0)
    ) == (timedelta(hours=4))
    assert hours.is_open(paris(2027, 6, 7, 23, 59))
    assert hours.is_open(paris(2027, 6, 8, 0, 0))
    assert not hours.is_open(paris(2027, 6, 8, 2, 0))


def test_overlapping_intervals_are_merged() -> None:
    hours = OpeningHours(
        {0: [(time(11, 0), time(14, 0)), (time(9, 0), time(12, 0))], 1: []}
    )
    assert hours.weekly == {0: ((time(9, 0), time(14, 0)),)}
    elapsed = hours.open_time_between(paris(2027, 6, 7, 0, 0), paris(2027, 6, 8, 0, 0))
    assert elapsed == timedelta(hours=5)


def test_empty_schedule_is_rejected() -> None:
    with pytest.raises(ValueError, match="no open interval"):
        OpeningHours({})
    with pytest.raises(ValueError, match="no open interval"):
        OpeningHours({day: [] for day in range(7)})


@pytest.mark.parametrize(
    "weekly",
    [
        {7: [(time(9, 0), time(18, 0))]},
        {-1: [(time(9, 0), time(18, 0))]},
        {0: [(time(18, 0), time(9, 0))]},
        {0: [(time(9, 0), time(9, 0))]},
        {0: [(time(22, 0), time(2, 0))]},
        {0: [(time(9, 0, tzinfo=UTC), time(18, 0))]},
        {0: (time(9, 0), time(18, 0))},
        {0: [(time(9, 0), "18:00")]},
    ],
)
def test_invalid_schedules_are_rejected(weekly: dict) -> None:
    with pytest.raises(ValueError):
        OpeningHours(weekly)


def test_search_for_an_opening_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendars, "_MAX_CLOSED_DAYS", 3)
    hours = OpeningHours({6: [(time(9, 0), time(10, 0))]})
    with pytest.raises(ValueError, match="No opening"):
        hours.add(paris(2027, 6, 7, 12, 0), timedelta(minutes=1))
