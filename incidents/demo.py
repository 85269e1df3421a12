"""Demo incidents: for clients 23 and 57, one waiting to be taken in, one worked
at level 2, one back in service waiting for the client, one closed.

Every step goes through the services and the IncidentFlow tasks, like a user's.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.models import Organisation
from incidents import services
from incidents.flows import IncidentFlow
from incidents.models import Incident
from workflow.demo import complete_open_task

F = IncidentFlow
L = Incident.Level
# Where an incident stops in IncidentFlow: the open task it leaves, or closed.
STOPS = (
    "take_in",
    "handle_gsi",
    "handle_second",
    "handle_third",
    "handle_crisis",
    "confirm",
    "closed",
)
DEMO = {
    "take_in": ("Flux DSG", "Le flux DSG du jour n'est pas arrivé."),
    "handle_second": ("Portail", "Le portail refuse toute connexion depuis 8 h."),
    "confirm": ("Flux SGR", "Le flux SGR de la nuit est tronqué."),
    "closed": ("Flux GRO", "Le flux GRO est arrivé deux fois."),
}
_ESCALATIONS = {
    "handle_second": (F.handle_gsi, "cnaf.gsi", L.SECOND),
    "handle_third": (F.handle_second, "cnaf.support2", L.THIRD),
    "handle_crisis": (F.handle_third, "cnaf.support3", L.CRISIS),
}


def incident_at(
    organisation: Organisation,
    stop: str,
    *,
    domain: str = "Flux DSG",
    description: str = "Le flux DSG n'est pas arrivé.",
) -> Incident:
    """An incident of `organisation` declared by its incident correspondent, then
    moved by each level's task up to `stop` (the open task it leaves)."""
    users = get_user_model().objects
    code = organisation.code
    declarer = users.get(username=f"cd{code}.incidents")
    gsi = users.get(username="cnaf.gsi")
    incident = services.incident_register(
        by=declarer,
        organisation=organisation,
        kind=Incident.Kind.TECHNICAL,
        gravity=Incident.Gravity.CRITICAL,
        reporter_name=declarer.get_full_name(),
        reporter_user_code=declarer.get_username(),
        reporter_phone="01 23 45 67 89",
        reporter_email=declarer.email,
        domain=domain,
        description=description,
        detected_at=timezone.now() - timedelta(minutes=5),
    )
    here = {"incidentprocess__incident": incident}
    if stop == "take_in":
        return incident
    complete_open_task(
        F.take_in,
        gsi,
        lambda: services.incident_take_in(pk=incident.pk, by=gsi),
        **here,
    )
    levels = list(_ESCALATIONS)
    for name in levels[: levels.index(stop) + 1] if stop in _ESCALATIONS else ():
        node, username, level = _ESCALATIONS[name]
        actor = users.get(username=username)
        complete_open_task(
            node,
            actor,
            lambda actor=actor, level=level: services.incident_escalate(
                pk=incident.pk,
                by=actor,
                level=level,
                reason="Escalade de démonstration",
            ),
            **here,
        )
    if stop in ("confirm", "closed"):
        complete_open_task(
            F.handle_gsi,
            gsi,
            lambda: services.incident_restore(
                pk=incident.pk, by=gsi, resolution="Flux relancé par le GSI."
            ),
            **here,
        )
    if stop == "closed":
        complete_open_task(
            F.confirm,
            declarer,
            lambda: services.incident_confirm(pk=incident.pk, by=declarer),
            **here,
        )
    return Incident.objects.get(pk=incident.pk)


def incidents_demo_load() -> None:
    """The demo incidents of clients 23 and 57 (once)."""
    for code in ("23", "57"):
        organisation = Organisation.objects.get(code=code)
        if Incident.objects.filter(organisation=organisation).exists():
            continue
        for stop, (domain, description) in DEMO.items():
            incident_at(organisation, stop, domain=domain, description=description)
