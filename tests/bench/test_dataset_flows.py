"""The benchmark generator follows EvolutionFlow and RecetteFlow: its steps are the
flows' own, every node its tables name exists, and the tasks it writes are those
viewflow leaves when the same steps are taken through the real services."""

import re
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Max, Q
from viewflow.workflow.models import Process, Task
from viewflow.workflow.nodes import View
from viewflow.workflow.status import PROCESS, STATUS

from bench.dataset import evolutions as evolutions_dataset
from bench.dataset import recette as recette_dataset
from bench.dataset.core import BulkWriter, FlowRun, FlowTables
from bench.dataset.graph import FlowGraph, FlowMismatch
from contacts.models import Organisation
from evolutions.consistency import STEP_OF_STATUS
from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from recette import services as recette_services
from recette.consistency import SIGN_STEP
from recette.flows import RecetteFlow
from tests.security.dataset import _acceptance_until, manufactured_request
from workflow.demo import DEMO_PASSWORD, complete_open_task, demo_totp_code

# Enough acceptances to stand at every step of RecetteFlow.
SCALE = 0.02
EVOLUTION, RECETTE = evolutions_dataset.GRAPH, recette_dataset.GRAPH
RECETTE_HAPPY_EVENTS = recette_dataset.HAPPY_EVENTS
S = ChangeRequest.Status
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _names(flow_class) -> set[str]:
    return {node.name for node in flow_class.instance.nodes()}


def _human_happy_path(flow_class, happy: dict[str, str]) -> list[str]:
    """The human nodes met from the start to the End, read from the flow's edges
    (the branches of a Split one after the other, each up to its Join)."""
    nodes = {node.name: node for node in flow_class.instance.nodes()}
    pending, seen, human = ["start"], set(), []
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        node = nodes[name]
        if isinstance(node, View):
            human.append(name)
        onward = [edge.dst.name for edge in node._outgoing()]
        if name in happy:
            onward = [happy[name]]
        elif len(onward) > 1 and node.task_type != "PARALLEL_GATEWAY":
            raise AssertionError(f"{name} branches: the happy table must choose")
        pending += onward
    return human


def test_the_request_steps_are_evolution_flows_happy_path():
    transitions = [name for name, _status, _days in evolutions_dataset.HAPPY_PATH]
    completed = [evolutions_dataset.ROUTES[name].done.name for name in transitions[1:]]
    opened = [
        evolutions_dataset.ROUTES[name].then[0].name for name in transitions[1:-1]
    ]
    human = _human_happy_path(EvolutionFlow, EVOLUTION.choices)

    assert completed == human
    assert opened == human[1:]
    assert evolutions_dataset.ROUTES[transitions[-1]].ends
    # Each transition leaves the status at which the app expects the next task.
    statuses = [status for _name, status, _days in evolutions_dataset.HAPPY_PATH]
    assert [STEP_OF_STATUS[status] for status in statuses[:-1]] == human
    # Every human task of the flow is one the generator completes.
    assert {route.done.name for route in evolutions_dataset.ROUTES.values()} == {
        node.name for node in EvolutionFlow.instance.nodes() if isinstance(node, View)
    }


def test_the_acceptance_steps_are_recette_flows_happy_path():
    routes = recette_dataset.ROUTES
    completed = [routes[event].done.name for event in RECETTE_HAPPY_EVENTS]
    completed += list(SIGN_STEP.values())
    human = _human_happy_path(RecetteFlow, RECETTE.choices)

    assert completed == human
    for event, following in pairwise(RECETTE_HAPPY_EVENTS):
        assert routes[event].then == (routes[following].done,), event
    assert {node.name for node in routes["report_submit"].then} == set(
        SIGN_STEP.values()
    )
    assert all(route.ends for route in recette_dataset.SIGN_ROUTES.values())
    done = {route.done.name for route in routes.values()} | set(SIGN_STEP.values())
    assert done == {
        node.name for node in RecetteFlow.instance.nodes() if isinstance(node, View)
    }


def test_every_node_the_generator_names_exists_in_its_flow():
    evolution, recette = _names(EvolutionFlow), _names(RecetteFlow)
    showcase = {node for _s, _n, taken in evolutions_dataset.SHOWCASE for node in taken}
    named_evolution = (
        set(EVOLUTION.choices)
        | set(EVOLUTION.choices.values())
        | set(evolutions_dataset.COMPLETED_BY)
        | {node for pair in evolutions_dataset.DETOURS.values() for node in pair}
        | set(STEP_OF_STATUS.values())
        | showcase
    ) - {None}
    named_recette = (
        set(RECETTE.choices)
        | set(RECETTE.choices.values())
        | {node for pair in recette_dataset.EVENT_STEPS.values() for node in pair}
        | set(SIGN_STEP.values())
    ) - {None}

    assert named_evolution <= evolution, named_evolution - evolution
    assert named_recette <= recette, named_recette - recette


