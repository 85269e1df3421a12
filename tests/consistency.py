"""The invariant that tests check after every step of a journey."""

from evolutions.models import EvolutionProcess
from recette.models import RecetteProcess
from workflow.consistency import process_consistency


def assert_consistent(change_request) -> None:
    """The request's status, its processes' open tasks and its documents agree."""
    from evolutions.consistency import change_request_problems

    change_request = type(change_request).objects.get(pk=change_request.pk)
    problems = list(change_request_problems(change_request))
    for model in (EvolutionProcess, RecetteProcess):
        process = model.objects.filter(change_request=change_request).first()
        if process is not None and model is RecetteProcess:
            problems += process_consistency(process)
    assert not problems, f"{change_request.reference} : {problems}"
