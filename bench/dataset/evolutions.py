"""Generated change requests (see bench.dataset.core): each one is walked through its
lifecycle in memory, with the loops real requests go through, then written with
its history, specifications, quotes, messages and EvolutionFlow process."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from bench.dataset.core import FlowRun, FlowTables, Generation, allocate
from bench.dataset.graph import FlowGraph, FlowMismatch, Route
from contacts.models import Organisation, Role
from evolutions.consistency import STEP_OF_STATUS
from evolutions.flows import EvolutionFlow
from evolutions.models import (
    ChangeRequest,
    Comment,
    EvolutionProcess,
    Quote,
    ReferenceSequence,
    Release,
    SpecificationVersion,
)

S = ChangeRequest.Status
SUPPLIER = Organisation.SUPPLIER_CODE
JOURNALLED = (ChangeRequest,)

# EvolutionFlow's graph; the usual way through takes these branches.
GRAPH = FlowGraph(
    EvolutionFlow,
    happy={
        "after_review_submission": "write_specification",
        "after_review_specification": "write_quote",
        "after_review_quote": "propose_release",
        "after_confirm_release": "start_manufacture",
    },
)
# The way to production, in the flow's order: the transition of the request that
# completes each task (the first submission starts the process), and the days it
# takes (min, max). Checked below against the flow's happy path.
COMPLETED_BY = {
    "start": ("submit", (0.2, 8)),
    "review_submission": ("acknowledge", (0.5, 6)),
    "write_specification": ("issue_specification", (5, 30)),
    "review_specification": ("validate_specification", (1, 10)),
    "write_quote": ("issue_quote", (3, 15)),
    "review_quote": ("accept_quote", (1, 10)),
    "propose_release": ("propose_release", (2, 12)),
    "confirm_release": ("confirm_release", (1, 6)),
    "start_manufacture": ("start_manufacture", (5, 60)),
    "finish_manufacture": ("finish_manufacture", (20, 90)),
}
# Transitions off the happy path: the task each completes and the one it sends the
# work to (None: the flow's only way on).
DETOURS = {
    "request_information": ("review_submission", "complete_information"),
    # Submitted again after a request for information (the "resubmit" transition).
    "submit": ("complete_information", None),
    "send_back_specification": ("review_specification", "write_specification"),
    "refuse_quote": ("review_quote", "write_quote"),
    "ask_another_release": ("confirm_release", "propose_release"),
}
# Where the request stands while a task waits: the app's own table
# (evolutions.consistency), read the other way round. Once the flow is over, the
# acceptance begins.
STATUS_AT = {node: status for status, node in STEP_OF_STATUS.items()}
AFTER_END = S.IN_ACCEPTANCE
# Not tasks: actions that cancel the process, and the status they leave.
CLOSINGS = {"decline": S.DECLINED, "withdraw": S.WITHDRAWN}

if list(COMPLETED_BY) != [GRAPH.start.name, *GRAPH.human_path()]:
    raise FlowMismatch(
        f"COMPLETED_BY follows {list(COMPLETED_BY)}, EvolutionFlow's happy path "
        f"{[GRAPH.start.name, *GRAPH.human_path()]}"
    )
if len(STATUS_AT) != len(STEP_OF_STATUS):
    raise FlowMismatch("STEP_OF_STATUS gives one task to two statuses")
GRAPH.check_tasks(STATUS_AT)

# The flow's route for each transition taken in a task.
ROUTES = {
    transition: GRAPH.route(node)
    for node, (transition, _days) in COMPLETED_BY.items()
    if node != GRAPH.start.name
} | {name: GRAPH.route(done, to) for name, (done, to) in DETOURS.items()}


def status_after(route: Route) -> str:
    """The request's status once the flow has gone along `route`."""
    return AFTER_END if route.ends else STATUS_AT[route.then[0].name]


