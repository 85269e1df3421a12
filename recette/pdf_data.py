"""The acceptance documents' data, read from the database: plan, report, agreement
(laid out by recette.pdf)."""

from datetime import date

from django.utils import timezone

from recette import pdf
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    Defect,
    Execution,
    GoLiveAgreement,
)
from recette.selectors import report_figures
from workflow.labels import choice_labels

R = Execution.Result


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def plan_pdf(plan: AcceptancePlan, *, margin_warning: str | None) -> bytes:
    """The "cahier de recette": the plan with its cases and steps."""
    change_request = plan.change_request
    release = change_request.release
    cases = plan.cases.prefetch_related("steps")
    data = pdf.AcceptancePlanData(
        reference=change_request.reference,
        organisation=str(plan.organisation),
        change_request_title=change_request.title,
        version=plan.version,
        status=plan.get_status_display(),
        man_days=plan.workload,
        start=plan.start,
        end=plan.end,
        production_date=release.production_date if release else None,
        release_number=release.number if release else None,
        margin_warning=margin_warning,
        margin_justification=plan.margin_justification,
        cases=tuple(
            pdf.CaseData(
                reference=case.reference,
                title=case.title,
                objective=case.objective,
                priority=case.get_priority_display(),
                preconditions=case.preconditions,
                section=case.section,
                steps=tuple(
                    pdf.StepData(number=s.number, action=s.action, expected=s.expected)
                    for s in case.steps.all()
                ),
            )
            for case in cases
        ),
    )
    return pdf.acceptance_plan_pdf(data, generated_at=timezone.now())


def _figures(label: str, delivery: int | None, counts: dict) -> pdf.CampaignFigures:
    return pdf.CampaignFigures(
        name=label,
        delivery_number=delivery,
        planned=counts["planned"],
        run=counts["run"],
        passed=counts[R.PASSED],
        failed=counts[R.FAILED],
        blocked=counts[R.BLOCKED],
        not_applicable=counts[R.NOT_APPLICABLE],
    )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def report_pdf(report: AcceptanceReport, *, generated_at=None) -> bytes:
    """The "bilan de recette", from its frozen figures once submitted; dated
    `generated_at` (now when not given)."""
    change_request = report.change_request
    figures = report.figures or report_figures(change_request)
    kinds = dict(Campaign.Kind.choices)
    # Translated once, not once per defect.
    severities = choice_labels(Defect.Severity)
    statuses = choice_labels(Defect.Status)
    defects = Defect.objects.filter(change_request=change_request).order_by("number")
    data = pdf.AcceptanceReportData(
        reference=change_request.reference,
        organisation=str(report.organisation),
        change_request_title=change_request.title,
        version=report.version,
        verdict=report.get_verdict_display() or "—",
        reserves=report.reserves,
        submitted_at=report.submitted_at,
        author=_name(report.submitted_by),
        campaigns=tuple(
            _figures(f"{c['number']} – {kinds[c['kind']]}", c["delivery"], c)
            for c in figures["campaigns"]
        ),
        final=_figures("final", None, figures["final"]),
        defect_counts=tuple(
            pdf.DefectCount(severities[s], statuses[t], n)
            for s, t, n in figures["defects"]
        ),
        defects=tuple(
            pdf.DefectLine(
                d.reference, d.title, severities[d.severity], statuses[d.status]
            )
            for d in defects
        ),
        deliveries=tuple((n, date.fromisoformat(d)) for n, d in figures["deliveries"]),
        planned_start=_day(figures["planned"][0]),
        planned_end=_day(figures["planned"][1]),
        actual_start=_day(figures["actual"][0]),
        actual_end=_day(figures["actual"][1]),
        draft=report.status == AcceptanceReport.Status.DRAFT,
    )
    return pdf.acceptance_report_pdf(data, generated_at=generated_at or timezone.now())


def agreement_pdf(agreement: GoLiveAgreement) -> bytes:
    """The go-live agreement with both signatures and the signed report's SHA-256."""
    change_request = agreement.change_request
    report = change_request.acceptance_report
    signed = {s.side: s for s in agreement.signatures.select_related("signer")}
    data = pdf.GoLiveAgreementData(
        reference=change_request.reference,
        organisation=str(agreement.organisation),
        change_request_title=change_request.title,
        report_version=agreement.report_version,
        report_sha256=agreement.report_sha256,
        verdict=report.get_verdict_display(),
        reserves=report.reserves,
        signatures=tuple(
            pdf.SignatureData(
                side=str(label),
                name=_name(signed[side].signer) if side in signed else "",
                signed_at=signed[side].signed_at if side in signed else None,
            )
            for side, label in GoLiveAgreement.Side.choices
        ),
    )
    return pdf.go_live_agreement_pdf(data, generated_at=timezone.now())
