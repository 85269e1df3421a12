"""Generated data for benchmarks (`manage.py generate_dataset`).

Change requests and acceptances are walked through their lifecycle in memory
(bench.dataset.evolutions, bench.dataset.recette), then written in bulk with
everything the services and flows would have left: history rows, documents,
viewflow processes and tasks, audit journal. Written with COPY on PostgreSQL
(executemany elsewhere), in one transaction, in the order of the foreign keys, with
the ids allocated here.

Deterministic for a seed and a day: the same command on the same database gives
the same rows; dates are relative to the day of generation.
"""

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from viewflow.workflow.fields import get_flow_ref, get_task_ref
from viewflow.workflow.models import Process, Task
from viewflow.workflow.nodes import Join
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.token import Token

from bench.dataset.graph import FlowGraph, Route
from contacts.models import Membership, Organisation, Person, Role
from contacts.services import reference_data_load
from evolutions.models import ChangeRequest
from workflow import audit
from workflow.demo import DEMO_ACCOUNTS, DEMO_CLIENTS
from workflow.models import AuditEntry, TransitionLog

# Generated accounts are named gen.<organisation>.<role><n>: never a demo account.
GENERATED_PREFIX = "gen."
BENCHMARK_USERS = {
    "supplier_analyst": "cnaf.contact",
    "client_owner": "cd23.porteur",
    "tester": "cd23.testeur",
}


class DatasetRefused(Exception):
    """The dataset cannot be generated here (French message for the operator)."""


@dataclass(frozen=True)
class Volumes:
    """How many rows of each kind a tier holds."""

    change_requests: int
    plans: int
    cases: int
    campaigns: int
    executions: int
    defects: int

    def scaled(self, scale: float) -> "Volumes":
        """These volumes times `scale`, with the few rows the notable objects need."""
        # The notable acceptances' plans and one in production.
        plans = max(5, round(self.plans * scale))
        return Volumes(
            change_requests=max(40, round(self.change_requests * scale)),
            plans=plans,
            cases=max(plans * 12, round(self.cases * scale)),
            campaigns=max(12, round(self.campaigns * scale)),
            executions=max(1_000, round(self.executions * scale)),
            defects=max(60, round(self.defects * scale)),
        )


LARGE = Volumes(
    change_requests=20_000,
    plans=2_000,
    cases=100_000,
    campaigns=6_000,
    executions=1_000_000,
    defects=50_000,
)
TIERS = {"small": 0.1, "large": 1.0}


# ---------------------------------------------------------------------------
# Bulk writing


class Table:
    """Rows waiting to be written to one table."""

    def __init__(self, model, fields: tuple[str, ...], explicit_ids: bool):
        self.model = model
        self.explicit_ids = explicit_ids
        self.names = ("id", *fields) if explicit_ids else fields
        self.fields = [model._meta.get_field(name) for name in self.names]
        self.columns = [f.column for f in self.fields]
        self.rows: list[tuple] = []
        self.next_id = 0
        self.written = 0
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add(self, *values) -> None:
        """One row, its values in the order of the declared fields."""
        self.rows.append(values)

    def add_named(self, **values) -> None:
        """One row, its values by field name: every declared field, no other."""
        if values.keys() != set(self.names):
            raise TypeError(
                f"{self.name}: fields {sorted(values)}, expected {sorted(self.names)}"
            )
        self.rows.append(tuple(values[name] for name in self.names))

    def write(self, cursor) -> None:
        if not self.rows:
            return
        started = time.monotonic()
        if connection.vendor == "postgresql":
            self._copy(cursor)
        else:
            self._insert(cursor)
        self.written += len(self.rows)
        self.seconds += time.monotonic() - started
        self.rows = []

    def _copy(self, cursor) -> None:
        json_at = [
            i for i, f in enumerate(self.fields) if isinstance(f, models.JSONField)
        ]
        quote = connection.ops.quote_name
        sql = "COPY {} ({}) FROM STDIN".format(
            quote(self.name), ", ".join(quote(c) for c in self.columns)
        )
        with cursor.cursor.copy(sql) as copy:
            if not json_at:
                for row in self.rows:
                    copy.write_row(row)
                return
            for row in self.rows:
                row = list(row)
                for i in json_at:
                    row[i] = json.dumps(row[i], ensure_ascii=False)
                copy.write_row(row)

    def _insert(self, cursor) -> None:
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - our own names
            quote(self.name),
            ", ".join(quote(c) for c in self.columns),
            ", ".join(["%s"] * len(self.columns)),
        )
        # Strings and numbers go as they are (viewflow's reference fields are given
        # their stored text); dates, decimals and JSON as Django stores them.
        prepared = [
            field if isinstance(field, _PREPARED_FIELDS) else None
            for field in self.fields
        ]
        cursor.executemany(
            sql,
            [
                [
                    f.get_db_prep_save(v, connection) if f else v
                    for f, v in zip(prepared, row, strict=True)
                ]
                for row in self.rows
            ],
        )


