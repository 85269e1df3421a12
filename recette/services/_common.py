"""Who does what in acceptance testing, and the helpers several topics share: the
acceptance's link, the plan and the report locked for a change."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.models import Role
from recette.models import AcceptancePlan, AcceptanceReport, Execution
from workflow import access
from workflow.locking import for_update
from workflow.transitions import ActionRefused

# Who does what (README, "Acceptance testing").
PLAN_AUTHORS = (Role.PORTEUR_COMMANDE, Role.MOE)
CLIENT_LEADS = (Role.PORTEUR_DEMANDE,)
TESTERS = (Role.TESTEUR, Role.PORTEUR_DEMANDE)
SUPPLIER_FIXERS = (Role.MOE, Role.PORTEUR_COMMANDE)

R = Execution.Result


def _acceptance_link(change_request) -> str:
    return reverse("recettes:detail", args=[change_request.pk])


def _locked_plan(pk: int) -> AcceptancePlan:
    return for_update(
        AcceptancePlan.objects.select_related("organisation", "change_request__release")
    ).get(pk=pk)


def _editable_plan(pk: int, by) -> AcceptancePlan:
    plan = _locked_plan(pk)
    access.require_any_role(by, PLAN_AUTHORS, plan.organisation)
    if plan.is_frozen:
        raise ActionRefused(
            _("Le plan de recette est figé (%(state)s) : rouvrez-le pour le modifier.")
            % {"state": plan.get_status_display()}
        )
    return plan


def _locked_report(pk: int) -> AcceptanceReport:
    return for_update(
        AcceptanceReport.objects.select_related("organisation", "change_request")
    ).get(pk=pk)