# The way to production: transition, status reached, days it takes (min, max).
HAPPY_PATH = tuple(
    (transition, status_after(GRAPH.route(node)), days)
    for node, (transition, days) in COMPLETED_BY.items()
)
# After these transitions the work may go back: the pair of transitions of one loop,
# and how likely each further loop is.
LOOPS = {
    "submit": (("request_information", "submit"), 0.15),
    "issue_specification": (("send_back_specification", "issue_specification"), 0.3),
    "issue_quote": (("refuse_quote", "issue_quote"), 0.15),
    "propose_release": (("ask_another_release", "propose_release"), 0.08),
}
LOOP_DAYS = {
    "request_information": (1, 5),
    "send_back_specification": (1, 10),
    "refuse_quote": (1, 10),
    "ask_another_release": (1, 6),
    "decline": (1, 20),
    "withdraw": (1, 30),
}
TARGET = (
    {name: status for name, status, _days in HAPPY_PATH}
    | {name: status_after(route) for name, route in ROUTES.items()}
    | CLOSINGS
)
DAYS = {name: days for name, _status, days in HAPPY_PATH} | LOOP_DAYS
STARTED_BY = COMPLETED_BY[GRAPH.start.name][0]

CLIENT_DECISIONS = {
    "validate_specification",
    "send_back_specification",
    "accept_quote",
    "refuse_quote",
    "confirm_release",
    "ask_another_release",
    "withdraw",
}
ORDER_OWNER_WORK = {"issue_specification", "issue_quote", "propose_release"}

# How the requests not yet in acceptance are spread (per cent, roughly).
EARLY_STATUSES = {
    S.DRAFT: 6,
    S.SUBMITTED: 3.2,
    S.INFO_REQUESTED: 3,
    S.IN_STUDY: 9,
    S.SPEC_REVIEW: 6,
    S.QUOTE_PREPARATION: 5,
    S.QUOTE_REVIEW: 5,
    S.PLANNING: 4,
    S.RELEASE_PROPOSED: 3,
    S.PLANNED: 9,
    S.IN_MANUFACTURE: 10,
    S.DECLINED: 12,
    S.WITHDRAWN: 14,
}
# Client 23 always has one request at each status, the notable ones of the
# benchmarks, and its open tasks in the demo accounts' inboxes.
SHOWCASE = (
    (S.DRAFT, "", {}),
    (S.SUBMITTED, "", {"review_submission": "cnaf.contact"}),
    (S.INFO_REQUESTED, "", {"complete_information": "cd23.porteur"}),
    (S.IN_STUDY, "", {}),
    (S.SPEC_REVIEW, "", {"review_specification": "cd23.porteur"}),
    (S.QUOTE_PREPARATION, "", {}),
    (S.QUOTE_REVIEW, "", {"review_quote": "cd23.porteur"}),
    (S.PLANNING, "", {}),
    (S.RELEASE_PROPOSED, "", {}),
    (S.PLANNED, "", {"start_manufacture": "cnaf.moe"}),
    (S.IN_MANUFACTURE, "", {}),
    (S.DECLINED, "", {}),
    (S.WITHDRAWN, "", {}),
    (S.IN_PRODUCTION, "", {}),
    (S.IN_ACCEPTANCE, "detail_30", {}),
    (S.IN_ACCEPTANCE, "campaign_500", {}),
    (S.IN_ACCEPTANCE, "campaign_5000", {}),
    (S.IN_ACCEPTANCE, "report_2000", {}),
)
GRAPH.check_tasks(node for _status, _notable, taken in SHOWCASE for node in taken)
# The benchmarks' acceptances, each with its plan.
NOTABLE_ACCEPTANCES = sum(
    1 for status, notable, _taken in SHOWCASE if notable and status == S.IN_ACCEPTANCE
)
SHOWCASE_CLIENT = "23"
# Loops of the request whose page shows exactly 30 history rows.
DETAIL_30_LOOPS = {
    "submit": 3,
    "issue_specification": 4,
    "issue_quote": 2,
    "propose_release": 1,
}
HEAVY_RATE = 0.004  # requests that loop far more than the others (30+ rows)