_PREPARED_FIELDS = (
    models.DateField,
    models.DateTimeField,
    models.DecimalField,
    models.JSONField,
)


class BulkWriter:
    """Rows for many tables, written in batches in the order the tables were
    declared (parents first), so that every foreign key is checked at once."""

    def __init__(self, flush_rows: int = 200_000):
        self.tables: list[Table] = []
        self.flush_rows = flush_rows

    def table(self, model, fields: Iterable[str], *, explicit_ids=False) -> Table:
        table = Table(model, tuple(fields), explicit_ids)
        self.tables.append(table)
        return table

    def begin(self) -> None:
        """Lock the tables against other writers and read where their ids stand."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Checked row by row rather than at commit: millions of deferred
                # checks would pile up in memory until then.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                names = ", ".join(
                    connection.ops.quote_name(t.name) for t in self.tables
                )
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for table in self.tables:
            if table.explicit_ids:
                # The base manager: every row counts, whatever the default filters.
                top = table.model._base_manager.aggregate(top=models.Max("id"))["top"]
                table.next_id = top or 0

    def pending(self) -> int:
        return sum(len(t.rows) for t in self.tables)

    def flush_if_full(self) -> None:
        if self.pending() >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        with connection.cursor() as cursor:
            for table in self.tables:
                table.write(cursor)

    def finish(self) -> None:
        """Write what is left; point the id sequences past the ids given here."""
        self.flush()
        explicit = [t.model for t in self.tables if t.explicit_ids]
        statements = connection.ops.sequence_reset_sql(no_style(), explicit)
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# ---------------------------------------------------------------------------
# People

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Lucie",
    "Anaïs", "Claire", "Élodie", "Marion", "Pauline", "Aurélie", "Nadia", "Sophie",
    "Hélène", "Céline", "Laure", "Thomas", "Nicolas", "Julien", "Antoine", "Maxime",
    "Hugo", "Lucas", "Mathieu", "Romain", "Olivier", "Karim", "Yann", "Pierre",
    "Laurent", "Sébastien", "Vincent", "Guillaume", "Franck", "Rachid", "Bruno"
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
    "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
    "Faure", "Rousseau", "Blanc", "Guerin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine",
    "Chevalier", "Robin", "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis",
    "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Noel", "Meyer",
    "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour", "Blanchard", "Marie",
    "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
    "Pierre", "Renard", "Arnaud", "Rolland", "Caron", "Aubert"
)  # fmt: skip

# Départements with many declarations: more requests, more people.
LARGE_DEPARTEMENTS = ("59", "13", "75", "93", "69", "33", "92", "62", "94", "31", "44")
# The demo clients weigh like an average département, so that their accounts see
# what most users see.
DEMO_WEIGHTS = {"23": 1.2, "57": 1.6}
SUPPLIER_STAFF = {
    Role.CONTACT_EVOLUTIONS: 3,
    Role.PORTEUR_COMMANDE: 14,
    Role.MOE: 9,
    Role.DSI_FOURNISSEUR: 1,
}
FUNCTIONS = {
    Role.PORTEUR_DEMANDE: "Chargé(e) de mission PMI",
    Role.TESTEUR: "Référent(e) applicatif PMI",
    Role.DSI_CLIENT: "Directeur(trice) des systèmes d'information",
    Role.CONTACT_EVOLUTIONS: "AMOA relation partenaires",
    Role.PORTEUR_COMMANDE: "Chef(fe) de projet AMOA",
    Role.MOE: "Équipe projet MOE",
    Role.DSI_FOURNISSEUR: "Adjoint(e) au DSI",
}
ROLE_SUFFIX = {
    Role.PORTEUR_DEMANDE: "porteur",
    Role.TESTEUR: "testeur",
    Role.DSI_CLIENT: "dsi",
    Role.CONTACT_EVOLUTIONS: "contact",
    Role.PORTEUR_COMMANDE: "commande",
    Role.MOE: "moe",
    Role.DSI_FOURNISSEUR: "dsi",
}


@dataclass
class People:
    """Who holds which role where, as user ids, and how often each one acts."""

    usernames: dict[int, str] = field(default_factory=dict)
    # (organisation code, role) -> ([user ids], [weights])
    holders: dict[tuple[str, str], tuple[list[int], list[float]]] = field(
        default_factory=dict
    )
    demo: dict[str, int] = field(default_factory=dict)

    def pick(self, rng: random.Random, code: str, role: Role) -> int:
        ids, weights = self.holders[(code, role)]
        return rng.choices(ids, weights)[0] if len(ids) > 1 else ids[0]


def client_staff(weight: float) -> dict[Role, int]:
    """How many people of each client role an organisation of this size has."""
    return {
        Role.PORTEUR_DEMANDE: 1 + (weight > 1.5) + (weight > 3),
        Role.TESTEUR: min(8, 2 + int(weight * 1.5)),
        Role.DSI_CLIENT: 1,
    }


def people_load(rng: random.Random, weights: dict[str, float]) -> People:
    """Create the generated accounts (once: existing ones are reused) and return
    every role holder, demo accounts included."""
    wanted: list[tuple[str, Role, str]] = []  # (organisation code, role, username)
    for code, weight in weights.items():
        staff = client_staff(weight)
        if code in DEMO_CLIENTS:
            # Besides the demo accounts: another request owner and two testers.
            staff = {Role.PORTEUR_DEMANDE: 1, Role.TESTEUR: 2, Role.DSI_CLIENT: 0}
        for role, count in staff.items():
            wanted += [
                (
                    code,
                    role,
                    f"{GENERATED_PREFIX}cd{code.lower()}.{ROLE_SUFFIX[role]}{n}",
                )
                for n in range(1, count + 1)
            ]
    supplier = Organisation.SUPPLIER_CODE
    for role, count in SUPPLIER_STAFF.items():
        wanted += [
            (supplier, role, f"{GENERATED_PREFIX}cnaf.{ROLE_SUFFIX[role]}{n:02d}")
            for n in range(1, count + 1)
        ]

    user_model = get_user_model()
    organisations = dict(Organisation.objects.values_list("code", "pk"))
    existing = set(
        user_model.objects.filter(username__startswith=GENERATED_PREFIX).values_list(
            "username", flat=True
        )
    )
    names = {
        username: (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        for _code, _role, username in wanted
    }
    # One unusable password for all: these accounts exist to be acted for, and a
    # benchmark logs in with force_login or as a demo account.
    unusable = make_password(None)
    new_users = user_model.objects.bulk_create(
        user_model(
            username=username,
            first_name=names[username][0],
            last_name=names[username][1],
            email=f"{username}@generated.tandem.invalid",
            password=unusable,
        )
        for _code, _role, username in wanted
        if username not in existing
    )
    users = {u.username: u.pk for u in new_users}
    users |= dict(
        user_model.objects.filter(username__in=existing).values_list("username", "pk")
    )
    Person.objects.bulk_create(
        Person(
            organisation_id=organisations[code],
            user_id=users[username],
            first_name=names[username][0],
            last_name=names[username][1],
            function=FUNCTIONS[role],
            email=f"{username}@generated.tandem.invalid",
            user_code=username.upper().replace(".", "-"),
        )
        for code, role, username in wanted
        if username not in existing
    )
    Membership.objects.bulk_create(
        Membership(
            user_id=users[username], organisation_id=organisations[code], role=role
        )
        for code, role, username in wanted
        if username not in existing
    )

    people = People()
    demo_names = [account.username for account in DEMO_ACCOUNTS]
    people.demo = dict(
        user_model.objects.filter(username__in=demo_names).values_list("username", "pk")
    )
    missing = sorted(set(demo_names) - set(people.demo))
    if missing:
        raise DatasetRefused(
            "Comptes de démonstration absents ("
            + ", ".join(missing)
            + ") : lancez d'abord « manage.py setup_demo »."
        )
    for account in DEMO_ACCOUNTS:
        # A demo account acts a little more often than its colleagues.
        _hold(
            people,
            account.organisation_code,
            account.role,
            people.demo[account.username],
            1.5,
        )
    for code, role, username in wanted:
        _hold(people, code, role, users[username], 1.0)
    people.usernames = {pk: name for name, pk in users.items()} | {
        pk: name for name, pk in people.demo.items()
    }
    return people


def _hold(people: People, code: str, role: Role, user_id: int, weight: float) -> None:
    ids, weights = people.holders.setdefault((code, role), ([], []))
    ids.append(user_id)
    weights.append(weight)


def organisation_weights(rng: random.Random) -> dict[str, float]:
    """Relative size of each client: a few big départements, a long tail."""
    weights = {}
    for code in (
        Organisation.objects.filter(kind=Organisation.Kind.CLIENT)
        .order_by("code")
        .values_list("code", flat=True)
    ):
        weight = rng.lognormvariate(0, 0.45)
        if code in LARGE_DEPARTEMENTS:
            weight *= 4
        weights[code] = DEMO_WEIGHTS.get(code, weight)
    return weights


def allocate(total: int, weights: dict, minimum: dict | None = None) -> dict:
    """Split `total` in proportion to `weights` (largest remainders), each key
    getting at least its `minimum`."""
    minimum = minimum or {}
    floor = sum(minimum.values())
    rest = max(0, total - floor)
    scale = sum(weights.values()) or 1
    exact = {key: rest * w / scale for key, w in weights.items()}
    shares = {key: int(value) for key, value in exact.items()}
    leftover = rest - sum(shares.values())
    for key in sorted(exact, key=lambda k: shares[k] - exact[k])[:leftover]:
        shares[key] += 1
    return {key: shares[key] + minimum.get(key, 0) for key in weights}


# ---------------------------------------------------------------------------
# viewflow processes and tasks


class FlowTables:
    """The tables viewflow keeps processes and tasks in."""

    def __init__(self, writer: BulkWriter):
        self.processes = writer.table(
            Process,
            (
                "flow_class",
                "status",
                "created",
                "finished",
                "data",
                "artifact_content_type",
                "artifact_object_id",
            ),
            explicit_ids=True,
        )
        self.tasks = writer.table(
            Task,
            (
                "flow_task",
                "flow_task_type",
                "status",
                "created",
                "started",
                "finished",
                "token",
                "owner_permission",
                "owner",
                "process",
                "data",
            ),
            explicit_ids=True,
        )
        self.previous = writer.table(Task.previous.through, ("from_task", "to_task"))


@dataclass(slots=True)
class TaskRow:
    """A viewflow task being written, its columns named as Task's fields."""

    id: int
    flow_task: str  # get_task_ref(node)
    flow_task_type: str
    status: str
    created: datetime
    started: datetime | None
    finished: datetime | None
    token: str
    owner_permission: str | None
    owner: int | None  # user id