def test_every_loop_returns_to_the_task_it_left():
    routes = evolutions_dataset.ROUTES
    after = {name: route.then for name, route in routes.items()}
    after[evolutions_dataset.STARTED_BY] = EVOLUTION.route("start").then

    for name, ((away, back), _odds) in evolutions_dataset.LOOPS.items():
        assert (routes[away].done,) == after[name], name
        assert (routes[back].done,) == after[away], name
        assert after[back] == after[name], name


@pytest.mark.parametrize(
    ("happy", "route", "error"),
    [
        # A gateway renamed in the flow, or a branch renamed.
        ({"after_quote_review": "propose_release"}, None, "has no node"),
        ({"after_review_quote": "propose_a_release"}, None, "does not lead to"),
        # Not a branching gateway.
        ({"review_quote": "after_review_quote"}, None, "not a branching gateway"),
        # A task renamed, or a way the flow does not go.
        (None, ("write_quotation", None), "has no node"),
        (None, ("write_quote", "propose_release"), "does not lead to"),
        (None, ("after_review_quote", None), "not a human task"),
    ],
)
def test_a_table_the_flow_does_not_match_fails_at_once(happy, route, error):
    table = dict(EVOLUTION.choices)
    if happy is not None:
        table.pop("after_review_quote")
        table.update(happy)

    with pytest.raises(FlowMismatch, match=error):
        graph = FlowGraph(EvolutionFlow, table)
        if route is not None:
            graph.route(*route)


def test_a_branch_without_a_choice_fails_at_once():
    table = dict(RECETTE.choices)
    del table["after_qualify"]

    with pytest.raises(FlowMismatch, match="after_qualify leads to"):
        FlowGraph(RecetteFlow, table)


# ---------------------------------------------------------------------------
# The rows: generated processes against processes walked through the services


def _walk_real_processes(world) -> None:
    """Processes taken through the services to every step of both flows: the
    demo's requests (EvolutionFlow, clients 23 and 57), then client 23's
    acceptances stopped at each RecetteFlow step, the signatures in either order."""
    evolutions_demo_load()
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            Q(username__startswith="cnaf.") | Q(username__startswith="cd23.")
        )
    }
    release = Release.objects.order_by("production_date").first()
    stops = (
        "prepare_plan",
        "review_plan",
        "qualify",
        "deliver",
        "run_campaign",
        "write_report",
        "signatures",
        "sign_supplier",  # the client's DSI signed
        "signed",
    )
    for stop in stops:
        change_request = manufactured_request(world.creuse, users, release, stop)
        _acceptance_until(change_request, users, stop)
    # The supplier's DSI signs first.
    change_request = manufactured_request(world.creuse, users, release, "supplier")
    _acceptance_until(change_request, users, "signatures")
    signer = users["cnaf.dsi"]
    agreement = change_request.go_live_agreements.last()
    complete_open_task(
        RecetteFlow.sign_supplier,
        signer,
        lambda: recette_services.agreement_sign(
            pk=agreement.pk,
            by=signer,
            password=DEMO_PASSWORD,
            otp_token=demo_totp_code(signer),
        ),
        recetteprocess__change_request=change_request,
    )


def _permission(permission: str | None) -> str | None:
    """A client's role without the client's code (roles.<role>_<code>)."""
    if not permission:
        return permission
    role, code = permission.rsplit("_", 1)
    return permission if code == Organisation.SUPPLIER_CODE else f"{role}_client"


def _shape(name, kind, status, permission, token, previous) -> tuple:
    """A task as viewflow's columns describe it: node, type, status (waiting or
    taken alike), permission, token (without task ids), the previous tasks'
    nodes."""
    return (
        name,
        kind,
        "open" if status in (STATUS.NEW, STATUS.ASSIGNED) else status,
        _permission(permission),
        re.sub(r"/\d+_", "/#_", str(token)),
        tuple(sorted(previous)),
    )


def _is_open(shape: tuple) -> bool:
    return shape[2] in ("open", STATUS.STARTED)


def _stands(status: str, trail: list[tuple], human: set[str]) -> tuple:
    """Where a process stands: its status and its open human tasks."""
    return (status, tuple(sorted(t[0] for t in trail if _is_open(t) and t[0] in human)))


def _human(flow_class) -> set[str]:
    return {n.name for n in flow_class.instance.nodes() if isinstance(n, View)}


def _stored(flow_class, real: bool, last_real: int) -> list[tuple[tuple, list]]:
    """The flow's running and finished processes, walked (`real`) or generated:
    (where each stands, its tasks in the order of creation)."""
    processes = Process.objects.filter(
        flow_class=flow_class, status__in=(PROCESS.NEW, PROCESS.DONE)
    )
    processes = (
        processes.filter(pk__lte=last_real)
        if real
        else processes.filter(pk__gt=last_real)
    )
    statuses = dict(processes.values_list("pk", "status"))
    previous: dict[int, list[str]] = {}
    links = Task.previous.through.objects.filter(from_task__process__in=processes)
    for link in links.values("from_task", "to_task__flow_task"):
        previous.setdefault(link["from_task"], []).append(
            link["to_task__flow_task"].name
        )
    trails: dict[int, list[tuple]] = {}
    tasks = Task.objects.filter(process__in=processes).order_by("process", "pk")
    columns = ("pk", "process", "flow_task", "flow_task_type", "status", "token")
    for task in tasks.values(*columns, "owner_permission"):
        trails.setdefault(task["process"], []).append(
            _shape(
                task["flow_task"].name,
                task["flow_task_type"],
                task["status"],
                task["owner_permission"],
                task["token"],
                previous.get(task["pk"], ()),
            )
        )
    human = _human(flow_class)
    return [
        (_stands(statuses[pk], trail, human), trail) for pk, trail in trails.items()
    ]


