"""Working days and opening-hours arithmetic on French public-holiday calendars."""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from contacts.reference import CD_SUPPORT_HOURS, CNAF_SUPPORT_HOURS
from contacts.reference import DEPARTEMENTS as DEPARTEMENT_NAMES

__all__ = [
    "CD_SUPPORT_HOURS",
    "CNAF_SUPPORT_HOURS",
    "DEPARTEMENTS",
    "OpeningHours",
    "WeeklySchedule",
    "add_working_days",
    "cd_opening_hours",
    "cnaf_opening_hours",
    "holidays_for",
    "is_working_day",
    "opening_hours_of",
    "subdivision_for",
    "working_days_between",
]

WeeklySchedule = Mapping[int, Sequence[tuple[time, time]]]

DEPARTEMENTS: frozenset[str] = frozenset(DEPARTEMENT_NAMES)

# Only these codes have a calendar of their own in `holidays.France`; every other
# metropolitan département follows the national calendar (subdivision None).
_SUBDIVISIONS: Mapping[str, str] = MappingProxyType(
    {
        "57": "57",  # Moselle
        "67": "6AE",  # Bas-Rhin: the package groups Alsace as "6AE"
        "68": "6AE",  # Haut-Rhin
        "971": "971",  # Guadeloupe
        "972": "972",  # Martinique
        "973": "973",  # Guyane
        "974": "974",  # La Réunion
        "976": "976",  # Mayotte
    }
)

# Searching further than this for an opening means the schedule can never open.
_MAX_CLOSED_DAYS = 400


def subdivision_for(departement: str | None) -> str | None:
    """Return the `holidays.France` subdivision of a département (None: national)."""
    if departement is None:
        return None
    if departement not in DEPARTEMENTS:
        raise ValueError(f"Unknown département code: {departement!r}")
    return _SUBDIVISIONS.get(departement)


@functools.cache
def _calendar(subdivision: str | None) -> holidays.HolidayBase:
    """Return the shared, lazily expanding calendar of a France subdivision."""
    return holidays.France(subdiv=subdivision)


@functools.cache
def holidays_for(departement: str | None) -> holidays.HolidayBase:
    """Return a département's public-holiday calendar (all years, lazily expanded)."""
    # Shared between callers (and between départements with the same subdivision):
    # treat it as read-only. The arithmetic below does not rely on it, because a
    # lazily expanding dict is not safe to populate from several threads at once.
    return _calendar(subdivision_for(departement))


@functools.cache
def _year_holidays(subdivision: str | None, year: int) -> frozenset[date]:
    """Return the public holidays of one year."""
    # A fresh single-year instance: immutable result, no shared lazy state.
    calendar = holidays.France(subdiv=subdivision, years=year)
    return frozenset(day for day in calendar if day.year == year)


@functools.cache
def _weekday_holidays(subdivision: str | None, year: int) -> tuple[date, ...]:
    """Return the sorted holidays of one year that fall on Monday-Friday."""
    return tuple(
        sorted(day for day in _year_holidays(subdivision, year) if day.weekday() < 5)
    )


def _is_holiday(subdivision: str | None, day: date) -> bool:
    """Tell whether a day is a public holiday."""
    return day in _year_holidays(subdivision, day.year)


def _count_weekday_holidays(subdivision: str | None, first: date, last: date) -> int:
    """Count Monday-Friday holidays in [first, last] (0 if the range is empty)."""
    if first > last:
        return 0
    total = 0
    for year in range(first.year, last.year + 1):
        holidays_of_year = _weekday_holidays(subdivision, year)
        low = bisect.bisect_left(holidays_of_year, first) if year == first.year else 0
        high = (
            bisect.bisect_right(holidays_of_year, last)
            if year == last.year
            else len(holidays_of_year)
        )
        total += high - low
    return total


def _weekdays_up_to(day: date) -> int:
    """Count Monday-Friday days from 0001-01-01 (a Monday) to `day` inclusive."""
    weeks, extra = divmod(day.toordinal(), 7)
    return 5 * weeks + min(extra, 5)


def _nth_weekday(rank: int) -> date:
    """Return the `rank`-th Monday-Friday day counted from 0001-01-01 (rank 1)."""
    weeks, extra = divmod(rank - 1, 5)
    return date.fromordinal(7 * weeks + extra + 1)


def _check_date(day: date) -> None:
    """Reject datetimes, which would silently lose their time and time zone."""
    if isinstance(day, datetime):
        raise TypeError(f"Expected a date, not a datetime: {day!r}")


def is_working_day(day: date, departement: str | None = None) -> bool:
    """Tell whether a day is Monday-Friday and not a public holiday there."""
    _check_date(day)
    subdivision = subdivision_for(departement)
    return day.weekday() < 5 and not _is_holiday(subdivision, day)


