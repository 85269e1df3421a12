"""Signing roles under four eyes: an administrator asks, another person approves.

"DSI client" and "DSI fournisseur" sign go-live agreements. Nobody grants them
alone: an administrator files a RoleRequest (who, for which organisation, why); a
holder of that role for that organisation approves or refuses it, or, while the
organisation has none, another administrator does. The requester never decides his
own request and nobody decides a request for himself. The request, the decision and
the role it grants are journalled, and the organisation's DSI are told.

The Django admin cannot grant these roles (contacts/admin.py); `setup_demo` and
the other operator commands do, from the command line, as `createsuperuser` does.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import (
    SIGNING_ROLES,
    Membership,
    Organisation,
    Role,
    RoleRequest,
)
from workflow import access, audit, routing, statements
from workflow.locking import for_update
from workflow.models import AuditEntry
from workflow.notifications import notify
from workflow.transitions import ActionRefused, required_text

# The organisation each signing role is held for.
_ROLE_KIND = {
    Role.DSI_CLIENT: Organisation.Kind.CLIENT,
    Role.DSI_FOURNISSEUR: Organisation.Kind.SUPPLIER,
}


def administrators():
    """The active users holding the administrator's role."""
    holders = Membership.objects.filter(role=Role.ADMINISTRATEUR)
    return get_user_model().objects.filter(
        is_active=True, pk__in=holders.values("user_id")
    )


def _holders(role: str, organisation: Organisation):
    holders = Membership.objects.filter(role=role, organisation=organisation)
    return get_user_model().objects.filter(
        is_active=True, pk__in=holders.values("user_id")
    )


def approvers(role_request: RoleRequest):
    """Who may decide the request: the organisation's holders of the role, or the
    administrators while it has none; never its requester, never its subject."""
    deciders = _holders(role_request.role, role_request.organisation)
    if not deciders.exists():
        deciders = administrators()
    return deciders.exclude(
        pk__in=[role_request.requested_by_id, role_request.user_id]
    ).order_by("username")


def may_decide(user, role_request: RoleRequest) -> bool:
    return (
        role_request.state == RoleRequest.State.PENDING
        and approvers(role_request).filter(pk=user.pk).exists()
    )


def requests_to_decide(user):
    """The pending requests this user may approve or refuse."""
    # Every DSI's home asks it: compiled once per user's conditions.
    pending = statements.shaped(
        ("roles.pending", access.scope_signature(user)),
        RoleRequest,
        lambda: access.role_requests_visible_to(user).filter(
            state=RoleRequest.State.PENDING
        ),
    )
    return [r for r in pending if may_decide(user, r)]


def role_request_create(*, by, user, organisation, role, reason) -> RoleRequest:
    """File a request (administrators only)."""
    if not access.is_administrator(by):
        raise PermissionDenied(
            _(
                "Seul un administrateur peut demander l'attribution d'un rôle de "
                "signature."
            )
        )
    role = Role(role)
    if role not in SIGNING_ROLES:
        raise ValidationError({"role": _("Ce rôle n'est pas un rôle de signature.")})
    if organisation.kind != _ROLE_KIND[role]:
        raise ValidationError(
            {
                "organisation": _(
                    "Le rôle « %(role)s » n'existe pas pour cet organisme."
                )
                % {"role": role.label}
            }
        )
    reason = required_text(reason, _("Indiquez le motif de la demande."))
    if Membership.objects.filter(
        user=user, organisation=organisation, role=role
    ).exists():
        raise ValidationError({"user": _("Cet utilisateur a déjà ce rôle.")})
    try:
        with transaction.atomic():
            role_request = RoleRequest.objects.create(
                user=user,
                organisation=organisation,
                role=role,
                reason=reason,
                requested_by=by,
            )
            audit.record(
                AuditEntry.Action.TRANSITION,
                by=by,
                subject=role_request,
                organisation=organisation.code,
                transition="role_request",
                to=RoleRequest.State.PENDING,
                user=user.get_username(),
                role=role.value,
                reason=reason[:500],
            )
            _announce(role_request, "requested", extra=list(approvers(role_request)))
    except IntegrityError:
        raise ValidationError(
            {
                "user": _(
                    "Une demande est déjà en attente pour ce rôle et cet utilisateur."
                )
            }
        ) from None
    return role_request