def _reference(flow_class, last_real: int) -> dict[tuple, list[tuple]]:
    """Where walked processes stand, and the tasks all of them have there."""
    reference: dict[tuple, list[tuple]] = {}
    for stands, trail in _stored(flow_class, True, last_real):
        assert reference.setdefault(stands, trail) == trail, stands
    return reference


def _driven(graph, routes: list) -> tuple[tuple, list[tuple]]:
    """A FlowRun of the generator taken along `routes` in memory: where it stands
    and its tasks."""
    run = FlowRun(None, FlowTables(BulkWriter()), graph, 1, "23", AT, order_owner=9)
    for route in routes:
        run.step(route, 7, AT)
    nodes = {row.id: row.flow_task.rsplit(".", 1)[1] for row in run.tasks}
    previous: dict[int, list[str]] = {}
    for task, before in run.links:
        previous.setdefault(task, []).append(nodes[before])
    trail = [
        _shape(
            nodes[row.id],
            row.flow_task_type,
            row.status,
            row.owner_permission,
            row.token,
            previous.get(row.id, ()),
        )
        for row in run.tasks
    ]
    return _stands(run.status, trail, _human(graph.flow_class)), trail


@pytest.fixture
def walked(world, settings, tmp_path) -> int:
    """Processes walked through the services; the last one's pk."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    _walk_real_processes(world)
    return Process.objects.aggregate(last=Max("pk"))["last"]


def _evolution_routes() -> list[list]:
    """The routes the generator takes to each status of the flow's part of the
    lifecycle, without loops but the one a request for information is."""
    sequences = []
    for status in [*STEP_OF_STATUS, S.IN_ACCEPTANCE]:
        loops = {"submit": 1} if status == S.INFO_REQUESTED else {}
        # No randomness: lifecycle() draws only for declined or withdrawn requests.
        transitions = evolutions_dataset.lifecycle(None, status, loops)
        assert transitions[0] == evolutions_dataset.STARTED_BY
        sequences.append([evolutions_dataset.ROUTES[t] for t in transitions[1:]])
    return sequences


def _recette_routes() -> list[list]:
    """The routes the generator takes to each step of the acceptance, the
    signatures in either order."""
    happy = [recette_dataset.ROUTES[event] for event in RECETTE_HAPPY_EVENTS]
    signatures = recette_dataset.SIGN_ROUTES
    return [
        *(happy[:n] for n in range(len(happy) + 1)),
        *([*happy, signatures[side]] for side in SIGN_STEP),
        [*happy, *signatures.values()],
    ]


@pytest.mark.parametrize(
    ("graph", "sequences"),
    [(EVOLUTION, _evolution_routes), (RECETTE, _recette_routes)],
    ids=["EvolutionFlow", "RecetteFlow"],
)
def test_the_generators_steps_leave_the_tasks_viewflow_leaves(walked, graph, sequences):
    """Taken to each step of the flow, a generator's process has exactly the
    tasks (done, passed and open, with their links) of a process taken there
    through the services."""
    reference = _reference(graph.flow_class, walked)
    reached = set()

    for routes in sequences():
        stands, trail = _driven(graph, routes)
        assert stands in reference, stands
        assert trail == reference[stands], stands
        reached.add(stands)

    assert reached == set(reference)


@pytest.mark.parametrize("flow_class", [EvolutionFlow, RecetteFlow])
def test_generated_processes_have_the_tasks_viewflow_leaves(
    walked, tmp_path, flow_class
):
    """Every generated process stands where a walked one does, with the same open
    tasks, after every task the walked one went through and no task viewflow
    never writes; one that never looped has the very same tasks and links."""
    call_command(
        "generate_dataset", "--scale", str(SCALE), "--manifest", str(tmp_path / "m")
    )
    reference = _reference(flow_class, walked)
    known = {(t[0], t[1], t[3], t[4]) for trail in reference.values() for t in trail}
    compared = set()

    for stands, trail in _stored(flow_class, False, walked):
        expected = reference.get(stands)
        assert expected is not None, stands
        assert sorted(t[:5] for t in trail if _is_open(t)) == sorted(
            t[:5] for t in expected if _is_open(t)
        ), stands
        assert {t[:5] for t in expected} <= {t[:5] for t in trail}, stands
        assert {(t[0], t[1], t[3], t[4]) for t in trail} <= known, stands
        if len({t[0] for t in trail}) == len(trail):  # no node met twice
            assert trail == expected, stands
            compared.add(stands)

    assert len(compared) >= 3, compared
