"""Views of the change-request tasks: each parses its form and calls one service,
and shows above it what its actor decides on (`decision_context`, laid out by the
task's template in evolutions/templates/evolutions/decisions/)."""

from django.utils.translation import gettext_lazy as _

from evolutions import forms, services
from evolutions.models import Quote, SpecificationVersion
from workflow.taskviews import TaskFormView
from workflow.transitions import history_of


class ChangeRequestTaskView(TaskFormView):
    def subject(self):
        return self.process.change_request

    @property
    def pk(self) -> int:
        return self.process.change_request_id

    def last_move(self, transition: str):
        """The request's latest move by `transition` (who, when, the comment)."""
        return history_of(self.subject()).filter(transition=transition).last()

    def specifications(self):
        return self.subject().specifications.select_related("author", "decided_by")

    def quotes(self):
        return self.subject().quotes.select_related("author", "decided_by")


class ReviewSubmissionView(ChangeRequestTaskView):
    form_class = forms.ReviewSubmissionForm
    success_message = _("La demande a été traitée.")
    summary_template = "evolutions/decisions/review_submission.html"
    decision_field = "decision"

    def decision_context(self):
        return {
            # The client's answer when the request comes back completed.
            "answer": self.last_move("resubmit"),
            "attachments": self.subject().attachments.all(),
        }

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
    summary_template = "evolutions/decisions/complete_information.html"
    submit_label = _("Soumettre à nouveau à la CNAF")

    def decision_context(self):
        return {"question": self.last_move("request_information")}

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
    summary_template = "evolutions/decisions/write_specification.html"
    submit_label = _("Transmettre le cahier des charges au client")

    def decision_context(self):
        specifications = list(self.specifications())
        latest = specifications[-1] if specifications else None
        sent_back = SpecificationVersion.Decision.SENT_BACK
        return {
            "specifications": specifications,
            # Why the client sent the latest version back: what to rewrite.
            "sent_back": latest if latest and latest.decision == sent_back else None,
        }

    def get_initial(self):
        # A version sent back is rewritten from its text, not from nothing.
        latest = self.subject().specifications.last()
        return {"summary": latest.summary} if latest else {}

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
    summary_template = "evolutions/decisions/review_specification.html"
    decision_field = "decision"

    def decision_context(self):
        specifications = list(self.specifications())
        return {
            "specification": specifications[-1] if specifications else None,
            "earlier_specifications": specifications[:-1],
        }

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
    summary_template = "evolutions/decisions/write_quote.html"
    submit_label = _("Envoyer le devis")

    def decision_context(self):
        quotes = list(self.quotes())
        latest = quotes[-1] if quotes else None
        return {
            "specification": self.subject()
            .specifications.filter(decision=SpecificationVersion.Decision.VALIDATED)
            .last(),
            # Why the client refused the latest quote: what to revise.
            "refused": latest
            if latest and latest.decision == Quote.Decision.REFUSED
            else None,
            "quotes": quotes,
        }

    def perform(self, form):
        services.quote_issue(pk=self.pk, by=self.request.user, **form.cleaned_data)


class ReviewQuoteView(ChangeRequestTaskView):
    form_class = forms.QuoteDecisionForm
    success_message = _("Votre décision sur le devis est enregistrée.")
    summary_template = "evolutions/decisions/review_quote.html"
    decision_field = "decision"

    def decision_context(self):
        quotes = list(self.quotes())
        return {
            "quote": quotes[-1] if quotes else None,
            "earlier_quotes": quotes[:-1],
        }

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
    summary_template = "evolutions/decisions/propose_release.html"
    submit_label = _("Proposer cette version au client")

    def decision_context(self):
        return {
            "quote": self.quotes().filter(decision=Quote.Decision.ACCEPTED).last(),
            # Why the client asked for another release than the last proposed.
            "asked_another": self.last_move("ask_another_release"),
        }

    def perform(self, form):
        services.release_propose(pk=self.pk, by=self.request.user, **form.cleaned_data)


class ConfirmReleaseView(ChangeRequestTaskView):
    form_class = forms.ReleaseDecisionForm
    success_message = _("Votre décision sur la planification est enregistrée.")
    summary_template = "evolutions/decisions/confirm_release.html"
    decision_field = "decision"

    def decision_context(self):
        return {
            "release": self.subject().proposed_release,
            # What the CNAF wrote with its proposal.
            "proposal": self.last_move("propose_release"),
        }

    def perform(self, form):
        services.release_decide(
            pk=self.pk,
            by=self.request.user,
            confirmed=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class ManufactureView(ChangeRequestTaskView):
    form_class = forms.CommentForm
    summary_template = "evolutions/decisions/manufacture.html"

    def decision_context(self):
        change_request = self.subject()
        return {
            "release": change_request.release,
            "specification": change_request.specifications.filter(
                decision=SpecificationVersion.Decision.VALIDATED
            ).last(),
            "quote": change_request.quotes.filter(
                decision=Quote.Decision.ACCEPTED
            ).last(),
        }


class StartManufactureView(ManufactureView):
    success_message = _("La fabrication est lancée.")
    submit_label = _("Lancer la fabrication")

    def perform(self, form):
        services.manufacture_start(
            pk=self.pk, by=self.request.user, comment=form.cleaned_data["comment"]
        )


class FinishManufactureView(ManufactureView):
    success_message = _("La fabrication est terminée : la recette peut commencer.")
    submit_label = _("Terminer la fabrication et ouvrir la recette")

    def perform(self, form):
        services.manufacture_finish(
            pk=self.pk, by=self.request.user, comment=form.cleaned_data["comment"]
        )
