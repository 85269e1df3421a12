"""Where an acceptance's records say RecetteFlow must stand, and the documents that
must match the report's current version (workflow.consistency runs it)."""

import hashlib

from django.contrib.contenttypes.models import ContentType
from viewflow.workflow.status import PROCESS

from evolutions.models import ChangeRequest
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    GoLiveAgreement,
    RecetteProcess,
)
from workflow.consistency import Check, Expected, compare, human_steps
from workflow.models import TransitionLog

P = AcceptancePlan.Status
A = GoLiveAgreement.Status
SIGN_STEP = {
    GoLiveAgreement.Side.CLIENT: "sign_client",
    GoLiveAgreement.Side.SUPPLIER: "sign_supplier",
}


def expected_for(change_request, plan, campaign, agreement) -> Expected:
    """The open steps the acceptance's records call for."""
    if change_request.status == ChangeRequest.Status.IN_PRODUCTION:
        return Expected(finished=PROCESS.DONE)
    if plan is None or plan.status in (P.DRAFT, P.SENT_BACK):
        return Expected(steps=("prepare_plan",))
    if plan.status == P.SUBMITTED:
        return Expected(steps=("review_plan",))
    if campaign is not None and campaign.status == Campaign.Status.OPEN:
        return Expected(steps=("run_campaign",))
    if agreement is not None and agreement.status == A.PENDING:
        signed = set(agreement.signatures.values_list("side", flat=True))
        return Expected(
            steps=tuple(step for side, step in SIGN_STEP.items() if side not in signed)
        )
    last_qualification = change_request.qualifications.order_by("pk").last()
    if last_qualification is None or not last_qualification.passed:
        return Expected(steps=("qualify",))
    if campaign is None or campaign.outcome == Campaign.Outcome.FIXES:
        return Expected(steps=("deliver",))
    # The last campaign led to the report; a later refusal of the agreement, or a
    # plan validated again since, calls for a new delivery instead.
    closed = campaign.closed_at
    if (
        agreement is not None
        and agreement.status == A.REFUSED
        and (agreement.created_at > closed)
    ):
        return Expected(steps=("deliver",))
    if _validated_at(plan) > closed:
        return Expected(steps=("deliver",))
    return Expected(steps=("write_report",))


def _validated_at(plan):
    log = (
        TransitionLog.objects.filter(
            content_type=ContentType.objects.get_for_model(AcceptancePlan),
            object_id=plan.pk,
            transition="validate",
        )
        .order_by("-at", "-pk")
        .first()
    )
    return log.at if log else plan.change_request.created_at


def acceptance_problems(process: RecetteProcess) -> list[str]:
    """What is wrong between an acceptance's records, its RecetteFlow process and
    its report's documents (empty: nothing)."""
    from recette.flows import RecetteFlow

    change_request = process.change_request
    problems = []
    if change_request.status not in (
        ChangeRequest.Status.IN_ACCEPTANCE,
        ChangeRequest.Status.IN_PRODUCTION,
    ):
        problems.append(
            f"demande « {change_request.get_status_display()} » avec une recette"
        )
    plan = AcceptancePlan.objects.filter(change_request=change_request).first()
    if plan is None:
        problems.append("plan de recette absent")
    campaign = change_request.campaigns.order_by("number").last()
    agreement = change_request.go_live_agreements.order_by("pk").last()
    expected = expected_for(change_request, plan, campaign, agreement)
    problems += compare(process, expected, human=human_steps(RecetteFlow))
    problems += _report_documents(change_request, agreement)
    return problems


def _report_documents(change_request, agreement) -> list[str]:
    """The report's PDF and hash are its current version's, or none while it is
    being written; the agreement is on that version."""
    report = AcceptanceReport.objects.filter(change_request=change_request).first()
    problems = []
    if report is None:
        if agreement is not None:
            problems.append("accord sans bilan")
        return problems
    version = report.version
    if report.status == AcceptanceReport.Status.DRAFT:
        if report.document or report.document_sha256 or report.figures:
            problems.append(
                f"bilan v{version} en rédaction avec le PDF, l'empreinte ou les "
                "chiffres d'une version déposée"
            )
        if agreement is not None and agreement.status != A.REFUSED:
            problems.append(f"bilan v{version} en rédaction, accord {agreement.status}")
        return problems
    if not report.document_sha256:
        problems.append(f"bilan v{version} déposé sans empreinte")
    if agreement is not None and agreement.status == A.REFUSED:
        problems.append(f"bilan v{version} resté déposé après le refus de l'accord")
    if report.document:
        # Stored under a random name: the bytes say which version they are.
        if not report.document.storage.exists(report.document.name):
            problems.append(f"bilan v{version} : fichier absent")
        else:
            with report.document.open("rb") as stored:
                digest = hashlib.sha256(stored.read()).hexdigest()
            if digest != report.document_sha256:
                problems.append(
                    f"bilan v{version} : le fichier ne correspond pas à son empreinte"
                )
    if agreement is None:
        problems.append(f"bilan v{version} déposé sans accord de mise en production")
    elif (agreement.report_version, agreement.report_sha256) != (
        version,
        report.document_sha256,
    ):
        problems.append(
            f"accord sur le bilan v{agreement.report_version}, bilan déposé v{version}"
        )
    return problems


CHECK = Check(
    process_class=RecetteProcess,
    check=acceptance_problems,
    label=lambda process: f"{process.change_request} (recette)",
    orphans=lambda: (
        f"{cr} (recette)"
        for cr in ChangeRequest.objects.filter(
            status=ChangeRequest.Status.IN_ACCEPTANCE, recette_process__isnull=True
        ).order_by("pk")
    ),
)
