"""The base of every human-task view: one form, one service call, then the task."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.generic import FormView
from viewflow.workflow.flow.views.mixins import TaskSuccessUrlMixin

from workflow.transitions import ActionRefused


class TaskFormView(TaskSuccessUrlMixin, FormView):
    """Parse the form, call `perform` (one service), complete the task, redirect.

    Runs inside viewflow's flow lock and transaction on POST. A service's
    ValidationError is shown on the form; an ActionRefused (the object moved on
    meanwhile) is a 409 page with the reason. Either way nothing is saved.
    """

    template_name = "workflow/task_form.html"
    success_message = _("Action enregistrée.")

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

    def get_context_data(self, **kwargs):
        kwargs.setdefault("subject", self.subject())
        kwargs.setdefault("task", self.task)
        kwargs.setdefault("task_title", self.task.flow_task.task_title)
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            # All or nothing: a refusal half-way leaves no partial write behind.
            with transaction.atomic():
                self.perform(form)
        except ValidationError as error:
            for field, errors in _by_field(error, form).items():
                for message in errors:
                    form.add_error(field, message)
            return self.form_invalid(form)
        except ActionRefused as refusal:
            return render(
                self.request,
                "workflow/refused.html",
                {
                    "reason": str(refusal),
                    "subject": self.subject(),
                    # Where the user can lift the obstacle (e.g. enrol a device).
                    "link": getattr(refusal, "link", None),
                    "link_label": getattr(refusal, "link_label", ""),
                },
                status=409,
            )
        self.request.activation.execute()
        messages.success(self.request, self.success_message, fail_silently=True)
        return HttpResponseRedirect(self.get_success_url())


def _by_field(error: ValidationError, form) -> dict:
    """The error's messages keyed by form field (None: the whole form)."""
    if not hasattr(error, "error_dict"):
        return {None: error.messages}
    return {
        (name if name in form.fields else None): ValidationError(errors).messages
        for name, errors in error.error_dict.items()
    }