VERBS = (
    "Ajouter",
    "Contrôler",
    "Historiser",
    "Transmettre",
    "Horodater",
    "Normaliser",
    "Exposer",
    "Signaler",
    "Archiver",
    "Dédoublonner",
    "Recalculer",
    "Afficher",
    "Exporter",
    "Purger",
)
SUBJECTS = (
    "la date présumée de conception",
    "le NIR de l'assurée",
    "le code INSEE de la commune",
    "le motif de la déclaration",
    "l'adresse postale",
    "le rang de la grossesse",
    "l'accusé de réception",
    "les déclarations rejetées",
    "le médecin déclarant",
    "la date de fin de grossesse",
    "les pièces justificatives",
    "les statistiques mensuelles",
    "le numéro allocataire",
    "les grossesses multiples",
)
PLACES = (
    "dans le flux DSG",
    "dans le flux SGR",
    "dans le flux GRO",
    "à la réception des flux",
    "avant intégration",
    "dans le tableau de bord PMI",
    "dans les exports mensuels",
    "pour les déclarations tardives",
)
BENEFITS = (
    "Moins de ressaisies et des données plus fiables.",
    "Respect de l'échéance réglementaire.",
    "Un suivi plus rapide des futures mères par la PMI.",
    "Moins de rejets à traiter à la main.",
)
QUESTIONS = (
    "Quel volume mensuel attendez-vous ?",
    "Pouvez-vous préciser les flux concernés ?",
    "Quelle est l'échéance réglementaire à respecter ?",
    "Merci de joindre un exemple de déclaration anonymisée.",
)
SEND_BACKS = (
    "Les règles de gestion ne couvrent pas les déclarations tardives.",
    "Merci de préciser l'impact sur le flux GRO.",
    "Le cas des grossesses multiples manque.",
    "Le format des dates n'est pas celui de nos exports.",
)
QUOTE_REFUSALS = (
    "Le montant dépasse l'enveloppe votée pour l'année.",
    "La charge de recette nous paraît surestimée.",
    "Merci de distinguer la part réglementaire dans le chiffrage.",
)
OTHER_RELEASES = (
    "La version proposée tombe pendant la clôture budgétaire.",
    "Nos testeurs ne sont pas disponibles à cette période.",
)
DECLINES = (
    "Besoin couvert par la version nationale.",
    "Hors du périmètre du contrat de service.",
    "Doublon d'une demande déjà planifiée.",
)
WITHDRAWALS = (
    "Besoin abandonné après arbitrage interne.",
    "Remplacée par une demande plus large.",
    "La réglementation a changé entre-temps.",
)
MESSAGES = (
    "Nous confirmons la priorité de cette demande.",
    "Réunion de cadrage prévue la semaine prochaine.",
    "Les exemples demandés sont dans la pièce jointe de la demande.",
    "Pouvez-vous nous indiquer une date de livraison prévisionnelle ?",
    "Point fait avec la MOE : pas d'impact sur les autres flux.",
)
COMMENTS = {
    "request_information": QUESTIONS,
    "send_back_specification": SEND_BACKS,
    "refuse_quote": QUOTE_REFUSALS,
    "ask_another_release": OTHER_RELEASES,
    "decline": DECLINES,
    "withdraw": WITHDRAWALS,
}


@dataclass
class RequestPlan:
    """One change request to generate: who, where it stands, how it got there."""

    code: str
    status: str
    request_owner: int
    loops: dict[str, int]
    notable: str = ""
    taken: dict[str, str] = field(default_factory=dict)  # node -> demo account
    transitions: list[tuple[str, float]] = field(default_factory=list)  # (name, day)
    order_owner: int | None = None
    contact: int = 0
    moe: int = 0
    acceptance: object = None  # bench.dataset.recette.AcceptanceScript
    origin: datetime | None = None  # when it was created
    id: int = 0
    reference: str = ""

    @property
    def last_day(self) -> float:
        last = self.transitions[-1][1] if self.transitions else 0.0
        if self.acceptance is not None:
            last = max(last, self.acceptance.last_day)
        return last

    def at(self, day: float) -> datetime:
        return self.origin + timedelta(days=day)


def _loops(rng) -> dict[str, int]:
    loops = {}
    for name, (_pair, odds) in LOOPS.items():
        count = 0
        while rng.random() < odds:
            count += 1
        loops[name] = count
    if rng.random() < HEAVY_RATE:
        for _ in range(rng.randint(8, 12)):
            loops[rng.choice(list(LOOPS))] += 1
    return loops


def lifecycle(rng, status: str, loops: dict[str, int]) -> list[str]:
    """The transitions that took a request to `status`, loops included."""
    full = []
    for name, _status, _days in HAPPY_PATH:
        full.append(name)
        if name in LOOPS:
            full += list(LOOPS[name][0]) * loops.get(name, 0)
    if status == S.DRAFT:
        return []
    if status in (S.IN_ACCEPTANCE, S.IN_PRODUCTION):
        return full
    reached = [TARGET[name] for name in full]
    if status in (S.DECLINED, S.WITHDRAWN):
        allowed = (
            ChangeRequest.DECLINABLE
            if status == S.DECLINED
            else ChangeRequest.BEFORE_MANUFACTURE
        )
        # Withdrawn drafts were never submitted (index -1).
        stops = [-1] if status == S.WITHDRAWN else []
        stops += [
            i for i, reached_status in enumerate(reached) if reached_status in allowed
        ]
        # Most requests are declined or withdrawn early.
        stop = rng.choices(stops, [1 / (1 + 0.4 * n) for n in range(len(stops))])[0]
        return [*full[: stop + 1], "decline" if status == S.DECLINED else "withdraw"]
    stop = max(
        i for i, reached_status in enumerate(reached) if reached_status == status
    )
    return full[: stop + 1]


