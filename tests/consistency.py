"""The invariant that tests check after every step of a journey."""

from evolutions.consistency import change_request_problems
from recette.models import RecetteProcess
from workflow.consistency import open_step_names, process_consistency


def assert_consistent(change_request) -> None:
    """The request's status, its processes' open tasks and its documents agree."""
    change_request = type(change_request).objects.get(pk=change_request.pk)
    problems = change_request_problems(change_request)
    acceptance = RecetteProcess.objects.filter(change_request=change_request).first()
    if acceptance is not None:
        problems += process_consistency(acceptance)
    assert not problems, f"{change_request.reference} : {problems}"


def open_steps(process_model, change_request) -> list[str]:
    """The open steps of the request's process of that kind, sorted."""
    process = process_model.objects.filter(change_request=change_request).first()
    return sorted(open_step_names(process))
