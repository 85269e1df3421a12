"""A flow's graph as the generators walk it (viewflow 2.4's nodes and edges).

The generators write the tasks viewflow would have left, so they must follow the
flows exactly: which node comes after which, through which gateways, which nodes
are a person's tasks. They read all of it here, from the flow class itself. The
one thing the graph cannot say is which branch the usual way through a process
(its happy path) takes at a gateway: each generator gives that choice by node
name, and it is checked against the graph, so that a renamed or rewired flow
fails at once instead of leaving tasks viewflow would not recognise.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from viewflow.workflow.nodes import (
    End,
    If,
    Join,
    Split,
    SplitFirst,
    Start,
    StartHandle,
    Switch,
    View,
)

# Nodes passed at once between two tasks; the generators know how to write them.
GATEWAYS = (Switch, If, Split, Join)


class FlowMismatch(Exception):
    """A generator's table names a node, or a way through, the flow does not have."""


@dataclass(frozen=True)
class Route:
    """Completing the task of `done`: the gateways then passed at once, and what
    comes next: one task, every branch of a Split, or the End."""

    done: object
    gateways: tuple
    then: tuple

    @property
    def ends(self) -> bool:
        return len(self.then) == 1 and isinstance(self.then[0], End)

    @property
    def splits(self) -> bool:
        return bool(self.gateways) and isinstance(self.gateways[-1], Split)


class FlowGraph:
    """The nodes of `flow_class`, their edges and its happy path, where `happy`
    says which branch the happy path takes at each branching gateway
    ({gateway name: name of the node it goes on to})."""

    def __init__(self, flow_class, happy: dict[str, str]):
        self.flow_class = flow_class
        self.label = flow_class.__name__
        self._nodes = {node.name: node for node in flow_class.instance.nodes()}
        starts = [n for n in self._nodes.values() if isinstance(n, Start | StartHandle)]
        if len(starts) != 1:
            raise FlowMismatch(f"{self.label}: one start node expected")
        self.start = starts[0]
        self.choices = dict(happy)
        self.happy = {}
        for name, target in happy.items():
            gateway = self.node(name)
            onward = self.successors(gateway)
            if len(onward) < 2 or isinstance(gateway, Split):
                raise FlowMismatch(f"{self.label}.{name} is not a branching gateway")
            if target not in [node.name for node in onward]:
                raise FlowMismatch(
                    f"{self.label}.{name} does not lead to {target} "
                    f"(only to {', '.join(node.name for node in onward)})"
                )
            self.happy[name] = self._nodes[target]
        self.path = self._happy_path()

    def node(self, name: str):
        """The node named `name`, or FlowMismatch."""
        try:
            return self._nodes[name]
        except KeyError:
            raise FlowMismatch(f"{self.label} has no node {name!r}") from None

    def task(self, name: str):
        """The human task named `name` (a View), or FlowMismatch."""
        node = self.node(name)
        if not isinstance(node, View):
            raise FlowMismatch(f"{self.label}.{name} is not a human task")
        return node

    def check_tasks(self, names: Iterable[str]) -> None:
        """Every name is one of the flow's human tasks."""
        for name in names:
            self.task(name)

    def successors(self, node) -> list:
        return [edge.dst for edge in node._outgoing()]

    def arrivals(self, join) -> int:
        """How many branches a Join waits for."""
        return len(list(join._incoming()))

    def human_path(self) -> list[str]:
        """The human tasks of the happy path, in the flow's order (the branches of
        a Split one after the other)."""
        return [node.name for node in self.path if isinstance(node, View)]

    def route(self, done: str, to: str | None = None) -> Route:
        """Completing the task `done` (or leaving the start) towards the task `to`,
        or along the happy path when `to` is None; FlowMismatch when the flow
        goes no such way through gateways alone."""
        first = self.node(done)
        if first is not self.start:
            first = self.task(done)
        goal = None if to is None else self.node(to)
        gateways: list = []
        node = first
        while True:
            onward = self.successors(node)
            if node is not first and isinstance(node, Split):
                then = tuple(onward)
                self.check_tasks(n.name for n in then)
                break
            following = goal if goal in onward else self._choose(node, onward)
            if isinstance(following, View | End):
                then = (following,)
                break
            self._check_gateway(following)
            if following in gateways:
                raise FlowMismatch(f"{self.label}: {done} loops on {following.name}")
            gateways.append(following)
            node = following
        if goal is not None and goal not in then:
            raise FlowMismatch(f"{self.label}: {done} does not lead to {to}")
        return Route(first, tuple(gateways), then)

    def _choose(self, node, onward: list):
        """The node after `node` on the happy path."""
        if len(onward) == 1:
            return onward[0]
        if node.name not in self.happy:
            raise FlowMismatch(
                f"{self.label}.{node.name} leads to "
                f"{', '.join(n.name for n in onward)}: the generator's happy path "
                "must choose one"
            )
        return self.happy[node.name]

    def _check_gateway(self, node) -> None:
        if not isinstance(node, GATEWAYS) or isinstance(node, SplitFirst):
            raise FlowMismatch(
                f"{self.label}.{node.name}: a {type(node).__name__} node, which the "
                "generator cannot write"
            )

    def _happy_path(self) -> list:
        """Every node from the start to the End along the happy path; the branches
        of a Split are walked one after the other up to their Join."""
        path = [self.start]
        node = self.start
        while not isinstance(node, End):
            onward = self.successors(node)
            if isinstance(node, Split):
                joins = set()
                for branch in onward:
                    while not isinstance(branch, Join):
                        self._visit(path, branch)
                        branch = self._choose(branch, self.successors(branch))
                    joins.add(branch)
                if len(joins) != 1:
                    raise FlowMismatch(
                        f"{self.label}.{node.name}: branches that meet at no one Join"
                    )
                node = joins.pop()
            else:
                node = self._choose(node, onward)
            self._visit(path, node)
        return path

    def _visit(self, path: list, node) -> None:
        if node in path:
            raise FlowMismatch(f"{self.label}: the happy path loops at {node.name}")
        if not isinstance(node, View | End):
            self._check_gateway(node)
        path.append(node)
