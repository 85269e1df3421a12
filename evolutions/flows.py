"""EvolutionFlow: who acts, and when, on a change request (contract §4.1).

The lifecycle itself (which status may follow which) is declared on ChangeRequest;
each human task here completes by calling one service of evolutions.services, and
the Switch after a decision routes on the status that service left.

Declining (supplier) and withdrawing (client) are not tasks: they are actions
available at every step before manufacture, and they cancel the running process.
"""

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from contacts.models import Role
from evolutions import views
from evolutions.models import ChangeRequest, EvolutionProcess
from workflow.flowperms import (
    SUMMARY,
    client_role,
    order_owner,
    supplier_role,
)
from workflow.flowviews import ScopedFlowMixin
from workflow.locking import flow_lock

S = ChangeRequest.Status

# What inboxes and queues show of a task: the request it is about.


def _status_is(*statuses):
    return lambda activation: activation.process.change_request.status in statuses


class EvolutionFlow(ScopedFlowMixin, flow.Flow):
    process_class = EvolutionProcess
    subject_lookup = "change_request"
    organisation_lookup = "change_request__organisation"
    url_name = "taches-evolutions"
    process_summary_template = SUMMARY
    process_title = _("Tâches des évolutions")
    process_description = _("De l'expression de besoin à la fabrication.")
    lock_impl = flow_lock()

    # Default deadlines in working days of the acting party (StepDeadline overrides).
    deadlines = {
        "review_submission": 5,
        "complete_information": 10,
        "write_specification": 20,
        "review_specification": 10,
        "write_quote": 10,
        "review_quote": 10,
        "propose_release": 10,
        "confirm_release": 5,
        "start_manufacture": 10,
        "finish_manufacture": 60,
    }

    start = (
        flow.StartHandle(this.start_for)
        .Annotation(title=_("Soumission de l'expression de besoin"))
        .Next(this.review_submission)
    )

    review_submission = (
        flow.View(views.ReviewSubmissionView.as_view())
        .Annotation(title=_("Prendre en compte la demande"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.CONTACT_EVOLUTIONS))
        .Next(this.after_review_submission)
    )
    after_review_submission = (
        flow.Switch()
        .Annotation(title=_("Demande prise en compte ?"))
        .Case(this.complete_information, _status_is(S.INFO_REQUESTED))
        .Default(this.write_specification)
    )
    complete_information = (
        flow.View(views.CompleteInformationView.as_view())
        .Annotation(
            title=_("Compléter l'expression de besoin"), summary_template=SUMMARY
        )
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.review_submission)
    )

    write_specification = (
        flow.View(views.WriteSpecificationView.as_view())
        .Annotation(title=_("Rédiger le cahier des charges"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.PORTEUR_COMMANDE))
        .Assign(order_owner)
        .Next(this.review_specification)
    )
    review_specification = (
        flow.View(views.ReviewSpecificationView.as_view())
        .Annotation(title=_("Valider le cahier des charges"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.after_review_specification)
    )
    after_review_specification = (
        flow.Switch()
        .Annotation(title=_("Cahier des charges validé ?"))
        .Case(this.write_specification, _status_is(S.IN_STUDY))
        .Default(this.write_quote)
    )

    write_quote = (
        flow.View(views.WriteQuoteView.as_view())
        .Annotation(title=_("Établir le devis"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.PORTEUR_COMMANDE))
        .Assign(order_owner)
        .Next(this.review_quote)
    )
    review_quote = (
        flow.View(views.ReviewQuoteView.as_view())
        .Annotation(title=_("Accepter ou refuser le devis"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.after_review_quote)
    )
    after_review_quote = (
        flow.Switch()
        .Annotation(title=_("Devis accepté ?"))
        .Case(this.write_quote, _status_is(S.QUOTE_PREPARATION))
        .Default(this.propose_release)
    )

    propose_release = (
        flow.View(views.ProposeReleaseView.as_view())
        .Annotation(title=_("Proposer une version"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.PORTEUR_COMMANDE))
        .Assign(order_owner)
        .Next(this.confirm_release)
    )
    confirm_release = (
        flow.View(views.ConfirmReleaseView.as_view())
        .Annotation(title=_("Confirmer la planification"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.after_confirm_release)
    )
    after_confirm_release = (
        flow.Switch()
        .Annotation(title=_("Version confirmée ?"))
        .Case(this.propose_release, _status_is(S.PLANNING))
        .Default(this.start_manufacture)
    )

    start_manufacture = (
        flow.View(views.StartManufactureView.as_view())
        .Annotation(title=_("Lancer la fabrication"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.MOE))
        .Next(this.finish_manufacture)
    )
    finish_manufacture = (
        flow.View(views.FinishManufactureView.as_view())
        .Annotation(title=_("Terminer la fabrication"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.MOE))
        .Next(this.end)
    )

    end = flow.End().Annotation(title=_("Fabrication terminée"))

    def start_for(self, activation, change_request: ChangeRequest):
        activation.process.change_request = change_request
        activation.process.artifact = change_request
        return activation.process