_MS = timedelta(milliseconds=1)
# An open task waits in its role's queue, or sits in the inbox of whoever took it.
TAKEN_RATE = 0.35


@dataclass
class _Stub:
    """What flow nodes read to compute a task's permission and owner."""

    organisation: Organisation
    order_owner: object

    @property
    def process(self):
        return self

    @property
    def change_request(self):
        return self

    @property
    def subject(self):
        return self


_AUTO_OWNER = object()


class _NodeFacts(NamedTuple):
    """What a node's tasks are given, whoever the process is for in one client."""

    flow_task: str
    flow_task_type: str
    owner_permission: str | None
    assigned: bool  # given to the order owner as soon as created


class FlowRun:
    """One process of a flow as viewflow leaves it: each step completes the open
    task of a node, passes the gateways after it and opens what follows, as the
    flow's graph (bench.dataset.graph) routes it, with the owner, permission,
    token and previous-task link viewflow would give them."""

    _node_cache: dict = {}  # shared by every run: (node, code) -> facts

    def __init__(
        self,
        generation,
        tables: FlowTables,
        graph: FlowGraph,
        change_request_id: int,
        code: str,
        at: datetime,
        *,
        order_owner: int | None = None,
    ):
        """The process started at `at`: its start task, and the first task(s)
        waiting."""
        self.generation = generation
        self.tables = tables
        self.graph = graph
        self.code = code
        self.id = tables.processes.new_id()
        self.change_request_id = change_request_id
        self.created = at
        self.order_owner = order_owner
        self.status = PROCESS.NEW
        self.finished = None
        self.tasks: list[TaskRow] = []
        self.links: list[tuple[int, int]] = []  # (task, one of its previous tasks)
        self.open: dict[str, TaskRow] = {}  # node name -> its open task
        self.arrived: dict[str, int] = {}  # Join name -> branches arrived so far
        started = self._task(graph.start, STATUS.DONE, at, at, at + _MS)
        self._follow(started, graph.route(graph.start.name), at, opened_at=at)

    def _facts(self, node) -> _NodeFacts:
        key = (node, self.code)
        facts = self._node_cache.get(key)
        if facts is None:
            stub = _Stub(Organisation(code=self.code), _AUTO_OWNER)
            permission = owner = None
            if hasattr(node, "calc_owner_permission"):
                permission = node.calc_owner_permission(stub)
                owner = node.calc_owner(stub)
            facts = _NodeFacts(
                get_task_ref(node), node.task_type, permission, owner is not None
            )
            self._node_cache[key] = facts
        return facts

    def _task(
        self,
        node,
        status,
        created,
        started=None,
        finished=None,
        *,
        token="start",  # noqa: S107 - viewflow's path token, not a secret
        owner=None,
        previous=(),
    ) -> TaskRow:
        facts = self._facts(node)
        row = TaskRow(
            id=self.tables.tasks.new_id(),
            flow_task=facts.flow_task,
            flow_task_type=facts.flow_task_type,
            status=status,
            created=created,
            started=started,
            finished=finished,
            token=token,
            owner_permission=facts.owner_permission,
            owner=owner,
        )
        self.tasks.append(row)
        self.links += [(row.id, p.id) for p in previous]
        return row

    def open_task(self, node, at, previous, token="start") -> TaskRow:  # noqa: S107
        """The task of `node` created after `previous`: NEW in its role's queue, or
        ASSIGNED when the node gives it to the order owner."""
        auto = self._facts(node).assigned
        row = self._task(
            node,
            STATUS.ASSIGNED if auto else STATUS.NEW,
            at,
            token=token,
            owner=self.order_owner if auto else None,
            previous=previous,
        )
        self.open[node.name] = row
        return row

    def complete(self, node, by: int, at) -> TaskRow:
        """The open task of `node`, done by `by` at `at`."""
        row = self.open.pop(node.name)
        row.status, row.owner = STATUS.DONE, by
        row.started = max(row.created, at - timedelta(minutes=20))
        row.finished = at
        return row

    def step(self, route: Route, by: int, at) -> None:
        """The task of `route.done` completed by `by` at `at`, then what follows
        it in the flow."""
        self._follow(self.complete(route.done, by, at), route, at)

    def _follow(self, previous: TaskRow, route: Route, at, opened_at=None) -> None:
        """After the task `previous`: the route's gateways, each a millisecond
        after the other (a Join when its branch arrives: it goes on only once
        every branch has), then the next task(s) or the End."""
        passed = 0
        for gateway in route.gateways:
            if isinstance(gateway, Join):
                previous = self._arrive(gateway, previous, at)
                if previous is None:
                    return
            else:
                passed += 1
                previous = self._task(
                    gateway,
                    STATUS.DONE,
                    at + passed * _MS,
                    None,
                    at + passed * _MS,
                    token=previous.token,
                    previous=(previous,),
                )
        # What follows comes a millisecond after the last gateway, and never
        # sooner than 2 ms after the completion.
        when = opened_at or at + max(2, passed + 1) * _MS
        if route.ends:
            self._task(
                route.then[0],
                STATUS.DONE,
                when,
                when,
                when + _MS,
                token=previous.token,
                previous=(previous,),
            )
            self.status, self.finished = PROCESS.DONE, when + _MS
        elif route.splits:
            tokens = Token.split_token_source(previous.token, previous.id)
            for branch in route.then:
                self.open_task(branch, when, (previous,), next(tokens).token)
        else:
            self.open_task(route.then[0], when, (previous,), previous.token)

    def _arrive(self, join, arriving: TaskRow, at) -> TaskRow | None:
        """A branch reaching `join`: the Join's task is started by the first
        arrival and done when the last one arrives (then returned)."""
        row = self.open.get(join.name)
        if row is None:
            row = self._task(join, STATUS.STARTED, at, at)
            self.open[join.name] = row
        self.links.append((row.id, arriving.id))
        self.arrived[join.name] = self.arrived.get(join.name, 0) + 1
        if self.arrived[join.name] < self.graph.arrivals(join):
            return None
        self.open.pop(join.name)
        row.status, row.finished = STATUS.DONE, at
        return row

    def take(self, node_name: str, user_id: int) -> None:
        """The open task of `node_name` taken by `user_id` (in their inbox)."""
        row = self.open[node_name]
        row.status, row.owner = STATUS.ASSIGNED, user_id

    def cancel(self, at) -> None:
        """The request was declined or withdrawn: open tasks are cancelled."""
        for row in self.open.values():
            row.status, row.finished = STATUS.CANCELED, at
        self.open = {}
        self.status, self.finished = PROCESS.CANCELED, at

    def close(self, child_table) -> None:
        """Write the process, its tasks and links. Some waiting tasks were taken
        by someone holding their role: they sit in that person's inbox."""
        rng, people = self.generation.rng, self.generation.people
        for row in self.open.values():
            permission = row.owner_permission
            if row.status == STATUS.NEW and permission and rng.random() < TAKEN_RATE:
                role, code = permission.removeprefix("roles.").rsplit("_", 1)
                row.status, row.owner = STATUS.ASSIGNED, people.pick(rng, code, role)
        self.tables.processes.add_named(
            id=self.id,
            flow_class=get_flow_ref(self.graph.flow_class),
            status=self.status,
            created=self.created,
            finished=self.finished,
            data={},
            artifact_content_type=self.generation.content_types[ChangeRequest],
            artifact_object_id=self.change_request_id,
        )
        child_table.add_named(
            process_ptr=self.id, change_request=self.change_request_id
        )
        tasks = self.tables.tasks
        for row in self.tasks:
            tasks.add_named(
                id=row.id,
                flow_task=row.flow_task,
                flow_task_type=row.flow_task_type,
                status=row.status,
                created=row.created,
                started=row.started,
                finished=row.finished,
                token=row.token,
                owner_permission=row.owner_permission,
                owner=row.owner,
                process=self.id,
                data={},
            )
        for task, previous in self.links:
            self.tables.previous.add_named(from_task=task, to_task=previous)


