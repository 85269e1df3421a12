"""The base of every human-task view: one form, one service call, then the task."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView
from viewflow.workflow.flow.views.mixins import TaskSuccessUrlMixin

from workflow.nextsteps import what_comes_next
from workflow.refusals import errors_onto, refusal_about


class TaskFormView(TaskSuccessUrlMixin, FormView):
    """Parse the form, call `perform` (one service), complete the task, then land
    on the object's page (the process's `landing_url`, else its subject's page)
    with a message saying what was done and what comes next, for whom, by when.

    Runs inside viewflow's flow lock and transaction on POST. A service's
    ValidationError is shown on the form; an ActionRefused (the object moved on
    meanwhile) propagates, rolling back viewflow's transaction too, and is a 409
    page naming the subject (workflow.refusals). Either way nothing is saved.
    """

    template_name = "workflow/task_form.html"
    success_message = _("Action enregistrée.")
    # What the actor decides on, shown above the form: a template of the process
    # app, given `decision_context()` (see docs/shell.md).
    summary_template = ""
    # The subject's fields at the top of the page; a process app whose subject is
    # not a request names its own (an incident's declaration).
    subject_summary_template = "workflow/includes/subject_summary.html"
    # The button's name says the decision (« Valider le plan », « Envoyer le
    # devis »…), never a bare « Enregistrer ».
    submit_label = gettext_lazy("Enregistrer")
    # A choice field of the form whose choices are the submit buttons (one per
    # decision, each posting its value), instead of radio buttons and one submit.
    decision_field = ""

    @property
    def task(self):
        return self.request.activation.task

    @property
    def process(self):
        return self.request.activation.process

    def subject(self):
        """The business object the task is about (shown above the form)."""
        raise NotImplementedError

    def perform(self, form) -> None:
        """Call the service that does what the task is about."""
        raise NotImplementedError

    def decision_context(self) -> dict:
        """What `summary_template` shows of the decision (read only)."""
        return {}

    def get_context_data(self, **kwargs):
        kwargs.setdefault("subject", self.subject())
        kwargs.setdefault("task", self.task)
        kwargs.setdefault("task_title", self.task.flow_task.task_title)
        kwargs.setdefault("subject_summary_template", self.subject_summary_template)
        flow_class = self.task.flow_task.flow_class
        if getattr(flow_class, "url_name", ""):
            kwargs.setdefault(
                "give_back_url",
                reverse("task_give_back", args=[flow_class.url_name, self.task.pk]),
            )
        if self.summary_template:
            kwargs.setdefault("summary_template", self.summary_template)
            for name, value in self.decision_context().items():
                kwargs.setdefault(name, value)
        kwargs.setdefault("submit_label", self.submit_label)
        context = super().get_context_data(**kwargs)
        if self.decision_field:
            context["decision_field"] = context["form"][self.decision_field]
        return context

    def form_invalid(self, form):
        """The form again, with its errors: a 400 (nothing was saved)."""
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def get_success_url(self):
        landing = getattr(self.process, "landing_url", None)
        return landing or self.process.subject.get_absolute_url()

    def form_valid(self, form):
        started = timezone.now()
        try:
            # All or nothing: a refusal half-way leaves no partial write behind.
            # The subject is read only on a refusal, after the rollback.
            with refusal_about(self.subject), transaction.atomic():
                self.perform(form)
        except ValidationError as error:
            errors_onto(form, error)
            return self.form_invalid(form)
        self.request.activation.execute()
        after = what_comes_next(
            self.process.subject, self.process, started, self.request.user
        )
        messages.success(
            self.request, f"{self.success_message} {after}", fail_silently=True
        )
        return HttpResponseRedirect(self.get_success_url())
