"""What a user may see of the incidents, and how an incident's clocks stand."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents import clocks
from incidents.models import Incident
from workflow import access


def incidents_visible_to(user) -> QuerySet[Incident]:
    """The incidents of the organisations the user may see: a client's own, every
    client's for the supplier, none for the administrator."""
    return access.scope_to_organisations(
        Incident.objects.select_related("organisation"), user
    )


@dataclass(frozen=True)
class ClockLine:
    """One target of an incident as its page shows it."""

    label: str
    due: datetime | None
    done: datetime | None
    state: str  # "tenu", "depasse", "en_cours", "sans"

    @property
    def state_label(self) -> str:
        return {
            "tenu": _("tenu"),
            "depasse": _("dépassé"),
            "en_cours": _("en cours"),
            "sans": _("pas d'échéance"),
        }[self.state]


def _line(label, due, done, now) -> ClockLine:
    if due is None:
        return ClockLine(label, None, done, "sans")
    if done is not None:
        return ClockLine(label, due, done, "tenu" if done <= due else "depasse")
    return ClockLine(label, due, None, "depasse" if now > due else "en_cours")


def clocks_of(incident: Incident, now=None) -> list[ClockLine]:
    """The incident's targets: taken in, back in service, the client's notice."""
    now = now or timezone.now()
    lines = [
        _line(_("Prise en compte"), incident.take_in_due, incident.taken_in_at, now),
        _line(
            _("Remise en service"),
            incident.service_back_due,
            incident.service_back_at,
            now,
        ),
    ]
    started = incident.notice_started
    notice = clocks.client_notification(
        incident.policy, incident.kind, started, incident.registered_at
    )
    if notice is not None:
        lines.append(
            ClockLine(
                _("Notification par le client"),
                started + notice.limit if started else None,
                incident.registered_at,
                "tenu" if notice.on_time else "depasse",
            )
        )
    return lines
