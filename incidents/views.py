"""Views of the incident tasks: each parses its form and calls one service; the
incident itself (declaration, clocks, thread) is shown above the form."""

from django.utils.translation import gettext_lazy as _

from incidents import forms, services
from incidents.selectors import clocks_of
from workflow.taskviews import TaskFormView


class IncidentTaskView(TaskFormView):
    subject_summary_template = "incidents/includes/declaration.html"
    summary_template = "incidents/decisions/incident_summary.html"

    def subject(self):
        return self.process.incident

    @property
    def pk(self) -> int:
        return self.process.incident_id

    def decision_context(self):
        incident = self.subject()
        return {
            "clocks": clocks_of(incident),
            "updates": incident.updates.select_related("author"),
        }


class TakeInView(IncidentTaskView):
    form_class = forms.TakeInForm
    success_message = _("L'incident est pris en compte.")
    submit_label = _("Prendre en compte")

    def get_initial(self):
        incident = self.subject()
        return {"kind": incident.kind, "gravity": incident.gravity}

    def perform(self, form):
        services.incident_take_in(pk=self.pk, by=self.request.user, **form.cleaned_data)


class HandleView(IncidentTaskView):
    form_class = forms.HandleForm
    success_message = _("Action enregistrée.")
    decision_field = "decision"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "current_level": self.subject().level}

    def perform(self, form):
        data = form.cleaned_data
        if data["decision"] == "restore":
            services.incident_restore(
                pk=self.pk, by=self.request.user, resolution=data["resolution"]
            )
        else:
            services.incident_escalate(
                pk=self.pk,
                by=self.request.user,
                level=data["level"],
                reason=data["reason"],
            )


class ConfirmView(IncidentTaskView):
    form_class = forms.ConfirmForm
    success_message = _("Votre réponse est enregistrée.")
    decision_field = "decision"

    def perform(self, form):
        data = form.cleaned_data
        if data["decision"] == "confirm":
            services.incident_confirm(pk=self.pk, by=self.request.user)
        else:
            services.incident_reopen(
                pk=self.pk, by=self.request.user, reason=data["reason"]
            )
