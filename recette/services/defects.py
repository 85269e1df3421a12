"""Defects: raised by testers, rejected by the supplier, verified or reopened by
the client."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import (
    Campaign,
    Defect,
    DefectAttachment,
    DefectComment,
    Execution,
    RecetteProcess,
    TestCase,
)
from recette.services._common import (
    CLIENT_LEADS,
    SUPPLIER_FIXERS,
    TESTERS,
)
from workflow import access, consistency, events
from workflow.locking import for_update
from workflow.notifications import Recipient
from workflow.transitions import ActionRefused, fire, required_text
from workflow.uploads import validate_upload

# Who writes in a defect's thread and joins files to it: the client's testers and
# project owner, the supplier's project team and order owner.
DISCUSSANTS = (*TESTERS, *SUPPLIER_FIXERS)


def defect_link(defect: Defect) -> str:
    return reverse("recettes:defect", args=[defect.pk])


def _where_found(change_request, *, campaign_pk, case_pk, step):
    """The campaign, case and step a defect is raised from, each checked to belong
    to this acceptance (and the step to the case)."""
    campaign = case = None
    if campaign_pk:
        campaign = Campaign.objects.filter(
            change_request=change_request, pk=campaign_pk
        ).first()
        if campaign is None:
            raise ValidationError(
                {"campaign": _("Cette campagne n'appartient pas à cette recette.")}
            )
    if case_pk:
        case = TestCase.objects.filter(
            plan__change_request=change_request, pk=case_pk
        ).first()
        if case is None:
            raise ValidationError(
                {"case": _("Ce cas de test n'appartient pas à cette recette.")}
            )
        if campaign and not campaign.campaign_cases.filter(case=case).exists():
            raise ValidationError(
                {"case": _("Ce cas de test ne fait pas partie de cette campagne.")}
            )
    if step:
        if case is None:
            raise ValidationError(
                {"step": _("Une étape se désigne dans un cas de test.")}
            )
        if not case.steps.filter(number=step).exists():
            raise ValidationError(
                {
                    "step": _("Le cas %(case)s n'a pas d'étape %(step)s.")
                    % {"case": case.reference, "step": step}
                }
            )
    return campaign, case


def _store_attachments(defect: Defect, files: Sequence, by) -> list[DefectAttachment]:
    stored = []
    for uploaded in files:
        attachment = DefectAttachment(defect=defect)
        attachment.store(uploaded, by=by)
        attachment.save()
        stored.append(attachment)
    return stored


def defect_open(
    *,
    change_request_pk: int,
    by,
    title: str,
    severity: str,
    description: str = "",
    steps_to_reproduce: str = "",
    expected: str = "",
    observed: str = "",
    campaign_pk: int | None = None,
    case_pk: int | None = None,
    step: int | None = None,
    execution_pks: tuple[int, ...] = (),
    files: Sequence = (),
) -> Defect:
    """A tester raises a defect, usually from a failed case of a campaign, with
    what was expected and observed and the files that show it."""
    title = required_text(title, _("L'intitulé de l'anomalie est obligatoire."))
    if severity not in Defect.Severity.values:
        raise ValidationError({"severity": _("Choisissez la gravité de l'anomalie.")})
    for uploaded in files:
        validate_upload(uploaded)
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, TESTERS, change_request.organisation)
        campaign, case = _where_found(
            change_request, campaign_pk=campaign_pk, case_pk=case_pk, step=step
        )
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
            description=description.strip(),
            steps_to_reproduce=steps_to_reproduce.strip(),
            expected=expected.strip(),
            observed=observed.strip(),
            severity=severity,
            campaign=campaign,
            case=case,
            step=step or None,
            opened_by=by,
        )
        defect.executions.set(executions)
        _store_attachments(defect, files, by)
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
            link=defect_link(defect),
        )
    return defect


def defect_comment_add(*, pk: int, by, text: str) -> DefectComment:
    """Either side writes in a defect's thread; the other side is told."""
    text = required_text(text, _("Écrivez votre message avant de l'envoyer."))
    with transaction.atomic():
        defect = _locked_defect(pk, by, DISCUSSANTS)
        comment = DefectComment.objects.create(defect=defect, author=by, text=text)
        from_supplier = access.is_supplier_user(by)
        change_request = defect.change_request
        recipients = (
            [
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                Recipient(defect.opened_by.email, defect.opened_by),
            ]
            if from_supplier
            else [*events.supplier(Role.MOE), *events.order_owner(change_request)]
        )
        events.announce(
            "defect_commented",
            change_request,
            key=f"{defect.pk}-{comment.pk}",
            comment=f"{defect.reference} – {text}",
            recipients=[r for r in recipients if r.email and r.user != by],
            link=defect_link(defect),
        )
    return comment


def defect_attachments_add(*, pk: int, by, files: Sequence) -> list[DefectAttachment]:
    """Either side joins files to a defect (all or none)."""
    if not files:
        raise ValidationError(_("Choisissez au moins un fichier."))
    for uploaded in files:
        validate_upload(uploaded)
    with transaction.atomic():
        defect = _locked_defect(pk, by, DISCUSSANTS)
        return _store_attachments(defect, files, by)


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


def defect_may_discuss(user, defect: Defect) -> bool:
    """May the user write in the defect's thread and join files to it?"""
    return access.may_act_any(user, DISCUSSANTS, defect.organisation)


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