# ---------------------------------------------------------------------------
# The generation


@dataclass
class Generation:
    """What every part of the generation shares: randomness, clock, writer, people."""

    rng: random.Random
    now: datetime
    scale: float
    volumes: Volumes
    writer: BulkWriter
    people: People
    organisations: dict[str, int]  # code -> pk
    content_types: dict[type, int]
    notable: dict = field(default_factory=dict)
    flows: FlowTables | None = None  # viewflow's tables, shared by both flows
    # Audit journal entries, sealed and written at the end in the order of time.
    journal: list[tuple] = field(default_factory=list)
    log: Callable[[str], None] = print

    def __post_init__(self):
        self.transition_logs = self.writer.table(
            TransitionLog,
            (
                "content_type",
                "object_id",
                "organisation",
                "transition",
                "source",
                "target",
                "by",
                "at",
                "comment",
            ),
        )

    def record_transition(
        self,
        model,
        object_id: int,
        code: str,
        name: str,
        source: str,
        target: str,
        by: int,
        at: datetime,
        comment: str = "",
    ) -> None:
        """The TransitionLog row and the audit entry `workflow.transitions.fire`
        would have written."""
        self.transition_logs.add(
            self.content_types[model],
            object_id,
            self.organisations[code],
            name,
            source,
            target,
            by,
            at,
            comment,
        )
        self.journal.append(
            (
                at,
                AuditEntry.Action.TRANSITION,
                by,
                code,
                model._meta.label_lower,
                object_id,
                {
                    "transition": name,
                    "source": source,
                    "target": target,
                    "comment": comment,
                },
            )
        )

    def record_signature(self, signature_id: int, code: str, by: int, at, **detail):
        self.journal.append(
            (
                at,
                AuditEntry.Action.SIGNATURE,
                by,
                code,
                "recette.signature",
                signature_id,
                detail,
            )
        )


