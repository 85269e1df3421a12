"""The incidents' pages and task pages, as the shell mounts them (registered in
IncidentsConfig.ready(), see workflow.shell)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from incidents import pages
from incidents.flows import IncidentFlow
from workflow.flowviews import ScopedFlowAppViewset


class IncidentsApp(Application):
    """Incidents: list, declaration, an incident's page and its actions."""

    title = _("Incidents")
    icon = "report"
    app_name = "incidents"
    menu_template_name = None

    index_path = path("", pages.incident_list, name="index")
    declare_path = path("declarer/", pages.incident_declare, name="declare")
    detail_path = path("<int:pk>/", pages.incident_detail, name="detail")
    message_path = path("<int:pk>/messages/", pages.incident_message, name="message")
    workaround_path = path(
        "<int:pk>/contournement/", pages.incident_workaround, name="workaround"
    )
    interruption_path = path(
        "<int:pk>/interruption/", pages.incident_interruption, name="interruption"
    )
    recurring_path = path(
        "<int:pk>/recurrent/", pages.incident_recurring, name="recurring"
    )


def applications() -> list:
    """The pages at /incidents/, the flow's task pages at /taches-incidents/."""
    return [IncidentsApp(), ScopedFlowAppViewset(IncidentFlow, icon="support_agent")]
