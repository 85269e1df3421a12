"""Where a change request's status says EvolutionFlow must stand, and the documents
each status implies (workflow.consistency runs it)."""

from viewflow.workflow.status import PROCESS

from evolutions.models import (
    ChangeRequest,
    EvolutionProcess,
    Quote,
    SpecificationVersion,
)
from workflow.consistency import Check, Expected, compare, human_steps

S = ChangeRequest.Status

# The one human step open at each status of the flow's part of the lifecycle.
STEP_OF_STATUS = {
    S.SUBMITTED: "review_submission",
    S.INFO_REQUESTED: "complete_information",
    S.IN_STUDY: "write_specification",
    S.SPEC_REVIEW: "review_specification",
    S.QUOTE_PREPARATION: "write_quote",
    S.QUOTE_REVIEW: "review_quote",
    S.PLANNING: "propose_release",
    S.RELEASE_PROPOSED: "confirm_release",
    S.PLANNED: "start_manufacture",
    S.IN_MANUFACTURE: "finish_manufacture",
}
# After manufacture the acceptance takes over (RecetteFlow); closed requests have
# their process cancelled.
FINISHED = {
    S.IN_ACCEPTANCE: PROCESS.DONE,
    S.IN_PRODUCTION: PROCESS.DONE,
    S.DECLINED: PROCESS.CANCELED,
    S.WITHDRAWN: PROCESS.CANCELED,
}

PLANNED_ONWARDS = (S.PLANNED, S.IN_MANUFACTURE, S.IN_ACCEPTANCE, S.IN_PRODUCTION)


def expected_for(status: str) -> Expected:
    if status in STEP_OF_STATUS:
        return Expected(steps=(STEP_OF_STATUS[status],))
    return Expected(finished=FINISHED.get(status, PROCESS.CANCELED))


def change_request_problems(change_request: ChangeRequest) -> list[str]:
    """What is wrong between the request, its EvolutionFlow process and its
    specifications and quotes (empty: nothing)."""
    from evolutions.flows import EvolutionFlow

    status = change_request.status
    process = EvolutionProcess.objects.filter(change_request=change_request).first()
    if status == S.DRAFT or (status == S.WITHDRAWN and process is None):
        # A draft is the client's alone; one withdrawn as a draft never had a flow.
        problems = (
            [] if process is None else [f"brouillon avec le processus {process.pk}"]
        )
    else:
        problems = compare(
            process, expected_for(status), human=human_steps(EvolutionFlow)
        )
    problems += _documents(change_request)
    return problems


def _documents(change_request: ChangeRequest) -> list[str]:
    """A document awaits the client's decision exactly while its review is open."""
    problems = []
    status = change_request.status
    for label, model, review in (
        ("cahier des charges", SpecificationVersion, S.SPEC_REVIEW),
        ("devis", Quote, S.QUOTE_REVIEW),
    ):
        decisions = list(
            model.objects.filter(change_request=change_request)
            .order_by("version")
            .values_list("decision", flat=True)
        )
        latest = [len(decisions)]
        waiting = [
            n for n, d in enumerate(decisions, start=1) if d == model.Decision.PENDING
        ]
        expected = latest if status == review else []
        if status in ChangeRequest.CLOSED and waiting == latest:
            expected = waiting  # declined or withdrawn while the client reviewed it
        if waiting != expected:
            problems.append(
                f"{label} en attente de décision : versions {waiting}, "
                f"attendu {expected}"
            )
    if status == S.RELEASE_PROPOSED and not change_request.proposed_release_id:
        problems.append("version proposée absente")
    if status in PLANNED_ONWARDS and not change_request.release_id:
        problems.append("version majeure absente d'une demande planifiée")
    return problems


def _orphans():
    """Submitted requests that never got their process."""
    without = ChangeRequest.objects.filter(process__isnull=True).exclude(
        status__in=(S.DRAFT, S.WITHDRAWN)
    )
    return (str(cr) for cr in without.order_by("pk"))


CHECK = Check(
    process_class=EvolutionProcess,
    check=lambda process: change_request_problems(process.change_request),
    label=lambda process: str(process.change_request),
    orphans=_orphans,
)