def add_working_days(start: date, n: int, departement: str | None = None) -> date:
    """Return the n-th working day after `start` (before it if n < 0; start if n == 0).

    For n > 0 the result is the smallest d with working_days_between(start, d) == n;
    for n < 0 it is the largest d < start with exactly -n working days in [d, start).
    Either way (n != 0) the result is a working day; `start` itself need not be.
    """
    _check_date(start)
    subdivision = subdivision_for(departement)
    if n == 0:
        return start
    # Jump over weekends arithmetically, then again over the holidays the jump
    # crossed, until a jump crosses none: a few jumps instead of a walk per day.
    current, remaining = start, n
    if n > 0:
        while remaining:
            target = _nth_weekday(_weekdays_up_to(current) + remaining)
            remaining = _count_weekday_holidays(
                subdivision, current + timedelta(days=1), target
            )
            current = target
    else:
        while remaining:
            before = current - timedelta(days=1)
            target = _nth_weekday(_weekdays_up_to(before) + remaining + 1)
            remaining = -_count_weekday_holidays(subdivision, target, before)
            current = target
    return current


def working_days_between(start: date, end: date, departement: str | None = None) -> int:
    """Count working days d with start < d <= end (negated when end < start).

    Guarantees: working_days_between(s, add_working_days(s, n, dep), dep) == n for
    every s and every n >= 0, and for n < 0 whenever s is itself a working day;
    working_days_between(a, b) == -working_days_between(b, a).
    """
    _check_date(start)
    _check_date(end)
    subdivision = subdivision_for(departement)
    if end < start:
        return -working_days_between(end, start, departement)
    weekdays = _weekdays_up_to(end) - _weekdays_up_to(start)
    return weekdays - _count_weekday_holidays(
        subdivision, start + timedelta(days=1), end
    )


_MIDNIGHT = time(0, 0)


def _normalise_weekly(
    weekly: WeeklySchedule,
) -> tuple[tuple[tuple[time, time], ...], ...]:
    """Validate a weekly schedule; return 7 sorted, merged interval tuples."""
    days: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for weekday, intervals in weekly.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(
                f"Weekday must be an int from 0 (Monday) to 6: {weekday!r}"
            )
        for interval in intervals:
            try:
                opening, closing = interval
            except (TypeError, ValueError):
                raise ValueError(
                    f"Expected (open, close) pairs for weekday {weekday}: {interval!r}"
                ) from None
            for moment in (opening, closing):
                if not isinstance(moment, time) or moment.tzinfo is not None:
                    raise ValueError(f"Opening hours must be naive times: {interval!r}")
            # time(0, 0) as a closing time stands for the midnight ending the day.
            if closing != _MIDNIGHT and closing <= opening:
                raise ValueError(
                    f"Interval must close after it opens (split overnight intervals "
                    f"across two days; use time(0, 0) to close at midnight): "
                    f"{interval!r}"
                )
            days[weekday].append((opening, closing))
    normalised = []
    for intervals in days:
        merged: list[tuple[time, time]] = []
        # Sorting by (opening, closing as "24:00") lets overlapping intervals merge.
        for opening, closing in sorted(intervals, key=lambda i: (i[0], _rank(i[1]))):
            if merged and opening <= _end_rank(merged[-1][1]):
                if _rank(closing) > _rank(merged[-1][1]):
                    merged[-1] = (merged[-1][0], closing)
            else:
                merged.append((opening, closing))
        normalised.append(tuple(merged))
    if not any(normalised):
        raise ValueError("Opening hours have no open interval at all")
    return tuple(normalised)


def _rank(closing: time) -> tuple[int, time]:
    """Sort key for a closing time, placing time(0, 0) (midnight) after all others."""
    return (1, closing) if closing == _MIDNIGHT else (0, closing)


def _end_rank(closing: time) -> time:
    """Comparable form of a closing time against opening times (midnight is the max)."""
    return time.max if closing == _MIDNIGHT else closing


