"""The acceptance's start and its plan: workload and schedule, submission, the
client's decision, a validated plan reopened as a new version."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import AcceptancePlan, Campaign, RecetteProcess
from recette.services._common import (
    CLIENT_LEADS,
    PLAN_AUTHORS,
    _acceptance_link,
    _editable_plan,
    _locked_plan,
)
from workflow import access, consistency, events
from workflow.calendars import add_working_days, working_days_between
from workflow.locking import process_locked
from workflow.transitions import ActionRefused, fire, required_text


def margin_days() -> int:
    """Working days the plan must leave before the release's production date."""
    return int(getattr(settings, "TANDEM_RECETTE_MARGIN_DAYS", 10))


@dataclass(frozen=True)
class PlanMargin:
    """What the plan's schedule leaves before the release goes into production."""

    required: int  # working days asked (TANDEM_RECETTE_MARGIN_DAYS)
    release: str
    production_date: date
    latest_end: date  # the last end of the acceptance that leaves the margin
    left: int | None  # working days from the plan's end to production (None: no end)

    @property
    def eaten(self) -> bool:
        return self.left is not None and self.left < self.required

    @property
    def missing(self) -> int:
        """Working days the schedule takes from the margin (0: none)."""
        return self.required - self.left if self.eaten else 0


def plan_margin(plan: AcceptancePlan) -> PlanMargin | None:
    """The margin the schedule leaves before production (None: no release yet)."""
    release = plan.change_request.release
    if release is None:
        return None
    required = margin_days()
    return PlanMargin(
        required=required,
        release=release.number,
        production_date=release.production_date,
        latest_end=add_working_days(release.production_date, -required),
        left=(
            None
            if plan.end is None
            else working_days_between(plan.end, release.production_date)
        ),
    )


def plan_margin_warning(plan: AcceptancePlan) -> str | None:
    """Why the schedule eats the margin before production, or None when it does not."""
    margin = plan_margin(plan)
    if margin is None or not margin.eaten:
        return None
    return _(
        "La recette finit %(left)s jour(s) ouvré(s) avant la mise en production de la "
        "version %(release)s : la marge demandée est de %(margin)s jours ouvrés."
    ) % {"left": margin.left, "release": margin.release, "margin": margin.required}


def acceptance_start(change_request: ChangeRequest) -> None:
    """Open the acceptance process of a request whose manufacture is done, with its
    empty plan (the plan's page then only reads)."""
    from recette.flows import RecetteFlow  # the flow's views import the services

    AcceptancePlan.objects.get_or_create(
        change_request=change_request,
        defaults={"organisation": change_request.organisation},
    )
    RecetteFlow.start.run(change_request=change_request)


def acceptance_start_on_manufacture(sender, *, change_request, **kwargs) -> None:
    """Receiver of evolutions.signals.manufacture_finished."""
    acceptance_start(change_request)


def plan_prepare(*, change_request_pk: int, by) -> AcceptancePlan:
    """The supplier opens the acceptance plan of a manufactured request (idempotent)."""
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, PLAN_AUTHORS, change_request.organisation)
        if change_request.status != ChangeRequest.Status.IN_ACCEPTANCE:
            raise ActionRefused(
                _("La demande doit être fabriquée avant de préparer sa recette.")
            )
        plan, _created = AcceptancePlan.objects.get_or_create(
            change_request=change_request,
            defaults={"organisation": change_request.organisation},
        )
    return plan