def role_request_decide(*, pk: int, by, approve: bool, reason: str = "") -> RoleRequest:
    """Approve (the role is granted) or refuse (with a reason) a pending request."""
    with transaction.atomic():
        role_request = for_update(RoleRequest.objects.filter(pk=pk)).get()
        if role_request.state != RoleRequest.State.PENDING:
            raise ActionRefused(
                _("Cette demande est déjà %(state)s : rien n'a été modifié.")
                % {"state": role_request.get_state_display().lower()}
            )
        if by.pk in (role_request.requested_by_id, role_request.user_id):
            raise PermissionDenied(
                _(
                    "Une demande de rôle de signature est approuvée par une autre "
                    "personne que celle qui l'a faite ou qu'elle concerne."
                )
            )
        if not may_decide(by, role_request):
            raise PermissionDenied(
                _(
                    "Cette demande est approuvée par un titulaire du rôle pour "
                    "l'organisme ou, s'il n'y en a pas, par un autre administrateur."
                )
            )
        if not approve:
            reason = required_text(reason, _("Indiquez le motif du refus."))
        previous = role_request.state
        role_request.state = (
            RoleRequest.State.APPROVED if approve else RoleRequest.State.REFUSED
        )
        role_request.decided_by = by
        role_request.decided_at = timezone.now()
        role_request.decision_reason = (reason or "").strip()
        role_request.save(
            update_fields=["state", "decided_by", "decided_at", "decision_reason"]
        )
        if approve:
            Membership.objects.get_or_create(
                user=role_request.user,
                organisation=role_request.organisation,
                role=role_request.role,
            )
        audit.record(
            AuditEntry.Action.TRANSITION,
            by=by,
            subject=role_request,
            organisation=role_request.organisation.code,
            transition="role_request_decide",
            **{"from": previous},
            to=role_request.state,
            user=role_request.user.get_username(),
            role=role_request.role,
            reason=role_request.decision_reason[:500],
        )
        _announce(role_request, "approved" if approve else "refused")
    return role_request


def role_request_cancel(*, pk: int, by) -> RoleRequest:
    """The requester withdraws a pending request."""
    with transaction.atomic():
        role_request = for_update(RoleRequest.objects.filter(pk=pk)).get()
        if role_request.requested_by_id != by.pk:
            raise PermissionDenied(_("Seul l'auteur de la demande peut l'annuler."))
        if role_request.state != RoleRequest.State.PENDING:
            raise ActionRefused(
                _("Cette demande est déjà %(state)s : rien n'a été modifié.")
                % {"state": role_request.get_state_display().lower()}
            )
        role_request.state = RoleRequest.State.CANCELLED
        role_request.decided_by = by
        role_request.decided_at = timezone.now()
        role_request.save(update_fields=["state", "decided_by", "decided_at"])
        audit.record(
            AuditEntry.Action.TRANSITION,
            by=by,
            subject=role_request,
            organisation=role_request.organisation.code,
            transition="role_request_cancel",
            **{"from": RoleRequest.State.PENDING},
            to=role_request.state,
        )
    return role_request


_HEADLINES = {
    "requested": lambda r: _(
        "%(by)s demande d'attribuer le rôle « %(role)s » de %(organisation)s à "
        "%(user)s. Cette demande attend l'approbation d'une autre personne."
    ),
    "approved": lambda r: _(
        "Le rôle « %(role)s » de %(organisation)s est attribué à %(user)s "
        "(demande de %(by)s, approuvée par %(decider)s)."
    ),
    "refused": lambda r: _(
        "La demande d'attribuer le rôle « %(role)s » de %(organisation)s à %(user)s "
        "est refusée par %(decider)s."
    ),
}


def _name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _announce(role_request: RoleRequest, what: str, extra=()) -> None:
    """Tell the organisation's DSI (holders of the signing roles), the user
    concerned, the requester and `extra` users."""
    organisation = role_request.organisation
    recipients = [
        *routing.role_holders(Role.DSI_CLIENT, organisation),
        *routing.role_holders(Role.DSI_FOURNISSEUR, organisation),
    ]
    for user in (role_request.user, role_request.requested_by, *extra):
        if user.email:
            recipients.append(routing.Recipient(user.email, user))
    headline = _HEADLINES[what](role_request) % {
        "by": _name(role_request.requested_by),
        "decider": _name(role_request.decided_by),
        "role": role_request.get_role_display(),
        "organisation": organisation,
        "user": _name(role_request.user),
    }
    notify(
        event=f"role_request:{role_request.pk}:{what}",
        kind="role_request",
        organisation=organisation,
        recipients=recipients,
        context={
            "headline": headline,
            "reason": role_request.reason
            if what == "requested"
            else role_request.decision_reason,
        },
        link=reverse("annuaire:role_requests"),
    )
