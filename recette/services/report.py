"""The acceptance report: verdict and reserves, then submitted with its figures and
PDF frozen, which opens the go-live agreement."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import AcceptanceReport, Campaign, Defect, GoLiveAgreement
from recette.selectors import report_figures
from recette.services._common import CLIENT_LEADS, _acceptance_link, _locked_report
from workflow import access, events
from workflow.transitions import ActionRefused, fire


def report_prepare(*, change_request_pk: int, by) -> AcceptanceReport:
    """The client's request owner starts the acceptance report (idempotent)."""
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, CLIENT_LEADS, change_request.organisation)
        if not change_request.campaigns.filter(status=Campaign.Status.CLOSED).exists():
            raise ActionRefused(
                _("Le bilan se rédige après au moins une campagne close.")
            )
        report, _created = AcceptanceReport.objects.get_or_create(
            change_request=change_request,
            defaults={"organisation": change_request.organisation},
        )
    return report


def report_update(
    *,
    pk: int,
    by,
    verdict: str,
    reserves: str = "",
    reserved_defect_pks: tuple[int, ...] = (),
) -> AcceptanceReport:
    """The client writes the verdict and the reserves (the figures are computed)."""
    if verdict not in AcceptanceReport.Verdict.values:
        raise ValidationError({"verdict": _("Choisissez l'avis du bilan.")})
    with transaction.atomic():
        report = _locked_report(pk)
        access.require_any_role(by, CLIENT_LEADS, report.organisation)
        if report.status != AcceptanceReport.Status.DRAFT:
            raise ActionRefused(_("Le bilan déposé est figé."))
        defects = list(
            Defect.objects.filter(
                change_request=report.change_request, pk__in=reserved_defect_pks
            )
        )
        if len(defects) != len(set(reserved_defect_pks)):
            raise ValidationError(
                _("Une anomalie indiquée n'appartient pas à cette recette.")
            )
        report.verdict, report.reserves = verdict, reserves.strip()
        report.save(update_fields=["verdict", "reserves"])
        report.reserved_defects.set(defects)
    return report


def report_submit(*, pk: int, by) -> GoLiveAgreement:
    """The client submits the report: figures and PDF are frozen, and the go-live
    agreement opens for both DSIs' signatures."""
    from recette.pdf_data import report_pdf  # documents read what services write

    with transaction.atomic():
        report = _locked_report(pk)
        access.require_any_role(by, CLIENT_LEADS, report.organisation)
        change_request = report.change_request
        if not report.verdict:
            raise ValidationError({"verdict": _("Choisissez l'avis du bilan.")})
        if report.verdict == AcceptanceReport.Verdict.WITH_RESERVES and not (
            report.reserves
        ):
            raise ValidationError({"reserves": _("Un avis avec réserves les énonce.")})
        if change_request.campaigns.filter(status=Campaign.Status.OPEN).exists():
            raise ActionRefused(_("Une campagne est encore en cours : fermez-la."))
        report.figures = report_figures(change_request)
        report.submitted_by, report.submitted_at = by, timezone.now()
        fire(report, "submit", by=by)
        # The PDF is built and stored after the transition's audit entry is
        # recorded, but that entry is only queued: it is chained as the last
        # statement before COMMIT (workflow.db.journal), so the journal's global
        # lock is not held while this report's PDF is built.
        content = report_pdf(report)
        digest = hashlib.sha256(content).hexdigest()
        report.document.save(
            f"{change_request.reference}-bilan-v{report.version}.pdf",
            ContentFile(content),
            save=False,
        )
        report.document_sha256 = digest
        report.save()
        events.announce(
            "report_submitted",
            change_request,
            key=f"v{report.version}",
            comment=report.get_verdict_display(),
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        return GoLiveAgreement.objects.create(
            change_request=change_request,
            organisation=report.organisation,
            report_version=report.version,
            report_sha256=digest,
            report_document=report.document.name,
        )
