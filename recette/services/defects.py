"""Defects: raised by testers, rejected by the supplier, verified or reopened by
the client."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import Defect, Execution, RecetteProcess
from recette.services._common import (
    CLIENT_LEADS,
    SUPPLIER_FIXERS,
    TESTERS,
    _acceptance_link,
)
from workflow import access, consistency, events
from workflow.locking import for_update
from workflow.transitions import ActionRefused, fire, required_text


def defect_open(
    *,
    change_request_pk: int,
    by,
    title: str,
    severity: str,
    description: str = "",
    execution_pks: tuple[int, ...] = (),
) -> Defect:
    """A tester raises a defect, usually from a failed execution."""
    title = required_text(title, _("L'intitulé de l'anomalie est obligatoire."))
    if severity not in Defect.Severity.values:
        raise ValidationError({"severity": _("Choisissez la gravité de l'anomalie.")})
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, TESTERS, change_request.organisation)
        executions = list(
            Execution.objects.filter(
                campaign__change_request=change_request, pk__in=execution_pks
            )
        )
        if len(executions) != len(set(execution_pks)):
            raise ValidationError(
                _("Une exécution indiquée n'appartient pas à cette recette.")
            )
        defect = Defect.objects.create(
            change_request=change_request,
            organisation=change_request.organisation,
            number=change_request.defects.count() + 1,
            title=title,
            description=description,
            severity=severity,
            opened_by=by,
        )
        defect.executions.set(executions)
        events.announce(
            "defect_opened",
            change_request,
            key=defect.pk,
            comment=(
                f"{defect.reference} – {defect.title} ({defect.get_severity_display()})"
            ),
            recipients=[
                *events.supplier(Role.MOE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
    return defect


def defect_allowed_actions(user, defect: Defect) -> set[str]:
    """The moves of a defect the user may make now (the services check again)."""
    organisation = defect.organisation
    actions = set()
    if access.may_act_any(user, SUPPLIER_FIXERS, organisation) and (
        defect.reject.can_proceed()
    ):
        actions.add("rejeter")
    if access.may_act_any(user, CLIENT_LEADS, organisation) and (
        defect.accept_rejection.can_proceed()
    ):
        actions.add("accepter-le-rejet")
    if access.may_act_any(user, TESTERS, organisation):
        if defect.verify.can_proceed():
            actions.add("verifier")
        if defect.reopen.can_proceed():
            actions.add("rouvrir")
    return actions


def _locked_defect(pk: int, by, roles) -> Defect:
    """The defect, locked, for a holder of one of `roles` while its acceptance
    runs (the role first: nobody else learns the acceptance's state)."""
    defect = for_update(Defect.objects.select_related("organisation")).get(pk=pk)
    access.require_any_role(by, roles, defect.organisation)
    process = RecetteProcess.objects.filter(
        change_request_id=defect.change_request_id
    ).first()
    if not consistency.process_is_open(process):
        raise ActionRefused(
            _("La recette est terminée : ses anomalies ne changent plus d'état.")
        )
    return defect


def defect_reject(*, pk: int, by, reason: str) -> Defect:
    """The supplier rejects a defect (not a defect, or out of scope), with a reason."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, SUPPLIER_FIXERS)
        reason = required_text(reason, _("Le motif du rejet est obligatoire."))
        fire(defect, "reject", by=by, comment=reason, reason=reason)
    return defect


def defect_accept_rejection(*, pk: int, by) -> Defect:
    """The client accepts the supplier's rejection."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, CLIENT_LEADS)
        fire(defect, "accept_rejection", by=by)
    return defect


def defect_verify(*, pk: int, by) -> Defect:
    """The client checks that a fixed defect is gone."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, TESTERS)
        fire(defect, "verify", by=by)
    return defect


def defect_reopen(*, pk: int, by, reason: str) -> Defect:
    """The client reopens a defect whose fix or rejection it does not accept."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, TESTERS)
        reason = required_text(reason, _("Indiquez pourquoi l'anomalie est réouverte."))
        fire(defect, "reopen", by=by, comment=reason)
    return defect
