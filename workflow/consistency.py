"""Where a process stands: its open tasks, the steps an action needs, and the check
that a lifecycle status and the flow's open tasks tell the same story.

Tandem keeps two records of "where is this request": the status on the domain
model (what lists, reports and documents show) and the open viewflow tasks (who
must act next). Each process app states, for every status, which human steps may
be open and which documents must match the current version, and registers that
check here from its AppConfig; `manage.py check_consistency` runs every check.

An action outside the flow's tasks (a page button) either is modelled in the flow
(it cancels the waiting step and opens another) or asks `require_step` first: it
is refused with a French 409 when the process waits for something else.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

from workflow.transitions import ActionRefused

# A task someone still has to do (or is doing).
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def open_tasks(process: Process) -> QuerySet[Task]:
    """The process's tasks that are not finished, cancelled or revived."""
    return process.task_set.filter(status__in=OPEN).order_by("pk")


def open_step_names(process: Process | None) -> list[str]:
    """The node names of the process's open tasks (a node may appear twice)."""
    if process is None:
        return []
    return [task.flow_task.name for task in open_tasks(process)]


def step_title(node) -> str:
    """The French title of a flow node, as inboxes show it."""
    return str(node.task_title or node.name)


def require_step(process: Process | None, *nodes, action: str) -> Task:
    """The open task of one of `nodes`, or ActionRefused naming what the process
    waits for instead (or that it is over)."""
    tasks = list(open_tasks(process)) if process is not None else []
    names = {node.name for node in nodes}
    for task in tasks:
        if task.flow_task.name in names:
            return task
    if not tasks:
        raise ActionRefused(
            _("%(action)s : impossible, aucune étape n'est en cours sur ce dossier.")
            % {"action": action}
        )
    waiting = ", ".join(f"« {step_title(task.flow_task)} »" for task in tasks)
    raise ActionRefused(
        _("%(action)s : impossible à l'étape en cours (%(waiting)s).")
        % {"action": action, "waiting": waiting}
    )


def move_to(process: Process, target, *, waiting: Iterable) -> None:
    """Cancel the open task of one of the `waiting` nodes and open `target`.

    The flow's lock must be held. Used by actions that send a process back to an
    earlier step (e.g. reopening a validated plan): the new task follows the
    cancelled one, as viewflow's own nodes chain them.
    """
    task = require_step(process, *waiting, action=_("Retour en arrière"))
    activation = task.flow_task.activation_class(task)
    activation.cancel()
    created = target._create(activation, task.token)
    if created.activate.can_proceed():  # a task created assigned is ready as is
        created.activate()


def process_is_open(process: Process | None) -> bool:
    return process is not None and process.status == PROCESS.NEW


@dataclass(frozen=True)
class Expected:
    """What a status allows: the human steps that must be open (each once), or
    none and a finished process."""

    steps: tuple[str, ...] = ()
    finished: str | None = None  # PROCESS.DONE or PROCESS.CANCELED when over


def compare(process: Process | None, expected: Expected, *, human: set[str]) -> list:
    """Problems between a process's open human tasks and what its status expects."""
    problems = []
    if expected.finished is not None:
        if process is not None and process.status != expected.finished:
            problems.append(
                f"processus {process.pk} à l'état {process.status}, "
                f"attendu {expected.finished}"
            )
    elif process is None:
        return [f"aucun processus alors qu'on attend {list(expected.steps)}"]
    elif process.status != PROCESS.NEW:
        problems.append(f"processus {process.pk} déjà {process.status}")
    if process is None:
        return problems
    tasks = list(process.task_set.exclude(status__in=(STATUS.DONE, STATUS.CANCELED)))
    errors = [t.flow_task.name for t in tasks if t.status == STATUS.ERROR]
    if errors:
        problems.append(f"tâches en erreur : {errors}")
    opened = sorted(
        t.flow_task.name
        for t in tasks
        if t.status in OPEN and t.flow_task.name in human
    )
    if opened != sorted(expected.steps):
        problems.append(f"tâches ouvertes {opened}, attendues {sorted(expected.steps)}")
    return problems


def human_steps(flow_class) -> set[str]:
    """Names of the flow's human task nodes (the ones a person completes)."""
    from viewflow.workflow.nodes import View

    return {node.name for node in flow_class.instance.nodes() if isinstance(node, View)}


@dataclass(frozen=True)
class Check:
    """One app's consistency rule over its processes."""

    process_class: type[Process]
    check: Callable[[Process], list[str]]
    label: Callable[[Process], str]
    # Subjects that should have a process but have none, each named.
    orphans: Callable[[], Iterable[str]] = lambda: ()


_CHECKS: dict[type[Process], Check] = {}


def register(check: Check) -> None:
    """Declare an app's rule (from its AppConfig.ready)."""
    _CHECKS[check.process_class] = check


def process_consistency(process: Process) -> list[str]:
    """What is wrong with the process (empty: its status, open tasks and documents
    agree). Raises LookupError for a process class no app registered."""
    process = process.coerced if type(process) is Process else process
    try:
        check = _CHECKS[type(process)]
    except KeyError:
        raise LookupError(f"no consistency rule for {type(process).__name__}") from None
    return check.check(process)


def inconsistencies(batch: int = 500) -> Iterator[tuple[str, list[str]]]:
    """(subject, problems) for every registered process that breaks its rule,
    then every subject left without the process it needs."""
    for check in _CHECKS.values():
        processes = check.process_class.objects.order_by("pk")
        for process in processes.iterator(chunk_size=batch):
            problems = check.check(process)
            if problems:
                yield check.label(process), problems
        for orphan in check.orphans():
            yield orphan, [_("aucun processus")]


def checked_count() -> int:
    """How many processes the registered rules cover."""
    return sum(check.process_class.objects.count() for check in _CHECKS.values())