def journal_append(generation: Generation) -> int:
    """Seal the generated entries in the order of time after the journal's last
    entry, as `audit.record` would have one by one; return how many."""
    table = generation.writer.table(
        AuditEntry,
        (
            "seq",
            "at",
            "action",
            "actor_id",
            "actor",
            "organisation",
            "subject_type",
            "subject_id",
            "detail",
            "prev_hash",
            "hash",
        ),
    )
    seq, prev_hash = audit.journal_tail()
    usernames = generation.people.usernames
    entries = sorted(generation.journal, key=lambda e: (e[0], e[4], e[5]))
    for at, action, actor_id, code, subject_type, subject_id, detail in entries:
        seq += 1
        entry = AuditEntry(
            seq=seq,
            at=at,
            action=action,
            actor_id=actor_id,
            actor=usernames[actor_id],
            organisation=code,
            subject_type=subject_type,
            subject_id=str(subject_id),
            detail=detail,
            prev_hash=prev_hash,
        )
        prev_hash = audit.seal(entry)
        table.add(
            seq,
            at,
            action,
            actor_id,
            entry.actor,
            code,
            subject_type,
            entry.subject_id,
            detail,
            entry.prev_hash,
            prev_hash,
        )
        if len(table.rows) >= generation.writer.flush_rows:
            generation.writer.flush()
    generation.journal = []
    return seq


