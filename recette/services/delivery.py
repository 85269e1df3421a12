"""Deliveries to recette: each opens a campaign, of every case or of those to test
again."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.models import ContactPoint, Role
from evolutions.models import ChangeRequest
from recette.models import (
    AcceptancePlan,
    Campaign,
    CampaignCase,
    Defect,
    Delivery,
    Execution,
)
from recette.selectors import case_latest_results
from recette.services._common import R
from workflow import access, routing
from workflow.notifications import notify
from workflow.transitions import ActionRefused, fire, required_text


def _retest_cases(plan: AcceptancePlan, fixed: list[Defect]) -> set[int]:
    """Cases of the plan whose latest result over the whole acceptance is not a
    pass (failed, blocked, or never run: left unrun in a re-test, or added by a
    new version of the plan), plus those behind the defects this delivery claims
    to fix."""
    again = {
        case
        for case, result in case_latest_results(plan).items()
        if result not in (R.PASSED, R.NOT_APPLICABLE)
    }
    again |= set(
        Execution.objects.filter(defects__in=fixed).values_list("case_id", flat=True)
    )
    return again


def delivery_record(
    *,
    change_request_pk: int,
    by,
    on: date,
    environment: str,
    release_notes: str = "",
    fixed_defect_pks: tuple[int, ...] = (),
) -> Campaign:
    """The project team delivers a build to recette, which opens a campaign.

    The first campaign runs every case of the validated plan; a re-test campaign
    runs what failed or was blocked, plus the cases of the defects claimed fixed.
    """
    environment = required_text(environment, _("Indiquez l'environnement de recette."))
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        organisation = change_request.organisation
        access.require_role(by, Role.MOE, organisation)
        plan = AcceptancePlan.objects.filter(change_request=change_request).first()
        if plan is None or plan.status != AcceptancePlan.Status.VALIDATED:
            raise ActionRefused(_("Le plan de recette doit d'abord être validé."))
        last_qualification = change_request.qualifications.last()
        if last_qualification is None or not last_qualification.passed:
            raise ActionRefused(
                _("Aucune livraison en recette sans qualification technique réussie.")
            )
        previous = change_request.campaigns.order_by("number").last()
        if previous is not None and previous.status == Campaign.Status.OPEN:
            raise ActionRefused(
                _(
                    "La campagne %(number)s est en cours : elle doit être close avant "
                    "une nouvelle livraison."
                )
                % {"number": previous.number}
            )
        fixed = list(
            Defect.objects.select_for_update().filter(
                change_request=change_request, pk__in=fixed_defect_pks
            )
        )
        if len(fixed) != len(set(fixed_defect_pks)):
            raise ValidationError(
                _("Une anomalie indiquée n'appartient pas à cette recette.")
            )
        delivery = Delivery.objects.create(
            change_request=change_request,
            number=change_request.deliveries.count() + 1,
            date=on,
            environment=environment,
            release_notes=release_notes,
            created_by=by,
        )
        delivery.fixed_defects.set(fixed)
        for defect in fixed:
            fire(
                defect,
                "mark_fixed",
                by=by,
                delivery=delivery,
                comment=_("Corrigée dans la livraison %(n)s") % {"n": delivery.number},
            )
        if previous is None:
            case_ids = set(plan.cases.values_list("pk", flat=True))
            kind = Campaign.Kind.FIRST
        else:
            case_ids = _retest_cases(plan, fixed)
            kind = Campaign.Kind.RETEST
        campaign = Campaign.objects.create(
            change_request=change_request,
            organisation=organisation,
            delivery=delivery,
            number=(previous.number + 1) if previous else 1,
            kind=kind,
        )
        CampaignCase.objects.bulk_create(
            CampaignCase(campaign=campaign, case_id=case_id)
            for case_id in sorted(case_ids)
        )
        # Annexe 3: delivery planning goes to the client's DSI and the portal's
        # webmaster; the testers and the request owner have cases to run.
        notify(
            event=f"delivery_made:{change_request.pk}:{delivery.pk}",
            kind="delivery_made",
            organisation=organisation,
            recipients=[
                *routing.contact_points(
                    organisation, ContactPoint.Subject.DELIVERY_PLANNING
                ),
                *routing.role_holders(Role.TESTEUR, organisation),
                *routing.role_holders(Role.PORTEUR_DEMANDE, organisation),
            ],
            context={"cr": change_request, "delivery": delivery, "campaign": campaign},
            link=reverse("recettes:grid", args=[campaign.pk]),
        )
    return campaign
