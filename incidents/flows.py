"""IncidentFlow: who must act, and when, on an incident (contract §2, annexe 1).

The lifecycle (which status may follow which) is declared on Incident; each human
task completes by calling one service of incidents.services, and the Switches
route on what that service left (status and level). The GSI takes the incident
in; the level that holds it (GSI, level 2, level 3, crisis unit) works it until
the service is back or it goes to another level; the client then confirms, or
reopens it. Messages, the workaround, the interruption and the recurring group
are actions of the incident's page, not steps.
"""

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from contacts.models import Membership, Role
from incidents import views
from incidents.models import Incident, IncidentProcess
from workflow.access import role_permission
from workflow.flowperms import SUMMARY, subject_of, supplier_role
from workflow.flowviews import ScopedFlowMixin
from workflow.locking import flow_lock

S = Incident.Status
L = Incident.Level


def _is(status=None, level=None):
    def condition(activation):
        # Read again: the service moved the incident through another instance.
        now_status, now_level = Incident.objects.values_list("status", "level").get(
            pk=activation.process.incident_id
        )
        return (status is None or now_status == status) and (
            level is None or now_level == level
        )

    return condition


def client_confirmation(activation):
    """`.Permission(...)` of the client's confirmation: its incident
    correspondents, or its DSI where it named none."""
    organisation = subject_of(activation).organisation
    has_correspondent = Membership.objects.filter(
        organisation=organisation,
        role=Role.CORRESPONDANT_INCIDENTS,
        user__is_active=True,
    ).exists()
    role = Role.CORRESPONDANT_INCIDENTS if has_correspondent else Role.DSI_CLIENT
    return role_permission(role, organisation)


def _handling(role, title):
    return (
        flow.View(views.HandleView.as_view())
        .Annotation(title=title, summary_template=SUMMARY)
        .Permission(supplier_role(role))
        .Next(this.after_handling)
    )


class IncidentFlow(ScopedFlowMixin, flow.Flow):
    process_class = IncidentProcess
    subject_lookup = "incident"
    organisation_lookup = "incident__organisation"
    subject_reference_field = "number"
    subject_title_field = "domain"
    url_name = "taches-incidents"
    process_summary_template = SUMMARY
    process_title = _("Tâches des incidents")
    process_description = _("De la déclaration au retour au service confirmé.")
    lock_impl = flow_lock()

    # An incident's own clocks (incidents/clocks.py) say when the supplier is
    # due; the client's confirmation closes by itself after
    # TANDEM_INCIDENT_CONFIRM_DAYS working days.
    deadlines = {}

    start = (
        flow.StartHandle(this.start_for)
        .Annotation(title=_("Enregistrement de l'incident"))
        .Next(this.take_in)
    )
    take_in = (
        flow.View(views.TakeInView.as_view())
        .Annotation(title=_("Prendre en compte l'incident"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.GSI))
        .Next(this.after_handling)
    )
    handle_gsi = _handling(Role.GSI, _("Traiter l'incident (GSI)"))
    handle_second = _handling(Role.SUPPORT_N2, _("Traiter l'incident (niveau 2)"))
    handle_third = _handling(Role.SUPPORT_N3, _("Traiter l'incident (niveau 3)"))
    handle_crisis = _handling(
        Role.GESTION_CRISE, _("Traiter l'incident (cellule de crise)")
    )
    after_handling = (
        flow.Switch()
        .Annotation(title=_("Service rétabli ?"))
        .Case(this.confirm, _is(status=S.SERVICE_BACK))
        .Case(this.handle_second, _is(level=L.SECOND))
        .Case(this.handle_third, _is(level=L.THIRD))
        .Case(this.handle_crisis, _is(level=L.CRISIS))
        .Default(this.handle_gsi)
    )
    confirm = (
        flow.View(views.ConfirmView.as_view())
        .Annotation(title=_("Confirmer le retour au service"), summary_template=SUMMARY)
        .Permission(client_confirmation)
        .Next(this.after_confirm)
    )
    after_confirm = (
        flow.Switch()
        .Annotation(title=_("Retour au service confirmé ?"))
        .Case(this.end, _is(status=S.CLOSED))
        .Default(this.after_handling)
    )
    end = flow.End().Annotation(title=_("Incident clos"))

    def start_for(self, activation, incident: Incident):
        activation.process.incident = incident
        activation.process.artifact = incident
        return activation.process