def requests_plan(
    generation: Generation, weights: dict[str, float]
) -> list[RequestPlan]:
    """Who asks for what, and where each request stands (no dates yet)."""
    rng, people, volumes = generation.rng, generation.people, generation.volumes
    # Requests in production and most of those in acceptance have a plan: the
    # number of plans fixes how many got that far.
    in_acceptance_with_plan = max(
        NOTABLE_ACCEPTANCES, volumes.plans - round(volumes.plans * 0.6)
    )
    in_production = volumes.plans - in_acceptance_with_plan
    in_acceptance = in_acceptance_with_plan + max(
        1, round(in_acceptance_with_plan * 0.06)
    )
    early = volumes.change_requests - in_production - in_acceptance
    quotas = allocate(early, EARLY_STATUSES)
    quotas[S.IN_PRODUCTION], quotas[S.IN_ACCEPTANCE] = in_production, in_acceptance

    requests = []
    for status, notable, taken in SHOWCASE:
        quotas[status] -= 1
        requests.append(
            RequestPlan(
                code=SHOWCASE_CLIENT,
                status=status,
                request_owner=people.demo["cd23.porteur"],
                loops=DETAIL_30_LOOPS if notable == "detail_30" else _loops(rng),
                notable=notable,
                taken=taken,
                order_owner=people.demo["cnaf.commande"],
            )
        )
    statuses = [
        status for status, count in quotas.items() for _ in range(max(0, count))
    ]
    rng.shuffle(statuses)
    per_client = allocate(len(statuses), weights, {"57": 5})
    codes = [code for code, count in per_client.items() for _ in range(count)]
    for code, status in zip(codes, statuses, strict=True):
        requests.append(
            RequestPlan(
                code=code,
                status=status,
                request_owner=people.pick(rng, code, Role.PORTEUR_DEMANDE),
                loops=_loops(rng),
            )
        )
    for request in requests:
        if request.status == S.INFO_REQUESTED:
            request.loops["submit"] = max(1, request.loops["submit"])
        names = lifecycle(rng, request.status, request.loops)
        day = rng.uniform(0.1, 10)  # writing the needs expression
        for name in names:
            day += rng.uniform(*DAYS[name])
            request.transitions.append((name, day))
        request.contact = people.pick(rng, SUPPLIER, Role.CONTACT_EVOLUTIONS)
        request.moe = people.pick(rng, SUPPLIER, Role.MOE)
        if "acknowledge" in names and request.order_owner is None:
            request.order_owner = people.pick(rng, SUPPLIER, Role.PORTEUR_COMMANDE)
    return requests


def requests_date(generation: Generation, requests: list[RequestPlan]) -> None:
    """Place each request in time so that it stands where it should today: open
    work has been waiting for a few days, closed requests ended over the last years.
    Then number them in the order of creation."""
    rng, now = generation.rng, generation.now
    for request in requests:
        acceptance = request.acceptance
        if request.status == S.DRAFT:
            end = now - timedelta(days=rng.uniform(0, 60))
        elif request.status in ChangeRequest.CLOSED:
            end = now - timedelta(days=rng.uniform(2, 900))
        elif acceptance is not None and acceptance.campaign_open:
            end = now - timedelta(days=rng.uniform(3, 20))
        else:
            end = now - timedelta(days=rng.uniform(0.2, 25))
        request.origin = end - timedelta(days=request.last_day)
    requests.sort(key=lambda r: r.origin)