def _require_aware(moment: datetime, name: str) -> None:
    """Reject naive datetimes, whose instant is ambiguous."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime: {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime: {moment!r}")


class OpeningHours:
    """Weekly opening hours in a time zone, closed all day on public holidays.

    `weekly` maps a weekday (0 = Monday) to local (open, close) intervals, each
    half-open [open, close); time(0, 0) as close means midnight at the end of that
    day, so (time(0, 0), time(0, 0)) is the whole day. Overlapping intervals are
    merged; overnight intervals must be split across two days. Each day's windows are
    built as aware local datetimes (zoneinfo, PEP 495 fold=0: a time skipped by a DST
    change is read with the offset in force before it, a repeated time is its first
    occurrence) and all durations are measured in absolute time, so a
    00:00-24:00 window lasts 23 h or 25 h on DST-change days.
    """

    def __init__(
        self,
        weekly: WeeklySchedule,
        departement: str | None = None,
        tz: str = "Europe/Paris",
    ) -> None:
        """Validate the schedule, the département and the time zone."""
        self._weekly = _normalise_weekly(weekly)
        self._subdivision = subdivision_for(departement)
        self.departement = departement
        self.tz = tz
        self._zone = ZoneInfo(tz)

    @property
    def weekly(self) -> Mapping[int, tuple[tuple[time, time], ...]]:
        """Return the normalised schedule (merged, sorted intervals per weekday)."""
        return MappingProxyType(
            {day: intervals for day, intervals in enumerate(self._weekly) if intervals}
        )

    def __repr__(self) -> str:
        """Show the schedule's parameters."""
        return (
            f"OpeningHours({dict(self.weekly)!r}, departement={self.departement!r}, "
            f"tz={self.tz!r})"
        )

    def _day_windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return one local day's open windows as UTC instants (none on holidays)."""
        if _is_holiday(self._subdivision, day):
            return []
        windows = []
        for opening, closing in self._weekly[day.weekday()]:
            start = datetime.combine(day, opening, tzinfo=self._zone)
            if closing == _MIDNIGHT:
                end = datetime.combine(
                    day + timedelta(days=1), _MIDNIGHT, tzinfo=self._zone
                )
            else:
                end = datetime.combine(day, closing, tzinfo=self._zone)
            windows.append((start.astimezone(UTC), end.astimezone(UTC)))
        return windows

    def _windows_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield chronological, disjoint UTC windows ending after `moment` (UTC)."""
        # Start one day early: a window of the previous local day may still be open.
        day = moment.astimezone(self._zone).date() - timedelta(days=1)
        previous_end = moment
        closed_days = 0
        while True:
            produced = False
            for start, end in self._day_windows(day):
                # Times inside a DST gap can map out of order: clip to stay disjoint.
                clipped = max(start, previous_end)
                if end > clipped:
                    produced = True
                    previous_end = end
                    yield clipped, end
            closed_days = 0 if produced else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"No opening within {_MAX_CLOSED_DAYS} days after {moment!r}"
                )
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        """Tell whether `at` is inside an open window (opening in, closing out)."""
        _require_aware(at, "at")
        instant = at.astimezone(UTC)
        day = instant.astimezone(self._zone).date()
        return any(
            start <= instant < end
            for offset in (-1, 0, 1)
            for start, end in self._day_windows(day + timedelta(days=offset))
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return the instant when `duration` of open time has elapsed from `start`.

        Counting starts at `start` if open, else at the next opening; a zero duration
        therefore returns that starting instant. A positive duration may end exactly
        at a closing time. The result is aware, in the calendar's time zone, and
        open_time_between(start, result) == duration. Negative durations are refused.
        """
        _require_aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"Duration must not be negative: {duration!r}")
        instant = start.astimezone(UTC)
        remaining = duration
        for window_start, window_end in self._windows_from(instant):
            counted_from = max(window_start, instant)
            available = window_end - counted_from
            # `available` is never zero, so a zero duration stops at `counted_from`.
            if remaining <= available:
                return (counted_from + remaining).astimezone(self._zone)
            remaining -= available
        raise AssertionError("_windows_from never ends")  # pragma: no cover

    def open_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Return the open time between two instants, negated when b is before a."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        low, high = a.astimezone(UTC), b.astimezone(UTC)
        if high < low:
            return -self.open_time_between(b, a)
        total = timedelta(0)
        for window_start, window_end in self._windows_from(low):
            if window_start >= high:
                break
            total += min(window_end, high) - max(window_start, low)
        return total


@functools.cache
def cnaf_opening_hours() -> OpeningHours:
    """Return the CNAF support hours on the national calendar."""
    return OpeningHours(CNAF_SUPPORT_HOURS, departement=None)


@functools.cache
def cd_opening_hours(departement: str | None) -> OpeningHours:
    """Return a Conseil départemental's support hours on its département's calendar."""
    return OpeningHours(CD_SUPPORT_HOURS, departement=departement)


def opening_hours_of(organisation) -> OpeningHours:
    """An organisation's support hours (its SupportHours rows, annexe 1) on its
    département's calendar."""
    weekly: dict[int, list] = defaultdict(list)
    for hours in organisation.support_hours.all():
        weekly[hours.weekday].append((hours.opens, hours.closes))
    return OpeningHours(weekly, departement=organisation.departement)