def plan_update(
    *,
    pk: int,
    by,
    workload: Decimal | None,
    start: date | None,
    end: date | None,
    margin_justification: str | None = None,
) -> AcceptancePlan:
    """The supplier sets the plan's workload and schedule, and why a schedule that
    eats the margin before production is still proposed (None: left as it is)."""
    errors = {}
    if workload is not None and workload <= 0:
        errors["workload"] = _("La charge doit être un nombre de jours positif.")
    if start and end and end < start:
        errors["end"] = _("La fin de la recette doit suivre son début.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        plan.workload, plan.start, plan.end = workload, start, end
        fields = ["workload", "start", "end"]
        if margin_justification is not None:
            plan.margin_justification = margin_justification.strip()
            fields.append("margin_justification")
        plan.save(update_fields=fields)
    return plan


def plan_submit(*, pk: int, by) -> AcceptancePlan:
    """The supplier submits the plan to the client for validation."""
    with transaction.atomic():
        plan = _locked_plan(pk)
        access.require_any_role(by, PLAN_AUTHORS, plan.organisation)
        missing = []
        if plan.workload is None or plan.start is None or plan.end is None:
            missing.append(_("la charge et le planning"))
        if not plan.cases.exists():
            missing.append(_("au moins un cas de test"))
        if missing:
            raise ValidationError(
                _("Avant de soumettre le plan, indiquez %(missing)s.")
                % {"missing": _(" et ").join(str(item) for item in missing)}
            )
        warning = plan_margin_warning(plan)
        if warning is None:
            # Nothing to justify: no earlier schedule's reason goes to the client.
            plan.margin_justification = ""
        elif not plan.margin_justification.strip():
            raise ValidationError(
                {
                    "margin_justification": _(
                        "%(warning)s Justifiez ce planning pour soumettre le plan."
                    )
                    % {"warning": warning}
                }
            )
        log = fire(plan, "submit", by=by)
        events.announce(
            "plan_submitted",
            plan.change_request,
            key=log.pk,
            recipients=events.client(plan.change_request, Role.PORTEUR_DEMANDE),
            link=_acceptance_link(plan.change_request),
        )
    return plan


def plan_decide(*, pk: int, by, validated: bool, comment: str = "") -> AcceptancePlan:
    """The client validates the plan (it is then frozen) or sends it back."""
    comment = (comment or "").strip()
    if not validated and not comment:
        raise ValidationError(
            {"comment": _("Expliquez ce qui doit être repris dans le plan.")}
        )
    with transaction.atomic():
        plan = _locked_plan(pk)
        access.require_any_role(by, CLIENT_LEADS, plan.organisation)
        transition = "validate" if validated else "send_back"
        log = fire(plan, transition, by=by, comment=comment, decision_comment=comment)
        events.announce(
            "plan_decided",
            plan.change_request,
            key=log.pk,
            comment=comment,
            recipients=[
                *events.order_owner(plan.change_request),
                *events.supplier(Role.MOE),
            ],
            link=_acceptance_link(plan.change_request),
        )
    return plan


def plan_reopen(*, pk: int, by, reason: str) -> AcceptancePlan:
    """The supplier changes a validated plan: a new version, to validate again.

    Possible while the acceptance waits for the qualification, a delivery or the
    report: that step is cancelled and the plan goes back to preparation (then the
    client's review, then the next delivery). Refused during a campaign, the
    signatures, or once the acceptance is over."""
    from recette.flows import RecetteFlow

    plan_row = AcceptancePlan.objects.select_related("organisation").get(pk=pk)
    access.require_any_role(by, PLAN_AUTHORS, plan_row.organisation)  # role first
    reason = required_text(reason, _("Indiquez pourquoi le plan validé doit changer."))
    with _locked_recette(plan_row.change_request_id) as process:
        plan = _locked_plan(pk)
        if plan.change_request.campaigns.filter(status=Campaign.Status.OPEN).exists():
            raise ActionRefused(
                _("Une campagne est en cours : fermez-la avant de modifier le plan.")
            )
        reopenable = [
            getattr(RecetteFlow, name) for name in RecetteFlow.PLAN_REOPENABLE_AT
        ]
        consistency.require_step(
            process, *reopenable, action=_("Rouvrir le plan validé")
        )
        fire(plan, "reopen", by=by, comment=reason)
        consistency.move_to(process, RecetteFlow.prepare_plan, waiting=reopenable)
        events.announce(
            "plan_reopened",
            plan.change_request,
            key=plan.version,
            comment=reason,
            recipients=events.client(plan.change_request, Role.PORTEUR_DEMANDE),
            link=_acceptance_link(plan.change_request),
        )
    return plan


@contextmanager
def _locked_recette(change_request_pk: int):
    """The acceptance's process, its flow lock held (taken before any row)."""
    from recette.flows import RecetteFlow

    process = RecetteProcess.objects.filter(change_request_id=change_request_pk).first()
    with process_locked(RecetteFlow, process):
        yield RecetteProcess.objects.get(pk=process.pk) if process else None


def plan_allowed_actions(user, plan: AcceptancePlan) -> set[str]:
    """What the user may do on the plan from its page."""
    from recette.flows import RecetteFlow

    actions = set()
    if access.may_act_any(user, PLAN_AUTHORS, plan.organisation):
        if not plan.is_frozen:
            # Cases typed in, changed, moved, deleted or imported (services.cases
            # keeps a played case's steps).
            actions.update({"add_case", "import"})
        waiting = consistency.open_step_names(
            RecetteProcess.objects.filter(
                change_request_id=plan.change_request_id
            ).first()
        )
        if plan.reopen.can_proceed() and set(waiting) & set(
            RecetteFlow.PLAN_REOPENABLE_AT
        ):
            actions.add("reopen")
    return actions
