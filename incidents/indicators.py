"""The contract's incident indicators over a period (contract §2): share taken in
within 15 minutes, share back in service on time (target > 80 %), service
interruptions per semester and client (target ≤ 2), and the clients' own
notification delays.

Every figure is computed from the incidents a queryset holds (the caller's
scoped one: a client user's holds its own incidents only), registered in the
period, and each names the incidents behind it (`ids`). An incident whose
target has not fallen due yet and is not met is "pending": counted in neither
side of a share. Interruptions count by the semester they started in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import timezone

from incidents import clocks
from incidents.models import Incident

SERVICE_BACK_TARGET = 0.80  # more than 80 % back in service on time
INTERRUPTIONS_PER_SEMESTER = 2


@dataclass
class Share:
    """Incidents on time and late against one target; `pending` not yet due."""

    on_time: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return len(self.on_time) + len(self.late)

    @property
    def rate(self) -> float | None:
        """Share on time of those counted (None: none counted)."""
        return len(self.on_time) / self.counted if self.counted else None

    def add(self, pk: int, done: datetime | None, due: datetime, now: datetime):
        if done is not None:
            (self.on_time if done <= due else self.late).append(pk)
        elif now > due:
            self.late.append(pk)
        else:
            self.pending.append(pk)


@dataclass
class Figures:
    """The indicators of one set of incidents (one type, or all)."""

    registered: list[int] = field(default_factory=list)
    take_in: Share = field(default_factory=Share)
    service_back: Share = field(default_factory=Share)
    notification: Share = field(default_factory=Share)

    @property
    def service_back_met(self) -> bool | None:
        rate = self.service_back.rate
        return None if rate is None else rate > SERVICE_BACK_TARGET


def semester_of(moment: datetime) -> tuple[int, int]:
    """(year, 1 or 2) of a moment, in Paris time."""
    local = timezone.localtime(moment)
    return local.year, 1 if local.month <= 6 else 2


def _add(figures: Figures, incident, now: datetime) -> None:
    figures.registered.append(incident.pk)
    if incident.take_in_due is not None:
        figures.take_in.add(
            incident.pk, incident.taken_in_at, incident.take_in_due, now
        )
    if incident.service_back_due is not None:
        figures.service_back.add(
            incident.pk, incident.service_back_at, incident.service_back_due, now
        )
    delay = clocks.client_notification(
        incident.policy, incident.kind, incident.notice_started, incident.registered_at
    )
    if delay is not None:
        target = (
            figures.notification.on_time if delay.on_time else figures.notification.late
        )
        target.append(incident.pk)


@dataclass
class Indicators:
    """A period's figures: overall, by type, by month; interruptions by
    semester and organisation."""

    start: date
    end: date
    overall: Figures
    by_kind: dict[str, Figures]
    by_month: dict[tuple[int, int], Figures]
    interruptions: dict[tuple[int, int], dict[str, list[int]]]

    def semesters_over(self) -> list[tuple[tuple[int, int], str, int]]:
        """(semester, organisation code, count) where a client had more
        interruptions than the contract allows."""
        return [
            (semester, code, len(ids))
            for semester, by_code in sorted(self.interruptions.items())
            for code, ids in sorted(by_code.items())
            if len(ids) > INTERRUPTIONS_PER_SEMESTER
        ]


def indicators(incidents, start: date, end: date, *, now=None) -> Indicators:
    """The indicators of the incidents of `incidents` (a scoped queryset)
    registered from `start` to `end` included, Paris dates."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    low = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    high = datetime.combine(end, datetime.max.time(), tzinfo=zone)
    rows = (
        incidents.filter(registered_at__gte=low, registered_at__lte=high)
        .select_related("organisation")
        .only(
            "pk",
            "kind",
            "policy",
            "registered_at",
            "detected_at",
            "qualified_at",
            "take_in_due",
            "taken_in_at",
            "service_back_due",
            "service_back_at",
            "organisation__code",
        )
        .order_by("registered_at", "pk")
    )
    result = Indicators(
        start,
        end,
        Figures(),
        {kind: Figures() for kind in Incident.Kind.values},
        {},
        {},
    )
    for incident in rows:
        local = timezone.localtime(incident.registered_at)
        month = result.by_month.setdefault((local.year, local.month), Figures())
        for figures in (result.overall, result.by_kind[incident.kind], month):
            _add(figures, incident, now)
    interrupted = incidents.filter(
        interruption=True,
        interruption_start__gte=low,
        interruption_start__lte=high,
    ).values_list("pk", "interruption_start", "organisation__code")
    for pk, started, code in interrupted.order_by("interruption_start", "pk"):
        by_code = result.interruptions.setdefault(semester_of(started), {})
        by_code.setdefault(code, []).append(pk)
    return result
