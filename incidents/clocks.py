"""An incident's service clocks (contract §2, annexe 1).

The supplier's targets run from the incident's registration: a technical incident
is taken in within 15 minutes, and back in service within 8 hours; a functional
one is back in service with the next corrective version (the production date of
the release that carries its fix, set when the incident is linked to it). The
client's own notification is measured too: within 15 minutes of detection
(technical) or 24 hours of qualification (functional).

Each target is counted either in the GSI's support hours (annexe 1: Monday to
Friday 6:00–20:00, Saturday 6:00–15:30, national public holidays off,
Europe/Paris) or around the clock: a setting per target (README, "Incidents").

The policy in force is written onto the incident when it is registered
(`Incident.policy`, a `policy_in_force()` snapshot): the support hours or a
setting changed later do not move an incident's deadlines, and its figures are
read back from its own snapshot (`Clock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from workflow.calendars import CNAF_SUPPORT_HOURS, OpeningHours

SUPPORT_HOURS = "plages"  # counted in the GSI's opening hours
AROUND_THE_CLOCK = "continu"
CLOCKS = (SUPPORT_HOURS, AROUND_THE_CLOCK)

# The targets of the contract, in minutes, and the setting naming each one's clock.
TAKE_IN = "prise_en_compte"
SERVICE_BACK = "remise_en_service"
NOTIFY_TECHNICAL = "notification_technique"
NOTIFY_FUNCTIONAL = "notification_fonctionnel"
TARGETS = {
    TAKE_IN: (15, "TANDEM_INCIDENT_CLOCK_TAKE_IN"),
    SERVICE_BACK: (8 * 60, "TANDEM_INCIDENT_CLOCK_SERVICE_BACK"),
    NOTIFY_TECHNICAL: (15, "TANDEM_INCIDENT_CLOCK_NOTIFICATION"),
    NOTIFY_FUNCTIONAL: (24 * 60, "TANDEM_INCIDENT_CLOCK_NOTIFICATION"),
}
POLICY_VERSION = 1

TECHNICAL = "technique"
FUNCTIONAL = "fonctionnel"


def _weekly_json(weekly) -> dict[str, list[list[str]]]:
    return {
        str(day): [[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in intervals]
        for day, intervals in sorted(weekly.items())
        if intervals
    }


def _weekly_from_json(data) -> dict[int, list[tuple[time, time]]]:
    return {
        int(day): [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in pairs]
        for day, pairs in data.items()
    }


def supplier_support_hours() -> dict:
    """The GSI's weekly hours: the supplier's support-hours rows (contacts, set
    by the administrator), or the contract's annexe 1 when there are none."""
    from contacts.models import Organisation, SupportHours

    rows = SupportHours.objects.filter(
        organisation__kind=Organisation.Kind.SUPPLIER
    ).order_by("weekday", "opens")
    weekly: dict[int, list[tuple[time, time]]] = {}
    for row in rows:
        weekly.setdefault(row.weekday, []).append((row.opens, row.closes))
    return weekly or {day: list(pairs) for day, pairs in CNAF_SUPPORT_HOURS.items()}


def policy_in_force(weekly=None) -> dict:
    """The policy an incident registered now keeps: each target's length and
    clock, and the support hours they count in (JSON, for `Incident.policy`)."""
    targets = {}
    for name, (minutes, setting) in TARGETS.items():
        default = AROUND_THE_CLOCK if name.startswith("notification") else SUPPORT_HOURS
        clock = getattr(settings, setting, default)
        if clock not in CLOCKS:
            raise ValueError(f"{setting}: {clock!r} not in {CLOCKS}")
        targets[name] = {"minutes": minutes, "clock": clock}
    hours = _weekly_json(supplier_support_hours() if weekly is None else weekly)
    return {
        "version": POLICY_VERSION,
        "support_hours": hours,
        "departement": None,  # the GSI: the national calendar
        "tz": "Europe/Paris",
        "targets": targets,
    }


@dataclass(frozen=True)
class Clock:
    """The clocks of one policy snapshot (an incident's `policy`)."""

    policy: dict

    @property
    def hours(self) -> OpeningHours:
        return _opening_hours(self.policy)

    def length(self, target: str) -> timedelta:
        return timedelta(minutes=self.policy["targets"][target]["minutes"])

    def counts_in_support_hours(self, target: str) -> bool:
        return self.policy["targets"][target]["clock"] == SUPPORT_HOURS

    def due(self, target: str, start: datetime) -> datetime:
        """When `target` falls due for a clock started at `start`."""
        if self.counts_in_support_hours(target):
            return self.hours.add(start, self.length(target))
        # In absolute time: Python adds to an aware datetime's wall clock.
        end = start.astimezone(UTC) + self.length(target)
        return end.astimezone(ZoneInfo(self.policy["tz"]))

    def elapsed(self, target: str, start: datetime, end: datetime) -> timedelta:
        """The time counted on `target`'s clock from `start` to `end`."""
        if self.counts_in_support_hours(target):
            return self.hours.open_time_between(start, end)
        # In UTC: two datetimes of one zone subtract as wall clocks.
        return end.astimezone(UTC) - start.astimezone(UTC)

    def share(self, target: str, start: datetime, due: datetime, now: datetime):
        """How much of the time from `start` to `due` has run at `now` (0.75 for
        three quarters), on `target`'s clock."""
        whole = self.elapsed(target, start, due)
        if whole <= timedelta(0):
            return 1.0
        return self.elapsed(target, start, now) / whole


_HOURS: dict[str, OpeningHours] = {}


def _opening_hours(policy: dict) -> OpeningHours:
    """The OpeningHours of a snapshot, built once per distinct snapshot."""
    key = repr((policy["support_hours"], policy["departement"], policy["tz"]))
    hours = _HOURS.get(key)
    if hours is None:
        if len(_HOURS) > 64:
            _HOURS.clear()
        hours = _HOURS[key] = OpeningHours(
            _weekly_from_json(policy["support_hours"]),
            departement=policy["departement"],
            tz=policy["tz"],
        )
    return hours


def registration_targets(policy: dict, kind: str, registered_at: datetime) -> dict:
    """The deadlines set when an incident is registered: taking in (technical
    only, the contract sets none for a functional incident) and service back
    (technical; a functional incident's comes from the release of its fix)."""
    clock = Clock(policy)
    if kind == TECHNICAL:
        return {
            "take_in_due": clock.due(TAKE_IN, registered_at),
            "service_back_due": clock.due(SERVICE_BACK, registered_at),
        }
    return {"take_in_due": None, "service_back_due": None}


@dataclass(frozen=True)
class Notification:
    """The client's notification delay: from detection (technical) or
    qualification (functional) to registration, against its limit."""

    elapsed: timedelta
    limit: timedelta

    @property
    def on_time(self) -> bool:
        return self.elapsed <= self.limit


def client_notification(
    policy: dict, kind: str, started: datetime | None, registered_at: datetime
) -> Notification | None:
    """The client's notification delay, None when the client gave no detection
    or qualification time (the GSI recorded it without one)."""
    if started is None:
        return None
    target = NOTIFY_TECHNICAL if kind == TECHNICAL else NOTIFY_FUNCTIONAL
    clock = Clock(policy)
    elapsed = max(clock.elapsed(target, started, registered_at), timedelta(0))
    return Notification(elapsed, clock.length(target))
