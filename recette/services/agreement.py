"""The go-live agreement: both DSIs sign it (password and authenticator code), or
one refuses it and the work goes back to fixes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import AcceptanceReport, Defect, GoLiveAgreement, Signature
from recette.services._common import _acceptance_link, _locked_report
from workflow import access, audit, events
from workflow.locking import for_update
from workflow.models import AuditEntry
from workflow.second_factor import second_factor_verify
from workflow.transitions import ActionRefused, fire


def _signing_side(user, organisation) -> str:
    """The side a DSI signs for; nobody signs for both."""
    dsi_roles = (Role.DSI_CLIENT, Role.DSI_FOURNISSEUR)
    access.require_any_role(user, dsi_roles, organisation)
    client = access.may_act(user, Role.DSI_CLIENT, organisation)
    if client and access.may_act(user, Role.DSI_FOURNISSEUR, organisation):
        raise ActionRefused(
            _("Une même personne ne peut signer pour les deux parties.")
        )
    return GoLiveAgreement.Side.CLIENT if client else GoLiveAgreement.Side.SUPPLIER


def _check_password(user, password: str) -> None:
    if not password or not user.check_password(password):
        raise ValidationError({"password": _("Mot de passe incorrect.")})


def _check_second_factor(user, pk: int, code: str) -> None:
    """The decider's role first (nobody else learns whether they have a device),
    then a valid, never used code of their confirmed TOTP device, spent here."""
    agreement = GoLiveAgreement.objects.select_related("organisation").get(pk=pk)
    _signing_side(user, agreement.organisation)
    second_factor_verify(user=user, code=code)


def signing_obstacles(agreement: GoLiveAgreement) -> list[str]:
    """Why the agreement cannot be signed yet (empty: it can)."""
    report = agreement.change_request.acceptance_report
    reasons = []
    if report.verdict == AcceptanceReport.Verdict.UNFAVORABLE:
        reasons.append(_("Le bilan de recette est défavorable."))
    unresolved = Defect.objects.filter(
        change_request=agreement.change_request, status__in=Defect.UNRESOLVED
    ).order_by("number")
    blocking = [
        d.reference for d in unresolved if d.severity == Defect.Severity.BLOCKING
    ]
    if blocking:
        reasons.append(
            _("Anomalie(s) bloquante(s) non résolue(s) : %(refs)s.")
            % {"refs": ", ".join(blocking)}
        )
    reserved = set(report.reserved_defects.values_list("pk", flat=True))
    majors = [
        d.reference
        for d in unresolved
        if d.severity == Defect.Severity.MAJOR and d.pk not in reserved
    ]
    if majors:
        reasons.append(
            _("Anomalie(s) majeure(s) ouverte(s) absente(s) des réserves : %(refs)s.")
            % {"refs": ", ".join(majors)}
        )
    return reasons


def agreement_sign(*, pk: int, by, password: str, otp_token: str) -> GoLiveAgreement:
    """A DSI signs the go-live agreement (password asked again, plus a code of their
    authenticator app); with both signatures the change request goes into
    production."""
    _check_password(by, password)
    _check_second_factor(by, pk, otp_token)
    with transaction.atomic():
        agreement = for_update(
            GoLiveAgreement.objects.select_related("organisation", "change_request")
        ).get(pk=pk)
        side = _signing_side(by, agreement.organisation)
        if agreement.status != GoLiveAgreement.Status.PENDING:
            raise ActionRefused(
                _("Cet accord n'est plus à signer (%(state)s).")
                % {"state": agreement.get_status_display()}
            )
        obstacles = signing_obstacles(agreement)
        if obstacles:
            raise ActionRefused(" ".join(str(reason) for reason in obstacles))
        signatures = {s.side: s for s in agreement.signatures.select_related("signer")}
        if side in signatures:
            raise ActionRefused(
                _("La %(side)s a déjà signé (%(name)s).")
                % {
                    "side": GoLiveAgreement.Side(side).label,
                    "name": signatures[side].signer.get_full_name(),
                }
            )
        if any(s.signer_id == by.pk for s in signatures.values()):
            raise ActionRefused(
                _("Une même personne ne peut signer pour les deux parties.")
            )
        signature = Signature.objects.create(
            agreement=agreement,
            side=side,
            signer=by,
            report_sha256=agreement.report_sha256,
            second_factor=GoLiveAgreement.SecondFactor.TOTP,
        )
        change_request = agreement.change_request
        audit.record(
            AuditEntry.Action.SIGNATURE,
            by=by,
            subject=signature,
            organisation=change_request.organisation.code,
            side=side,
            report_sha256=agreement.report_sha256,
            second_factor=signature.second_factor,
        )
        events.announce(
            "agreement_signed",
            change_request,
            key=signature.pk,
            comment=f"{signature.get_side_display()} : {by.get_full_name()}",
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        if len(signatures) + 1 == len(GoLiveAgreement.Side.values):
            fire(agreement, "complete", by=by)
            change_request = ChangeRequest.objects.select_for_update().get(
                pk=agreement.change_request_id
            )
            fire(
                change_request,
                "go_live",
                by=by,
                comment=_("Accord de mise en production signé par les deux DSI."),
            )
            # Annexe 3.1: the implementation of an evolution is notified to the
            # client's DSI and the portal's webmaster.
            events.announce(
                "go_live",
                change_request,
                key=agreement.pk,
                recipients=[
                    *events.client_contacts(change_request, events.ROLLOUT),
                    *events.client(change_request, Role.PORTEUR_DEMANDE),
                    *events.supplier(Role.DSI_FOURNISSEUR),
                    *events.order_owner(change_request),
                ],
                link=_acceptance_link(change_request),
            )
    return agreement


def agreement_refuse(
    *, pk: int, by, password: str, reason: str, otp_token: str
) -> GoLiveAgreement:
    """A DSI refuses the go-live, with a reason: the work goes back to fixes.

    A refusal is a signed decision too: password and authenticator code, recorded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Le motif du refus est obligatoire.")})
    _check_password(by, password)
    _check_second_factor(by, pk, otp_token)
    with transaction.atomic():
        agreement = for_update(
            GoLiveAgreement.objects.select_related("organisation", "change_request")
        ).get(pk=pk)
        _signing_side(by, agreement.organisation)
        agreement.refusal_second_factor = GoLiveAgreement.SecondFactor.TOTP
        log = fire(agreement, "refuse", by=by, comment=reason, reason=reason)
        change_request = agreement.change_request
        events.announce(
            "agreement_refused",
            change_request,
            key=log.pk,
            comment=reason,
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.supplier(Role.MOE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        report = _locked_report(agreement.change_request.acceptance_report.pk)
        fire(report, "reopen", by=by, comment=reason)
    return agreement