class RequestWriter:
    """Writes each planned request with what its services and flow leave."""

    def __init__(self, generation: Generation):
        self.generation = generation
        writer = generation.writer
        self.requests = writer.table(
            ChangeRequest,
            (
                "reference",
                "organisation",
                "title",
                "kind",
                "data_flows",
                "description",
                "expected_benefit",
                "wished_date",
                "request_owner",
                "order_owner",
                "proposed_release",
                "release",
                "status",
                "closing_reason",
                "created_at",
                "submitted_at",
            ),
            explicit_ids=True,
        )
        decision = ("decision", "decision_comment", "decided_by", "decided_at")
        self.specifications = writer.table(
            SpecificationVersion,
            (
                "change_request",
                "version",
                "summary",
                "document",
                "document_name",
                "author",
                "issued_at",
                *decision,
            ),
        )
        self.quotes = writer.table(
            Quote,
            (
                "change_request",
                "version",
                "man_days",
                "amount",
                "valid_until",
                "document",
                "document_name",
                "author",
                "issued_at",
                *decision,
            ),
        )
        self.comments = writer.table(
            Comment, ("change_request", "author", "body", "created_at")
        )
        generation.flows = FlowTables(writer)
        self.processes = writer.table(
            EvolutionProcess, ("process_ptr", "change_request")
        )
        self.releases: list[tuple[int, date]] = []

    def start(self, requests: list[RequestPlan]) -> None:
        """Ids, references (following each client's yearly sequence) and the
        releases the requests are planned into."""
        years: dict[tuple[str, int], list[RequestPlan]] = {}
        for request in requests:
            request.id = self.requests.new_id()
            years.setdefault((request.code, request.origin.year), []).append(request)
        organisations = self.generation.organisations
        sequences = {
            (s.organisation_id, s.year): s
            for s in ReferenceSequence.objects.filter(
                year__in={year for _code, year in years}
            )
        }
        changed, created = [], []
        for (code, year), planned in years.items():
            sequence = sequences.get((organisations[code], year))
            if sequence is None:
                sequence = ReferenceSequence(
                    organisation_id=organisations[code], year=year, last_number=0
                )
                created.append(sequence)
            else:
                changed.append(sequence)
            for request in planned:
                sequence.last_number += 1
                request.reference = f"EVO-{code}-{year}-{sequence.last_number:04d}"
        ReferenceSequence.objects.bulk_update(changed, ["last_number"])
        ReferenceSequence.objects.bulk_create(created)
        self.releases = releases_load(
            requests[0].origin.year if requests else self.generation.now.year,
            self.generation.now.year + 1,
        )

    def _release(self, after: datetime, *, future: bool) -> int:
        """A release at least six weeks after `after` (the next one or the one
        after), still to come when `future`; or the last one."""
        soon = (after + timedelta(days=42)).date()
        if future:
            soon = max(soon, (self.generation.now + timedelta(days=14)).date())
        later = [pk for pk, production in self.releases if production >= soon]
        if not later:
            return self.releases[-1][0]
        return later[0] if self.generation.rng.random() < 0.7 else later[:2][-1]

    def write(self, request: RequestPlan) -> None:
        generation = self.generation
        rng, people = generation.rng, generation.people
        code, pk = request.code, request.id
        state = S.DRAFT
        run = None
        submitted_at = proposed = release = None
        closing_reason = ""
        specifications: list[list] = []
        quotes: list[list] = []
        for name, day in request.transitions:
            when = request.at(day)
            by = self._actor(request, name)
            comment = rng.choice(COMMENTS[name]) if name in COMMENTS else ""
            if name == "submit":
                submitted_at = when
            if run is None and name == STARTED_BY:
                run = FlowRun(
                    generation,
                    generation.flows,
                    GRAPH,
                    pk,
                    code,
                    when,
                    order_owner=request.order_owner,
                )
            elif name in CLOSINGS:
                closing_reason = comment
                if run is not None:
                    run.cancel(when)
            else:
                run.step(ROUTES[name], by, when)
            if name == "issue_specification":
                specifications.append(
                    [
                        pk,
                        len(specifications) + 1,
                        "Périmètre, règles de gestion et impacts sur les flux "
                        f"(version {len(specifications) + 1}).",
                        "",
                        "",
                        by,
                        when,
                        SpecificationVersion.Decision.PENDING,
                        "",
                        None,
                        None,
                    ]
                )
            elif name in ("validate_specification", "send_back_specification"):
                specifications[-1][7:] = [
                    SpecificationVersion.Decision.VALIDATED
                    if name == "validate_specification"
                    else SpecificationVersion.Decision.SENT_BACK,
                    comment,
                    by,
                    when,
                ]
            elif name == "issue_quote":
                man_days = Decimal(rng.randint(20, 900)) / 10
                quotes.append(
                    [
                        pk,
                        len(quotes) + 1,
                        man_days,
                        (man_days * 720).quantize(Decimal("0.01")),
                        (when + timedelta(days=45)).date(),
                        "",
                        "",
                        by,
                        when,
                        Quote.Decision.PENDING,
                        "",
                        None,
                        None,
                    ]
                )
            elif name in ("accept_quote", "refuse_quote"):
                quotes[-1][9:] = [
                    Quote.Decision.ACCEPTED
                    if name == "accept_quote"
                    else Quote.Decision.REFUSED,
                    comment,
                    by,
                    when,
                ]
            elif name == "propose_release":
                proposed = self._release(
                    when, future=request.status not in ChangeRequest.CLOSED
                )
            elif name == "confirm_release":
                release = proposed
            elif name == "ask_another_release":
                proposed = None
            target = TARGET[name]
            # A submission after a request for information is the model's
            # "resubmit" transition (the flow's complete_information task).
            recorded = (
                "resubmit" if name == "submit" and state == S.INFO_REQUESTED else name
            )
            generation.record_transition(
                ChangeRequest, pk, code, recorded, state, target, by, when, comment
            )
            state = target

        title = f"{rng.choice(VERBS)} {rng.choice(SUBJECTS)} {rng.choice(PLACES)}"
        flows = sorted(rng.sample(["DSG", "SGR", "GRO", "autre"], rng.randint(1, 2)))
        created = request.origin
        self.requests.add(
            pk,
            request.reference,
            generation.organisations[code],
            title,
            rng.choice(ChangeRequest.Kind.values),
            flows,
            f"{title}. Le besoin porte sur les échanges du département {code} avec "
            "la CNAF pour les déclarations de grossesse ; il concerne "
            f"{rng.randint(40, 2500)} déclarations par mois.",
            rng.choice(BENEFITS),
            (created + timedelta(days=rng.randint(60, 400))).date()
            if rng.random() < 0.6
            else None,
            request.request_owner,
            request.order_owner,
            proposed,
            release,
            request.status,
            closing_reason,
            created,
            submitted_at,
        )
        for row in specifications:
            self.specifications.add(*row)
        for row in quotes:
            self.quotes.add(*row)
        if submitted_at is not None:
            end = request.at(request.transitions[-1][1])
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                author = (
                    rng.choice(
                        [request.request_owner, request.contact, request.order_owner]
                    )
                    or request.request_owner
                )
                moment = submitted_at + (end - submitted_at) * rng.random()
                self.comments.add(pk, author, rng.choice(MESSAGES), moment)
        if run is not None:
            if request.status == S.IN_MANUFACTURE and rng.random() < 0.8:
                # Who started the manufacture goes on with it.
                run.take(STEP_OF_STATUS[S.IN_MANUFACTURE], request.moe)
            for node_name, username in request.taken.items():
                run.take(node_name, people.demo[username])
            run.close(self.processes)
        if request.notable == "detail_30":
            generation.notable["detail_30"] = pk
            generation.notable["detail_30_url"] = f"/evolutions/{pk}/"
            generation.notable["detail_30_history"] = len(request.transitions)

    def _actor(self, request: RequestPlan, name: str) -> int:
        rng, people = self.generation.rng, self.generation.people
        if name == "submit":
            return request.request_owner
        if name in CLIENT_DECISIONS:
            # Another request owner of the client sometimes takes the task.
            if rng.random() < 0.75:
                return request.request_owner
            return people.pick(rng, request.code, Role.PORTEUR_DEMANDE)
        if name in ORDER_OWNER_WORK:
            return request.order_owner
        if name == "decline" and request.order_owner and rng.random() < 0.5:
            return request.order_owner
        if name in ("start_manufacture", "finish_manufacture"):
            return request.moe
        return request.contact


def releases_load(first_year: int, last_year: int) -> list[tuple[int, date]]:
    """Three major releases a year over the period (existing ones are kept);
    (pk, production date) in the order of production."""
    for year in range(first_year, last_year + 1):
        for n, (month, recette_day) in enumerate(((2, 1), (5, 3), (9, 6)), start=1):
            Release.objects.get_or_create(
                number=f"{year}.{n}",
                defaults={
                    "title": f"Version majeure {year}.{n}",
                    "recette_start": date(year, month, recette_day),
                    "recette_end": date(year, month, 25),
                    "production_date": date(year, month + 1, 12),
                },
            )
    return list(
        Release.objects.order_by("production_date").values_list("pk", "production_date")
    )
