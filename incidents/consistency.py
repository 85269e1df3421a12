"""Where an incident's status says IncidentFlow must stand (workflow.consistency
runs it)."""

from viewflow.workflow.status import PROCESS

from incidents.models import Incident, IncidentProcess
from workflow.consistency import Check, Expected, compare, human_steps

S = Incident.Status
L = Incident.Level
HANDLING = {
    L.GSI: "handle_gsi",
    L.SECOND: "handle_second",
    L.THIRD: "handle_third",
    L.CRISIS: "handle_crisis",
}


def expected_for(incident: Incident) -> Expected:
    if incident.status == S.REGISTERED:
        return Expected(steps=("take_in",))
    if incident.status in (S.TAKEN_IN, S.WORKAROUND):
        return Expected(steps=(HANDLING[incident.level],))
    if incident.status == S.SERVICE_BACK:
        return Expected(steps=("confirm",))
    finished = PROCESS.CANCELED if incident.closed_automatically else PROCESS.DONE
    return Expected(finished=finished)


def incident_problems(incident: Incident) -> list[str]:
    from incidents.flows import IncidentFlow

    process = IncidentProcess.objects.filter(incident=incident).first()
    return compare(process, expected_for(incident), human=human_steps(IncidentFlow))


def _orphans():
    without = Incident.objects.filter(process__isnull=True).order_by("pk")
    return (str(incident) for incident in without)


CHECK = Check(
    process_class=IncidentProcess,
    check=lambda process: incident_problems(process.incident),
    label=lambda process: str(process.incident),
    orphans=_orphans,
)
