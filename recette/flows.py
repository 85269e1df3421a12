"""RecetteFlow: who acts, and when, during the acceptance of a change request
(contract §5.1). Started by the end of manufacture; each human task completes by
calling one service of recette.services, and the Switches route on what it left.
"""

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from contacts.models import Role
from recette import views
from recette.models import AcceptancePlan, Campaign, GoLiveAgreement, RecetteProcess
from workflow.flowperms import (
    SUMMARY,
    client_role,
    order_owner,
    supplier_role,
)
from workflow.flowviews import ScopedFlowMixin
from workflow.locking import flow_lock


def _plan_validated(activation) -> bool:
    # Read from the database: the request object may hold the plan as it was
    # before the service just changed it.
    return AcceptancePlan.objects.filter(
        change_request=activation.process.change_request,
        status=AcceptancePlan.Status.VALIDATED,
    ).exists()


def _qualified(activation) -> bool:
    last = activation.process.change_request.qualifications.last()
    return last is not None and last.passed


def _plan_validated_and_qualified(activation) -> bool:
    # A plan validated again after being reopened: the build was already qualified.
    return _plan_validated(activation) and _qualified(activation)


def _fixes_asked(activation) -> bool:
    last = activation.process.change_request.campaigns.order_by("number").last()
    return last.outcome == Campaign.Outcome.FIXES


def _latest_agreement(activation):
    return activation.process.change_request.go_live_agreements.last()


def _refused(activation, active_tasks=None) -> bool:
    return _latest_agreement(activation).status == GoLiveAgreement.Status.REFUSED


class RecetteFlow(ScopedFlowMixin, flow.Flow):
    process_class = RecetteProcess
    subject_lookup = "change_request"
    organisation_lookup = "change_request__organisation"
    url_name = "taches-recettes"
    process_title = _("Tâches des recettes")
    process_description = _("Du plan de recette à l'accord de mise en production.")
    process_summary_template = SUMMARY
    lock_impl = flow_lock()

    deadlines = {
        "prepare_plan": 10,
        "review_plan": 5,
        "qualify": 10,
        "deliver": 5,
        "run_campaign": 15,
        "write_report": 5,
        "sign_client": 5,
        "sign_supplier": 5,
    }

    start = (
        flow.StartHandle(this.start_for)
        .Annotation(title=_("Fabrication terminée"))
        .Next(this.prepare_plan)
    )
    prepare_plan = (
        flow.View(views.PreparePlanView.as_view())
        .Annotation(title=_("Préparer le plan de recette"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.PORTEUR_COMMANDE))
        .Assign(order_owner)
        .Next(this.review_plan)
    )
    review_plan = (
        flow.View(views.ReviewPlanView.as_view())
        .Annotation(title=_("Valider le plan de recette"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.after_review_plan)
    )
    after_review_plan = (
        flow.Switch()
        .Annotation(title=_("Plan validé ?"))
        .Case(this.deliver, _plan_validated_and_qualified)
        .Case(this.qualify, _plan_validated)
        .Default(this.prepare_plan)
    )
    qualify = (
        flow.View(views.QualifyView.as_view())
        .Annotation(title=_("Qualifier l'évolution"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.MOE))
        .Next(this.after_qualify)
    )
    after_qualify = (
        flow.Switch()
        .Annotation(title=_("Qualification réussie ?"))
        .Case(this.deliver, _qualified)
        .Default(this.qualify)
    )
    deliver = (
        flow.View(views.DeliverView.as_view())
        .Annotation(title=_("Livrer en recette"), summary_template=SUMMARY)
        .Permission(supplier_role(Role.MOE))
        .Next(this.run_campaign)
    )
    run_campaign = (
        flow.View(views.RunCampaignView.as_view())
        .Annotation(title=_("Mener la campagne de tests"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.after_campaign)
    )
    after_campaign = (
        flow.Switch()
        .Annotation(title=_("Corrections demandées ?"))
        .Case(this.deliver, _fixes_asked)
        .Default(this.write_report)
    )
    write_report = (
        flow.View(views.WriteReportView.as_view())
        .Annotation(title=_("Rédiger le bilan de recette"), summary_template=SUMMARY)
        .Permission(client_role(Role.PORTEUR_DEMANDE))
        .Next(this.signatures)
    )
    signatures = (
        flow.Split()
        .Annotation(title=_("Signatures des deux DSI"))
        .Next(this.sign_client)
        .Next(this.sign_supplier)
    )
    sign_client = (
        flow.View(views.SignView.as_view())
        .Annotation(
            title=_("Signer l'accord (DSI du Conseil départemental)"),
            summary_template=SUMMARY,
        )
        .Permission(client_role(Role.DSI_CLIENT))
        .Next(this.signed)
    )
    sign_supplier = (
        flow.View(views.SignView.as_view())
        .Annotation(
            title=_("Signer l'accord (DSI de la CNAF)"), summary_template=SUMMARY
        )
        .Permission(supplier_role(Role.DSI_FOURNISSEUR))
        .Next(this.signed)
    )
    # A refusal by either DSI ends the signatures at once: the other task is
    # cancelled and the work goes back to fixes.
    signed = (
        flow.Join(continue_on_condition=_refused)
        .Annotation(title=_("Accord complet ?"))
        .Next(this.after_signatures)
    )
    after_signatures = (
        flow.Switch()
        .Annotation(title=_("Accord signé ?"))
        .Case(this.deliver, _refused)
        .Default(this.end)
    )
    end = flow.End().Annotation(title=_("En production"))

    # Steps a validated plan can be reopened from (recette.services.plan_reopen):
    # the waiting one is cancelled and the plan goes back to preparation.
    PLAN_REOPENABLE_AT = ("qualify", "deliver", "write_report")

    def start_for(self, activation, change_request):
        activation.process.change_request = change_request
        activation.process.artifact = change_request
        return activation.process
