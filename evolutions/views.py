"""Views of the change-request tasks: each parses its form and calls one service."""

from django.utils.translation import gettext_lazy as _

from evolutions import forms, services
from workflow.taskviews import TaskFormView


class ChangeRequestTaskView(TaskFormView):
    template_name = "evolutions/task_form.html"

    def subject(self):
        return self.process.change_request

    def get_context_data(self, **kwargs):
        change_request = self.subject()
        kwargs.setdefault("latest_specification", change_request.specifications.last())
        kwargs.setdefault("latest_quote", change_request.quotes.last())
        return super().get_context_data(**kwargs)

    @property
    def pk(self) -> int:
        return self.process.change_request_id


class ReviewSubmissionView(ChangeRequestTaskView):
    form_class = forms.ReviewSubmissionForm
    success_message = _("La demande a été traitée.")

    def perform(self, form):
        data = form.cleaned_data
        if data["decision"] == "acknowledge":
            services.change_request_acknowledge(
                pk=self.pk, by=self.request.user, order_owner=data["order_owner"]
            )
        else:
            services.change_request_request_information(
                pk=self.pk, by=self.request.user, question=data["question"]
            )


class CompleteInformationView(ChangeRequestTaskView):
    form_class = forms.CompleteInformationForm
    success_message = _("L'expression de besoin complétée a été soumise à nouveau.")

    def get_initial(self):
        change_request = self.subject()
        return {name: getattr(change_request, name) for name in services.DRAFT_FIELDS}

    def perform(self, form):
        data = dict(form.cleaned_data)
        comment = data.pop("comment")
        services.change_request_update(pk=self.pk, by=self.request.user, **data)
        services.change_request_resubmit(
            pk=self.pk, by=self.request.user, comment=comment
        )


class WriteSpecificationView(ChangeRequestTaskView):
    form_class = forms.SpecificationForm
    success_message = _("Le cahier des charges a été transmis au client.")

    def perform(self, form):
        services.specification_issue(
            pk=self.pk,
            by=self.request.user,
            summary=form.cleaned_data["summary"],
            document=form.cleaned_data["document"],
        )


class ReviewSpecificationView(ChangeRequestTaskView):
    form_class = forms.SpecificationDecisionForm
    success_message = _("Votre décision sur le cahier des charges est enregistrée.")

    def perform(self, form):
        services.specification_decide(
            pk=self.pk,
            by=self.request.user,
            validated=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class WriteQuoteView(ChangeRequestTaskView):
    form_class = forms.QuoteForm
    success_message = _("Le devis a été transmis au client.")

    def perform(self, form):
        services.quote_issue(pk=self.pk, by=self.request.user, **form.cleaned_data)


class ReviewQuoteView(ChangeRequestTaskView):
    form_class = forms.QuoteDecisionForm
    success_message = _("Votre décision sur le devis est enregistrée.")

    def perform(self, form):
        services.quote_decide(
            pk=self.pk,
            by=self.request.user,
            accepted=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class ProposeReleaseView(ChangeRequestTaskView):
    form_class = forms.ReleaseProposalForm
    success_message = _("La version proposée a été transmise au client.")

    def perform(self, form):
        services.release_propose(pk=self.pk, by=self.request.user, **form.cleaned_data)


class ConfirmReleaseView(ChangeRequestTaskView):
    form_class = forms.ReleaseDecisionForm
    success_message = _("Votre décision sur la planification est enregistrée.")

    def perform(self, form):
        services.release_decide(
            pk=self.pk,
            by=self.request.user,
            confirmed=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class StartManufactureView(ChangeRequestTaskView):
    form_class = forms.CommentForm
    success_message = _("La fabrication est lancée.")

    def perform(self, form):
        services.manufacture_start(
            pk=self.pk, by=self.request.user, comment=form.cleaned_data["comment"]
        )


class FinishManufactureView(ChangeRequestTaskView):
    form_class = forms.CommentForm
    success_message = _("La fabrication est terminée : la recette peut commencer.")

    def perform(self, form):
        services.manufacture_finish(
            pk=self.pk, by=self.request.user, comment=form.cleaned_data["comment"]
        )