def existing_dataset() -> int:
    """How many change requests a previous generation left (0: none)."""
    from evolutions.models import ChangeRequest

    return ChangeRequest.objects.filter(
        request_owner__username__startswith=GENERATED_PREFIX
    ).count()


def manifest_path(tier: str) -> Path:
    return Path(settings.VAR_DIR) / f"dataset-{tier}.json"


@dataclass
class Report:
    """What the command prints and the manifest keeps."""

    manifest: dict
    tables: list[tuple[str, int, float]]
    phases: list[tuple[str, float]]


def dataset_generate(
    *,
    tier: str,
    scale: float,
    seed: int = 42,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Report:
    """Generate a dataset of `scale` times the large tier, in one transaction."""
    from bench.dataset import evolutions as evolutions_dataset
    from bench.dataset import recette as recette_dataset

    started = time.monotonic()
    phases: list[tuple[str, float]] = []

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        phases.append((name, now - since))
        log(f"  {name} : {now - since:.1f} s")
        return now

    already = existing_dataset()
    if already and not force:
        raise DatasetRefused(
            f"Un jeu de données généré existe déjà ({already} demandes d'évolution "
            "de comptes gen.*). Utilisez une base neuve, ou --force pour en ajouter "
            "un autre par-dessus."
        )
    reference_data_load()
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    volumes = LARGE.scaled(scale)
    writer = BulkWriter()
    step = time.monotonic()
    with transaction.atomic():
        weights = organisation_weights(rng)
        people = people_load(rng, weights)
        step = phase("comptes et rôles", step)
        generation = Generation(
            rng=rng,
            # The day, not the second: the same seed gives the same rows all day.
            now=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0),
            scale=scale,
            volumes=volumes,
            writer=writer,
            people=people,
            organisations=dict(Organisation.objects.values_list("code", "pk")),
            content_types={},
            log=log,
        )
        requests = evolutions_dataset.requests_plan(generation, weights)
        recette_dataset.acceptances_plan(generation, requests)
        evolutions_dataset.requests_date(generation, requests)
        step = phase("scénarios", step)

        evolutions_tables = evolutions_dataset.RequestWriter(generation)
        recette_tables = recette_dataset.AcceptanceWriter(generation)
        generation.content_types = {
            model: ContentType.objects.get_for_model(model).pk
            for model in (
                *evolutions_dataset.JOURNALLED,
                *recette_dataset.JOURNALLED,
            )
        }
        writer.begin()
        evolutions_tables.start(requests)
        recette_tables.start(requests)
        total = len(requests)
        for done, request in enumerate(requests, start=1):
            evolutions_tables.write(request)
            if request.acceptance is not None:
                recette_tables.write(request)
            writer.flush_if_full()
            if done % max(1, total // 10) == 0 or done == total:
                log(
                    f"  … {done} / {total} demandes écrites "
                    f"({time.monotonic() - step:.0f} s)"
                )
        writer.flush()
        step = phase("génération et écriture", step)
        bilans = recette_tables.store_bilans()
        step = phase(f"{bilans} bilans déposés en PDF", step)
        last_seq = journal_append(generation)
        writer.finish()
        step = phase("journal d'audit et séquences", step)
    step = phase("validation (COMMIT)", step)
    if connection.vendor == "postgresql":
        # Statistics and visibility map as a settled database has them; inside a
        # caller's transaction (tests) only the statistics.
        command = "ANALYZE " if connection.in_atomic_block else "VACUUM (ANALYZE) "
        with connection.cursor() as cursor:
            for table in writer.tables:
                cursor.execute(command + connection.ops.quote_name(table.name))
        step = phase(command.strip(), step)

    manifest = {
        "tier": tier,
        "scale": scale,
        "seed": seed,
        "database": connection.vendor,
        "generated_at": timezone.now().replace(microsecond=0).isoformat(),
        "seconds": round(time.monotonic() - started, 1),
        "volumes": volumes.__dict__,
        "audit_entries": last_seq,
        **generation.notable,
        # Who measures: the notable objects belong to client 23.
        "users": BENCHMARK_USERS,
        "client_owner": BENCHMARK_USERS["client_owner"],
        "accounts": demo_inboxes(),
    }
    tables = [(t.name, t.written, t.seconds) for t in writer.tables]
    manifest["rows"] = {name: rows for name, rows, _seconds in tables}
    return Report(manifest=manifest, tables=tables, phases=phases)


def demo_inboxes() -> dict[str, dict[str, int]]:
    """Open tasks of each demo account: in its inbox (assigned to it) and in its
    queue (waiting for one of its roles)."""
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    user_model = get_user_model()
    counts = {}
    for account in DEMO_ACCOUNTS:
        user = user_model.objects.get(username=account.username)
        permissions = user.get_all_permissions()
        counts[account.username] = {
            "inbox": Task.objects.filter(owner=user, status=STATUS.ASSIGNED).count(),
            "queue": Task.objects.filter(
                owner__isnull=True,
                status=STATUS.NEW,
                owner_permission__in=permissions,
            ).count(),
        }
    return counts
