"""Generated acceptances (see bench.dataset.core): the plan with its cases and steps,
qualifications, deliveries, campaigns with their executions, defects followed
until verified, the report and the go-live agreement, and the RecetteFlow process,
for every generated request that reached manufacture's end."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from bench.dataset.core import FlowRun, Generation, allocate
from bench.dataset.evolutions import RequestPlan
from bench.dataset.graph import FlowGraph, FlowMismatch
from contacts.models import Organisation, Role
from evolutions.models import ChangeRequest
from recette.consistency import SIGN_STEP
from recette.flows import RecetteFlow
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    CampaignCase,
    Defect,
    Delivery,
    Execution,
    GoLiveAgreement,
    Qualification,
    RecetteProcess,
    Signature,
    TestCase,
    TestStep,
)

S = ChangeRequest.Status
R = Execution.Result
D = Defect.Status
SUPPLIER = Organisation.SUPPLIER_CODE
JOURNALLED = (AcceptancePlan, Campaign, Defect, AcceptanceReport, GoLiveAgreement)

# RecetteFlow's graph; the usual way through takes these branches.
GRAPH = FlowGraph(
    RecetteFlow,
    happy={
        "after_review_plan": "qualify",
        "after_qualify": "deliver",
        "after_campaign": "write_report",
        "after_signatures": "end",
    },
)
# The task each event of a script completes, and the one it sends the work to
# (None: along the happy path). The signatures complete SIGN_STEP's tasks
# (recette.consistency), one per side.
EVENT_STEPS = {
    "plan_submit": ("prepare_plan", None),
    "plan_send_back": ("review_plan", "prepare_plan"),
    "plan_validate": ("review_plan", None),
    "qualify_failed": ("qualify", "qualify"),
    "qualify_passed": ("qualify", None),
    "deliver": ("deliver", None),
    "close_fixes": ("run_campaign", "deliver"),
    "close_report": ("run_campaign", None),
    "report_submit": ("write_report", None),
}
ROUTES = {event: GRAPH.route(done, to) for event, (done, to) in EVENT_STEPS.items()}
SIGN_ROUTES = {side: GRAPH.route(node) for side, node in SIGN_STEP.items()}
# The events of an acceptance that never goes back, in the order of _script_events.
HAPPY_EVENTS = (
    "plan_submit",
    "plan_validate",
    "qualify_passed",
    "deliver",
    "close_report",
    "report_submit",
)
_happy = [ROUTES[event].done.name for event in HAPPY_EVENTS] + list(SIGN_STEP.values())
if _happy != GRAPH.human_path():
    raise FlowMismatch(
        f"HAPPY_EVENTS complete {_happy}, RecetteFlow's happy path {GRAPH.human_path()}"
    )

# Where an acceptance stands, named by its open task.
NO_PLAN, PREPARE, REVIEW, QUALIFY, DELIVER = (
    "no_plan",
    "prepare",
    "review",
    "qualify",
    "deliver",
)
RUN, FIXES, REPORT, SIGNATURES, DONE = "run", "fixes", "report", "signatures", "done"
# How the acceptances in progress that have a plan are spread (per cent).
STAGE_SHARES = {
    PREPARE: 8,
    REVIEW: 10,
    QUALIFY: 10,
    DELIVER: 5,
    RUN: 37,
    FIXES: 12,
    REPORT: 10,
    SIGNATURES: 8,
}
WITH_CAMPAIGNS = (RUN, FIXES, REPORT, SIGNATURES, DONE)
# The last campaign closed towards the report: no blocking defect may remain.
TOWARDS_REPORT = (REPORT, SIGNATURES, DONE)
NOTABLE_STAGES = {
    "detail_30": QUALIFY,
    "campaign_500": RUN,
    "campaign_5000": RUN,
    "report_2000": REPORT,
}

# Latest result of a run case: first campaign, re-test, last campaign before report.
RESULTS = (R.PASSED, R.FAILED, R.BLOCKED, R.NOT_APPLICABLE)
FIRST_ODDS = (0.72, 0.16, 0.09, 0.03)
RETEST_ODDS = (0.80, 0.12, 0.05, 0.03)
FINAL_ODDS = (0.93, 0.05, 0.0, 0.02)
# Expected share of a campaign's cases carried into the next one (estimates only).
RETEST_SHARE = 0.35
SEVERITIES = (Defect.Severity.BLOCKING, Defect.Severity.MAJOR, Defect.Severity.MINOR)
SEVERITY_ODDS = (0.1, 0.3, 0.6)
FINAL_SEVERITY_ODDS = (0.0, 0.3, 0.7)
UNRESOLVED = set(Defect.UNRESOLVED)
GO_LIVE_COMMENT = "Accord de mise en production signé par les deux DSI."

CASE_ACTIONS = (
    "Saisir une déclaration de grossesse",
    "Importer le flux DSG du jour",
    "Recevoir un flux SGR",
    "Traiter un changement de situation GRO",
    "Exporter les déclarations du mois",
    "Consulter l'historique d'une déclaration",
    "Rejeter une déclaration incomplète",
    "Contrôler les droits d'un agent",
    "Imprimer l'accusé de réception",
    "Purger les déclarations anciennes",
    "Rechercher une assurée par NIR",
    "Corriger une adresse postale",
)
CASE_CONDITIONS = (
    "avec une date présumée de conception",
    "sans numéro allocataire",
    "pour une grossesse multiple",
    "avec une commune fusionnée",
    "en déclaration tardive",
    "par un agent sans habilitation",
    "avec des caractères accentués",
    "en fin de mois",
)
STEP_ACTIONS = (
    "Se connecter avec un compte agent PMI",
    "Ouvrir l'écran des déclarations",
    "Saisir les données du jeu d'essai",
    "Valider la saisie",
    "Lancer le traitement du flux",
    "Consulter le compte rendu de traitement",
    "Ouvrir le détail de la déclaration",
    "Exporter le résultat au format CSV",
    "Vérifier la trace dans le journal",
    "Se déconnecter",
)
STEP_EXPECTED = (
    "L'écran s'affiche sans erreur",
    "Les données saisies sont conservées",
    "Le traitement se termine sans rejet",
    "Le compte rendu indique le nombre de déclarations traitées",
    "Le résultat est conforme au cahier des charges",
    "Un message explicite indique le refus",
    "La trace indique l'agent, la date et l'action",
    "Le fichier contient une ligne par déclaration",
)
FAILURES = (
    "Le traitement s'arrête sur la deuxième déclaration.",
    "La date affichée est décalée d'un jour.",
    "Le message d'erreur est en anglais.",
    "L'export ne contient pas la colonne attendue.",
    "Données du jeu d'essai absentes de l'environnement.",
    "Écran indisponible (erreur 500).",
)
DEFECT_TITLES = (
    "Le flux est rejeté quand la commune a fusionné",
    "La date présumée de conception n'est pas contrôlée",
    "L'accusé de réception n'affiche pas le logo",
    "Le tri par date est inversé dans l'historique",
    "L'export omet les grossesses multiples",
    "Le NIR est accepté avec une clé fausse",
    "Message d'erreur technique affiché à l'agent",
    "Lenteur à l'ouverture du détail d'une déclaration",
    "Les caractères accentués sont mal encodés dans l'export",
    "Un agent sans habilitation voit les déclarations",
)
REJECTIONS = (
    "Comportement conforme au cahier des charges validé.",
    "Anomalie de l'environnement de recette, pas du logiciel.",
    "Hors du périmètre de l'évolution.",
)
REOPENINGS = (
    "Le défaut se reproduit avec le jeu d'essai n° 2.",
    "La correction ne couvre pas le cas des grossesses multiples.",
)
SEND_BACKS = (
    "Ajoutez des cas sur les déclarations tardives.",
    "Le planning ne laisse pas de marge avant la mise en production.",
    "Les résultats attendus doivent être vérifiables.",
)


@dataclass
class AcceptanceScript:
    """What happens during one acceptance, in days from the request's creation."""

    stage: str
    notable: str = ""
    cases: int = 0
    campaigns: int = 0
    plan_rounds: int = 1
    qualification_failures: int = 0
    signatures: int = 0
    draft_report: bool = False
    campaign_open: bool = False
    events: list[tuple[str, float]] = field(default_factory=list)

    @property
    def last_day(self) -> float:
        return self.events[-1][1]

    def estimated_runs(self) -> float:
        """About how many campaign cases will be run (to spread the executions)."""
        total = sum(RETEST_SHARE**k for k in range(self.campaigns)) * self.cases
        return total * (0.6 if self.campaign_open else 1.0)


def _geometric(rng, odds: float) -> int:
    count = 0
    while rng.random() < odds:
        count += 1
    return count


def notable_sizes(generation: Generation) -> dict[str, int]:
    """Sizes of the benchmarks' acceptances: full from the small tier up, scaled
    down below it (the test datasets)."""
    factor = min(1.0, generation.scale / 0.1)
    return {
        "campaign_500": max(10, round(500 * factor)),
        # The campaign whose results are exported: every case run, five times on
        # average (re-executions keep their history).
        "campaign_5000_cases": max(12, round(1000 * factor)),
        "campaign_5000_executions": max(60, round(5000 * factor)),
        "report_2000_cases": max(12, round(400 * factor)),
        "report_2000_executions": max(60, round(2000 * factor)),
        "report_2000_defects": max(9, round(300 * factor)),
    }


def acceptances_plan(generation: Generation, requests: list[RequestPlan]) -> None:
    """Give every request in acceptance or production its acceptance script."""
    rng, volumes = generation.rng, generation.volumes
    sizes = notable_sizes(generation)
    reached = [r for r in requests if r.status in (S.IN_ACCEPTANCE, S.IN_PRODUCTION)]
    # Those in acceptance beyond the plan volume wait for their plan to be opened.
    without_plan = max(0, len(reached) - volumes.plans)
    free = [r for r in reached if r.status == S.IN_ACCEPTANCE and not r.notable]
    quotas = allocate(len(free) - without_plan, STAGE_SHARES)
    stages = [NO_PLAN] * without_plan + [
        stage for stage, count in quotas.items() for _ in range(count)
    ]
    rng.shuffle(stages)
    for request, stage in zip(free, stages, strict=True):
        request.acceptance = AcceptanceScript(stage=stage)
    for request in reached:
        if request.notable:
            request.acceptance = AcceptanceScript(
                stage=NOTABLE_STAGES[request.notable], notable=request.notable
            )
        elif request.status == S.IN_PRODUCTION:
            request.acceptance = AcceptanceScript(stage=DONE)

    # The notable acceptances have their own sizes; the others share the rest.
    fixed = {
        "campaign_500": (sizes["campaign_500"], 1),
        "campaign_5000": (sizes["campaign_5000_cases"], 1),
        "report_2000": (sizes["report_2000_cases"], 5),
    }
    scripts = [
        r.acceptance
        for r in reached
        if r.acceptance.stage != NO_PLAN and r.acceptance.notable not in fixed
    ]
    for script in (r.acceptance for r in reached if r.acceptance.notable in fixed):
        script.cases, script.campaigns = fixed[script.notable]
    weights = {i: rng.lognormvariate(0, 0.8) for i in range(len(scripts))}
    rest = volumes.cases - sum(cases for cases, _k in fixed.values())
    for i, cases in allocate(rest, weights, dict.fromkeys(weights, 3)).items():
        scripts[i].cases = cases
    with_campaigns = {
        i: script.cases**0.5
        for i, script in enumerate(scripts)
        if script.stage in WITH_CAMPAIGNS
    }
    base = len(with_campaigns) + sum(k for _cases, k in fixed.values())
    extra = allocate(max(0, volumes.campaigns - base), with_campaigns)
    for i, more in extra.items():
        scripts[i].campaigns = 1 + more
    for request in reached:
        script = request.acceptance
        script.plan_rounds = 1 + _geometric(rng, 0.25)
        script.qualification_failures = _geometric(rng, 0.15)
        _script_events(rng, request)


def _script_events(rng, request: RequestPlan) -> None:
    """The days on which each step of the acceptance is taken."""
    script = request.acceptance
    stage = script.stage
    day = request.transitions[-1][1]  # manufacture done
    events = script.events
    events.append(("start", day))

    def after(low: float, high: float, action: str) -> None:
        nonlocal day
        day += rng.uniform(low, high)
        events.append((action, day))

    if stage == NO_PLAN:
        return  # its plan is the empty one created with the acceptance
    after(0.5, 3, "plan_open")
    for round_ in range(1, script.plan_rounds + 1):
        if stage == PREPARE and round_ == script.plan_rounds:
            return
        after(4, 15, "plan_submit")
        if round_ < script.plan_rounds:
            after(1, 5, "plan_send_back")
    if stage == REVIEW:
        return
    after(1, 5, "plan_validate")
    for _ in range(script.qualification_failures):
        after(3, 10, "qualify_failed")
    if stage == QUALIFY:
        return
    after(3, 10, "qualify_passed")
    if stage == DELIVER:
        return
    for number in range(1, script.campaigns + 1):
        if number == 1:
            after(1, 5, "deliver")
        else:
            after(5, 15, "deliver")
        if number == script.campaigns and stage == RUN:
            script.campaign_open = True
            return
        last = number == script.campaigns and stage in TOWARDS_REPORT
        after(5, 20, "close_report" if last else "close_fixes")
    if stage == FIXES:
        return
    if stage == REPORT:
        script.draft_report = script.notable == "report_2000" or rng.random() < 0.6
        if script.draft_report:
            after(0.5, 3, "report_draft")
        return
    after(2, 7, "report_submit")
    script.signatures = 2 if stage == DONE else rng.choice((0, 1))
    for _ in range(script.signatures):
        after(0.5, 5, "sign")


@dataclass
class _Campaign:
    id: int
    number: int
    kind: str
    delivery: int
    opened: datetime
    cases: list[int]  # case ids
    testers: dict[int, int | None] = field(default_factory=dict)
    latest: dict[int, tuple[datetime, int, str]] = field(default_factory=dict)
    closed: datetime | None = None
    outcome: str = ""


@dataclass
class _Defect:
    id: int
    severity: str
    status: str = D.OPEN
    fixed_in: int | None = None
    rejection_reason: str = ""
    cases: set = field(default_factory=set)
    row: list = field(default_factory=list)


class AcceptanceWriter:
    """Writes each scripted acceptance with what its services and flow leave."""

    def __init__(self, generation: Generation):
        self.generation = generation
        # Submitted bilans: their stand-in fingerprint until `store_bilans` puts
        # the PDF and its SHA-256 in place.
        self.bilans: dict[int, str] = {}
        writer = generation.writer
        self.processes = writer.table(RecetteProcess, ("process_ptr", "change_request"))
        self.plans = writer.table(
            AcceptancePlan,
            (
                "change_request",
                "organisation",
                "version",
                "workload",
                "start",
                "end",
                "status",
                "decision_comment",
            ),
            explicit_ids=True,
        )
        self.cases = writer.table(
            TestCase,
            (
                "plan",
                "position",
                "reference",
                "title",
                "objective",
                "priority",
                "preconditions",
                "section",
            ),
            explicit_ids=True,
        )
        self.steps = writer.table(TestStep, ("case", "number", "action", "expected"))
        self.qualifications = writer.table(
            Qualification,
            (
                "change_request",
                "passed",
                "date",
                "report",
                "report_name",
                "comment",
                "recorded_by",
                "recorded_at",
            ),
        )
        self.deliveries = writer.table(
            Delivery,
            (
                "change_request",
                "number",
                "date",
                "environment",
                "release_notes",
                "created_by",
                "created_at",
            ),
            explicit_ids=True,
        )
        self.campaigns = writer.table(
            Campaign,
            (
                "change_request",
                "organisation",
                "delivery",
                "number",
                "kind",
                "status",
                "opened_at",
                "closed_at",
                "outcome",
            ),
            explicit_ids=True,
        )
        self.campaign_cases = writer.table(CampaignCase, ("campaign", "case", "tester"))
        self.executions = writer.table(
            Execution,
            (
                "campaign",
                "case",
                "result",
                "step_results",
                "comment",
                "tester",
                "executed_at",
            ),
            explicit_ids=True,
        )
        self.defects = writer.table(
            Defect,
            (
                "change_request",
                "organisation",
                "number",
                "title",
                "description",
                "severity",
                "status",
                "fixed_in",
                "rejection_reason",
                "opened_by",
                "opened_at",
            ),
            explicit_ids=True,
        )
        self.defect_executions = writer.table(
            Defect.executions.through, ("defect", "execution")
        )
        self.fixed_defects = writer.table(
            Delivery.fixed_defects.through, ("delivery", "defect")
        )
        self.reports = writer.table(
            AcceptanceReport,
            (
                "change_request",
                "organisation",
                "version",
                "status",
                "verdict",
                "reserves",
                "figures",
                "document",
                "document_sha256",
                "submitted_by",
                "submitted_at",
            ),
            explicit_ids=True,
        )
        self.reserved = writer.table(
            AcceptanceReport.reserved_defects.through, ("acceptancereport", "defect")
        )
        self.agreements = writer.table(
            GoLiveAgreement,
            (
                "change_request",
                "organisation",
                "report_version",
                "report_sha256",
                "status",
                "refusal_reason",
                "refusal_second_factor",
                "created_at",
                "report_document",  # set by store_bilans
            ),
            explicit_ids=True,
        )
        self.signatures = writer.table(
            Signature,
            (
                "agreement",
                "side",
                "signer",
                "signed_at",
                "report_sha256",
                "second_factor",
            ),
            explicit_ids=True,
        )
        # Executions and defects are spread over the campaign cases as they are
        # run: these budgets keep the totals at the tier's volumes.
        self.executions_left = 0
        self.defects_left = 0
        self.runs_left = 0.0

    def start(self, requests: list[RequestPlan]) -> None:
        volumes = self.generation.volumes
        self.executions_left = volumes.executions
        self.defects_left = volumes.defects
        self.runs_left = sum(
            r.acceptance.estimated_runs() for r in requests if r.acceptance
        )

    def write(self, request: RequestPlan) -> None:
        _Acceptance(self, request).write()

    def store_bilans(self) -> int:
        """Store every submitted bilan's PDF, built from the written rows as
        `report_submit` builds it, and put its SHA-256 where the stand-in was:
        report, agreement, signatures and their journal entries (still to be
        sealed). Returns how many were stored."""
        from recette.pdf_data import report_pdf

        stored: dict[str, tuple[str, str]] = {}  # stand-in -> (SHA-256, file)
        reports = AcceptanceReport.objects.filter(pk__in=self.bilans).select_related(
            "change_request", "organisation", "submitted_by"
        )
        for report in reports.order_by("pk").iterator():
            content = report_pdf(report, generated_at=report.submitted_at)
            digest = hashlib.sha256(content).hexdigest()
            name = report.change_request.reference
            report.document.save(
                f"{name}-bilan-v{report.version}.pdf", ContentFile(content), save=False
            )
            AcceptanceReport.objects.filter(pk=report.pk).update(
                document=report.document.name, document_sha256=digest
            )
            stored[self.bilans[report.pk]] = (digest, report.document.name)
        for stand_in, (digest, name) in stored.items():
            GoLiveAgreement.objects.filter(report_sha256=stand_in).update(
                report_sha256=digest, report_document=name
            )
            Signature.objects.filter(report_sha256=stand_in).update(
                report_sha256=digest
            )
        for entry in self.generation.journal:
            detail = entry[-1]
            if detail.get("report_sha256") in stored:
                detail["report_sha256"] = stored[detail["report_sha256"]][0]
        return len(stored)


class _Acceptance:
    """One acceptance being written, event after event."""

    def __init__(self, tables: AcceptanceWriter, request: RequestPlan):
        self.tables = tables
        self.generation = tables.generation
        self.rng = self.generation.rng
        self.people = self.generation.people
        self.request = request
        self.script: AcceptanceScript = request.acceptance
        self.code = request.code
        self.organisation = self.generation.organisations[request.code]
        self.plan_id = 0
        self.plan_status = AcceptancePlan.Status.DRAFT
        self.plan_comment = ""
        self.plan_dates = (None, None, None)
        self.cases: list[tuple[int, int]] = []  # (case id, steps)
        self.campaigns: list[_Campaign] = []
        self.deliveries: list[tuple[int, datetime]] = []
        self.defects: list[_Defect] = []
        self.report: list | None = None
        self.agreement: list | None = None
        self.signed: list[str] = []
        estimate = self.script.estimated_runs()
        self.runs_estimate = estimate
        share = estimate / tables.runs_left if tables.runs_left else 0
        self.executions_budget = tables.executions_left * share
        self.defects_budget = tables.defects_left * share
        sizes = notable_sizes(self.generation)
        if self.script.notable == "report_2000":
            self.executions_budget = sizes["report_2000_executions"]
            self.defects_budget = sizes["report_2000_defects"]
        elif self.script.notable == "campaign_5000":
            self.executions_budget = sizes["campaign_5000_executions"]
        self.executions_written = 0
        self.defects_written = 0
        self.reserved_defects: list[int] = []

    # People

    def porteur(self) -> int:
        if self.rng.random() < 0.75:
            return self.request.request_owner
        return self.people.pick(self.rng, self.code, Role.PORTEUR_DEMANDE)

    def tester(self) -> int:
        role = Role.TESTEUR if self.rng.random() < 0.85 else Role.PORTEUR_DEMANDE
        return self.people.pick(self.rng, self.code, role)

    def fixer(self) -> int:
        return self.request.moe if self.rng.random() < 0.6 else self.request.order_owner

    def transition(self, model, pk, name, source, target, by, at, comment=""):
        self.generation.record_transition(
            model, pk, self.code, name, source, target, by, at, comment
        )

    # The script

    def write(self) -> None:
        request = self.request
        events = self.script.events
        start_day = events[0][1]
        run = FlowRun(
            self.generation,
            self.generation.flows,
            GRAPH,
            request.id,
            self.code,
            request.at(start_day),
            order_owner=request.order_owner,
        )
        self.run = run
        for index, (action, day) in enumerate(events[1:], start=1):
            at = request.at(day)
            following = events[index + 1][1] if index + 1 < len(events) else None
            getattr(self, f"_{action}")(at, following and request.at(following))
        if not self.plan_id:
            # Still empty: the plan acceptance_start creates with the process.
            self.plan_id = self.tables.plans.new_id()
        if self.script.campaign_open:
            now = self.generation.now
            self._campaign_runs(
                self.campaigns[-1], now - timedelta(hours=2), closing=False
            )
        self._emit()
        run.close(self.tables.processes)
        tables = self.tables
        tables.executions_left -= self.executions_written
        tables.defects_left -= self.defects_written
        tables.runs_left -= self.runs_estimate

    def _plan_open(self, at, _following) -> None:
        rng = self.rng
        tables = self.tables
        self.plan_id = tables.plans.new_id()
        start = (at + timedelta(days=rng.uniform(10, 25))).date()
        end = start + timedelta(days=rng.randint(10, 40))
        workload = Decimal(rng.randint(20, 400)) / 10
        self.plan_dates = (workload, start, end)
        for position in range(1, self.script.cases + 1):
            case_id = tables.cases.new_id()
            steps = rng.randint(3, 8)
            title = f"{rng.choice(CASE_ACTIONS)} {rng.choice(CASE_CONDITIONS)}"
            tables.cases.add(
                case_id,
                self.plan_id,
                position,
                f"CT-{position:03d}",
                title,
                f"Vérifier que l'on peut {title[0].lower()}{title[1:]}.",
                rng.choices(TestCase.Priority.values, (3, 5, 2))[0],
                "Jeu d'essai chargé dans l'environnement de recette."
                if rng.random() < 0.4
                else "",
                f"§{rng.randint(2, 6)}.{rng.randint(1, 9)}",
            )
            for number in range(1, steps + 1):
                tables.steps.add(
                    case_id, number, rng.choice(STEP_ACTIONS), rng.choice(STEP_EXPECTED)
                )
            self.cases.append((case_id, steps))

    def _plan_submit(self, at, _following) -> None:
        source = self.plan_status
        self.plan_status = AcceptancePlan.Status.SUBMITTED
        self.plan_comment = ""
        owner = self.request.order_owner
        self.transition(
            AcceptancePlan, self.plan_id, "submit", source, self.plan_status, owner, at
        )
        self.run.step(ROUTES["plan_submit"], owner, at)

    def _plan_send_back(self, at, _following) -> None:
        by, comment = self.porteur(), self.rng.choice(SEND_BACKS)
        self.plan_status, self.plan_comment = AcceptancePlan.Status.SENT_BACK, comment
        self.transition(
            AcceptancePlan,
            self.plan_id,
            "send_back",
            AcceptancePlan.Status.SUBMITTED,
            self.plan_status,
            by,
            at,
            comment,
        )
        self.run.step(ROUTES["plan_send_back"], by, at)

    def _plan_validate(self, at, _following) -> None:
        by = self.porteur()
        self.plan_status = AcceptancePlan.Status.VALIDATED
        self.transition(
            AcceptancePlan,
            self.plan_id,
            "validate",
            AcceptancePlan.Status.SUBMITTED,
            self.plan_status,
            by,
            at,
        )
        self.run.step(ROUTES["plan_validate"], by, at)

    def _qualify(self, at, passed: bool) -> None:
        moe = self.request.moe
        self.tables.qualifications.add(
            self.request.id,
            passed,
            timezone.localdate(at),
            "",
            "",
            "Qualification technique conforme."
            if passed
            else "Échec des tests de non-régression sur le flux DSG.",
            moe,
            at,
        )
        self.run.step(ROUTES["qualify_passed" if passed else "qualify_failed"], moe, at)

    def _qualify_failed(self, at, _following) -> None:
        self._qualify(at, False)

    def _qualify_passed(self, at, _following) -> None:
        self._qualify(at, True)

    def _deliver(self, at, _following) -> None:
        rng, tables = self.rng, self.tables
        moe = self.request.moe
        number = len(self.campaigns) + 1
        delivery = tables.deliveries.new_id()
        final = number == self.script.campaigns and self.script.stage in TOWARDS_REPORT
        # The supplier fixes most of what is open; before the last campaign, every
        # blocking and major defect.
        fixed = [
            d
            for d in self.defects
            if d.status in (D.OPEN, D.REOPENED)
            and (rng.random() < 0.8 or (final and d.severity != Defect.Severity.MINOR))
        ]
        tables.deliveries.add(
            delivery,
            self.request.id,
            number,
            timezone.localdate(at),
            rng.choice(("Recette nationale", "Recette interne CNAF")),
            f"Livraison {number}"
            + (
                " : corrige " + ", ".join(f"ANO-{d.row[3]:03d}" for d in fixed[:20])
                if fixed
                else "."
            ),
            moe,
            at,
        )
        for defect in fixed:
            self._move(
                defect,
                "mark_fixed",
                D.FIXED,
                moe,
                at,
                f"Corrigée dans la livraison {number}",
            )
            defect.fixed_in = delivery
            tables.fixed_defects.add(delivery, defect.id)
        if self.campaigns:
            previous = self.campaigns[-1]
            again = {
                case
                for case, (_at, _id, result) in previous.latest.items()
                if result in (R.FAILED, R.BLOCKED)
            }
            for defect in fixed:
                again |= defect.cases
            cases = [case for case, _steps in self.cases if case in again]
        else:
            cases = [case for case, _steps in self.cases]
        campaign = _Campaign(
            id=tables.campaigns.new_id(),
            number=number,
            kind=Campaign.Kind.RETEST if self.campaigns else Campaign.Kind.FIRST,
            delivery=delivery,
            opened=at,
            cases=cases,
        )
        for case in cases:
            tester = (
                self.people.pick(rng, self.code, Role.TESTEUR)
                if rng.random() < 0.85
                else None
            )
            campaign.testers[case] = tester
            tables.campaign_cases.add(campaign.id, case, tester)
        self.campaigns.append(campaign)
        self.deliveries.append((number, at))
        self.run.step(ROUTES["deliver"], moe, at)

    def _close(self, at, following, outcome: str) -> None:
        campaign = self.campaigns[-1]
        self._campaign_runs(campaign, at, closing=True)
        by = self.porteur()
        campaign.closed, campaign.outcome = at, outcome
        self.transition(
            Campaign,
            campaign.id,
            "close",
            Campaign.Status.OPEN,
            Campaign.Status.CLOSED,
            by,
            at,
        )
        fixes = outcome == Campaign.Outcome.FIXES
        self.run.step(ROUTES["close_fixes" if fixes else "close_report"], by, at)
        if outcome == Campaign.Outcome.FIXES:
            # Before the next delivery, the supplier rejects a few defects.
            for defect in self.defects:
                if defect.status in (D.OPEN, D.REOPENED) and self.rng.random() < 0.08:
                    until = following or self.generation.now
                    moment = at + (until - at) * self.rng.uniform(0.05, 0.6)
                    reason = self.rng.choice(REJECTIONS)
                    self._move(
                        defect, "reject", D.REJECTED, self.fixer(), moment, reason
                    )
                    defect.rejection_reason = reason

    def _close_fixes(self, at, following) -> None:
        self._close(at, following, Campaign.Outcome.FIXES)

    def _close_report(self, at, following) -> None:
        self._close(at, following, Campaign.Outcome.REPORT)

    def _report_draft(self, at, _following) -> None:
        self.report = self._report_row(at, submitted=False)

    def _report_submit(self, at, _following) -> None:
        by = self.porteur()
        self.report = self._report_row(at, submitted=True, by=by)
        self.transition(
            AcceptanceReport,
            self.report[0],
            "submit",
            AcceptanceReport.Status.DRAFT,
            AcceptanceReport.Status.SUBMITTED,
            by,
            at,
        )
        self.agreement = [
            self.tables.agreements.new_id(),
            self.request.id,
            self.organisation,
            1,
            self.report[8],
            GoLiveAgreement.Status.PENDING,
            "",
            "",
            at,
            "",
        ]
        self.run.step(ROUTES["report_submit"], by, at)

    def _sign(self, at, _following) -> None:
        rng = self.rng
        sides = [s for s in GoLiveAgreement.Side.values if s not in self.signed]
        side = rng.choice(sides)
        self.signed.append(side)
        client = side == GoLiveAgreement.Side.CLIENT
        signer = (
            self.people.pick(rng, self.code, Role.DSI_CLIENT)
            if client
            else self.people.pick(rng, SUPPLIER, Role.DSI_FOURNISSEUR)
        )
        signature = self.tables.signatures.new_id()
        digest = self.agreement[4]
        self.tables.signatures.add(
            signature, self.agreement[0], side, signer, at, digest, "totp"
        )
        self.generation.record_signature(
            signature,
            self.code,
            signer,
            at,
            side=side,
            report_sha256=digest,
            second_factor="totp",
        )
        # The Join waits for the other side; after the last one the flow ends.
        self.run.step(SIGN_ROUTES[side], signer, at)
        if len(self.signed) < len(SIGN_STEP):
            return
        self.agreement[5] = GoLiveAgreement.Status.SIGNED
        self.transition(
            GoLiveAgreement,
            self.agreement[0],
            "complete",
            GoLiveAgreement.Status.PENDING,
            GoLiveAgreement.Status.SIGNED,
            signer,
            at,
        )
        self.generation.record_transition(
            ChangeRequest,
            self.request.id,
            self.code,
            "go_live",
            S.IN_ACCEPTANCE,
            S.IN_PRODUCTION,
            signer,
            at,
            GO_LIVE_COMMENT,
        )

    # Campaigns and defects

    def _campaign_runs(self, campaign: _Campaign, until: datetime, *, closing) -> None:
        """Testers run the campaign's cases between its opening and `until` (all
        of them when it is being closed); failures raise defects; what this
        delivery fixed and what the supplier rejected is checked."""
        rng, tables = self.rng, self.tables
        last = campaign.number == self.script.campaigns
        final = last and self.script.stage in TOWARDS_REPORT
        if closing:
            ran = [case for case in campaign.cases if rng.random() < 0.99]
        else:
            share = {"campaign_500": 0.6, "campaign_5000": 1.0}.get(
                self.script.notable
            ) or rng.uniform(0.15, 0.9)
            ran = [case for case in campaign.cases if rng.random() < share]
        odds = (
            FINAL_ODDS if final else FIRST_ODDS if campaign.number == 1 else RETEST_ODDS
        )
        latest = dict(zip(ran, rng.choices(RESULTS, odds, k=len(ran)), strict=True))
        budget = self._share(
            self.executions_budget - self.executions_written, len(ran), last=last
        )
        wanted = self._share(
            self.defects_budget - self.defects_written, len(ran), last=last
        )
        # Corrections are asked for after failures, and defects come from them.
        fixes = closing and not final and not last
        if ran and (wanted or fixes) and R.FAILED not in latest.values():
            latest[ran[-1]] = R.FAILED
        counts = dict.fromkeys(ran, 1)
        weights = [3 if latest[c] in (R.FAILED, R.BLOCKED) else 1 for c in ran]
        for case in (
            rng.choices(ran, weights, k=max(0, budget - len(ran))) if ran else ()
        ):
            counts[case] += 1
        steps = dict(self.cases)
        window = (until - campaign.opened).total_seconds()
        failed: list[
            tuple[int, int, int, datetime]
        ] = []  # (execution, case, tester, at)
        for case in ran:
            tester = campaign.testers[case] or self.tester()
            moments = sorted(rng.random() for _ in range(counts[case]))
            for n, moment in enumerate(moments, start=1):
                at = campaign.opened + timedelta(
                    seconds=window * (0.02 + 0.96 * moment)
                )
                result = (
                    latest[case]
                    if n == counts[case]
                    else rng.choices((R.FAILED, R.BLOCKED, R.PASSED), (5, 3, 2))[0]
                )
                execution = tables.executions.new_id()
                tables.executions.add(
                    execution,
                    campaign.id,
                    case,
                    result,
                    _step_results(rng, result, steps[case])
                    if rng.random() < 0.3
                    else {},
                    rng.choice(FAILURES) if result in (R.FAILED, R.BLOCKED) else "",
                    tester,
                    at,
                )
                self.executions_written += 1
                if result == R.FAILED:
                    failed.append((execution, case, tester, at))
            campaign.latest[case] = (at, execution, latest[case])
        self._check_defects(campaign, until, final, closing)
        self._open_defects(failed, wanted, until, final)

    def _share(self, left: float, runs: int, *, last: bool) -> int:
        """This campaign's part of what is left for the acceptance."""
        if last:
            return max(0, round(left))
        expected = max(1.0, self.runs_estimate)
        exact = left * min(1.0, runs / expected)
        whole = int(exact)
        return max(0, whole + (self.rng.random() < exact - whole))

    def _open_defects(self, failed, wanted: int, until, final: bool) -> None:
        if not failed or not wanted:
            return
        rng, tables = self.rng, self.tables
        new = []
        odds = FINAL_SEVERITY_ODDS if final else SEVERITY_ODDS
        for _ in range(wanted):
            execution, case, tester, at = rng.choice(failed)
            opened = min(until, at + timedelta(minutes=rng.uniform(5, 180)))
            defect = _Defect(
                id=tables.defects.new_id(),
                severity=rng.choices(SEVERITIES, odds)[0],
                cases={case},
            )
            links = {execution}
            if len(failed) > 1 and rng.random() < 0.2:
                other = rng.choice(failed)
                links.add(other[0])
                defect.cases.add(other[1])
            defect.row = [
                defect.id,
                self.request.id,
                self.organisation,
                0,
                rng.choice(DEFECT_TITLES),
                "Constatée lors de l'exécution du cas ; voir le commentaire.",
                defect.severity,
                D.OPEN,
                None,
                "",
                tester,
                opened,
            ]
            for link in links:
                tables.defect_executions.add(defect.id, link)
            new.append(defect)
        new.sort(key=lambda d: d.row[11])
        for defect in new:
            defect.row[3] = len(self.defects) + 1
            self.defects.append(defect)
        self.defects_written += len(new)

    def _check_defects(self, campaign, until, final: bool, closing: bool) -> None:
        """The client verifies what this delivery fixed and answers rejections;
        before the report, every blocking defect is settled."""
        rng = self.rng
        span = until - campaign.opened
        for defect in self.defects:
            moment = campaign.opened + span * rng.uniform(0.1, 0.95)
            if not closing and rng.random() < 0.5:
                continue  # not looked at yet in an open campaign
            if defect.status == D.FIXED and defect.fixed_in == campaign.delivery:
                if final or rng.random() < 0.85:
                    self._move(defect, "verify", D.VERIFIED, self.tester(), moment)
                else:
                    self._move(
                        defect,
                        "reopen",
                        D.REOPENED,
                        self.tester(),
                        moment,
                        rng.choice(REOPENINGS),
                    )
                    defect.fixed_in = None
            elif defect.status == D.REJECTED:
                if final or rng.random() < 0.7:
                    self._move(
                        defect,
                        "accept_rejection",
                        D.REJECTION_ACCEPTED,
                        self.porteur(),
                        moment,
                    )
                elif rng.random() < 0.5:
                    self._move(
                        defect,
                        "reopen",
                        D.REOPENED,
                        self.tester(),
                        moment,
                        rng.choice(REOPENINGS),
                    )

    def _move(self, defect: _Defect, name, target, by, at, comment="") -> None:
        self.transition(Defect, defect.id, name, defect.status, target, by, at, comment)
        defect.status = target

    # Rows written at the end, once their final state is known

    def _figures(self) -> dict:
        counts = []
        final: dict[int, tuple] = {}
        for campaign in self.campaigns:
            figures = dict.fromkeys(R.values, 0)
            for case in campaign.cases:
                entry = campaign.latest.get(case)
                figures[entry[2] if entry else R.TO_RUN] += 1
                if entry and (case not in final or entry[:2] > final[case][:2]):
                    final[case] = entry
            figures["planned"] = len(campaign.cases)
            figures["run"] = figures["planned"] - figures[R.TO_RUN]
            counts.append(
                {
                    "number": campaign.number,
                    "kind": campaign.kind,
                    "delivery": campaign.number,
                    **figures,
                }
            )
        totals = dict.fromkeys(R.values, 0)
        for case, _steps in self.cases:
            totals[final[case][2] if case in final else R.TO_RUN] += 1
        totals["planned"] = len(self.cases)
        totals["run"] = totals["planned"] - totals[R.TO_RUN]
        defects: dict[tuple[str, str], int] = {}
        for defect in self.defects:
            key = (defect.severity, defect.status)
            defects[key] = defects.get(key, 0) + 1
        _workload, start, end = self.plan_dates
        closed = [c.closed for c in self.campaigns if c.closed]
        return {
            "campaigns": counts,
            "final": totals,
            "defects": sorted([s, t, n] for (s, t), n in defects.items()),
            "deliveries": [
                [n, timezone.localdate(at).isoformat()] for n, at in self.deliveries
            ],
            "planned": [start.isoformat(), end.isoformat()],
            "actual": [
                timezone.localdate(self.campaigns[0].opened).isoformat(),
                timezone.localdate(max(closed)).isoformat() if closed else None,
            ],
        }

    def _report_row(self, at, *, submitted: bool, by: int | None = None) -> list:
        majors = [
            d
            for d in self.defects
            if d.severity == Defect.Severity.MAJOR and d.status in UNRESOLVED
        ]
        verdict = (
            AcceptanceReport.Verdict.WITH_RESERVES
            if majors
            else AcceptanceReport.Verdict.FAVORABLE
        )
        if not submitted and self.rng.random() < 0.4:
            verdict = ""
        reserves = (
            "Anomalies majeures à corriger après la mise en production : "
            + ", ".join(f"ANO-{d.row[3]:03d}" for d in majors)
            + "."
            if majors and verdict
            else ""
        )
        figures = self._figures() if submitted else {}
        report_id = self.tables.reports.new_id()
        # A stand-in, unique to the report, for the SHA-256 of its PDF: the PDF
        # is built from the rows once they are written (`store_bilans`).
        digest = ""
        if submitted:
            digest = hashlib.sha256(
                json.dumps([report_id, figures], sort_keys=True).encode()
            ).hexdigest()
            self.tables.bilans[report_id] = digest
        self.reserved_defects = [d.id for d in majors] if submitted else []
        return [
            report_id,
            self.request.id,
            self.organisation,
            1,
            AcceptanceReport.Status.SUBMITTED
            if submitted
            else AcceptanceReport.Status.DRAFT,
            verdict,
            reserves,
            figures,
            digest,
            by,
            at if submitted else None,
        ]

    def _emit(self) -> None:
        tables, request = self.tables, self.request
        if self.plan_id:
            workload, start, end = self.plan_dates
            tables.plans.add(
                self.plan_id,
                request.id,
                self.organisation,
                1,
                workload,
                start,
                end,
                self.plan_status,
                self.plan_comment,
            )
        for campaign in self.campaigns:
            tables.campaigns.add(
                campaign.id,
                request.id,
                self.organisation,
                campaign.delivery,
                campaign.number,
                campaign.kind,
                Campaign.Status.CLOSED if campaign.closed else Campaign.Status.OPEN,
                campaign.opened,
                campaign.closed,
                campaign.outcome,
            )
        for defect in self.defects:
            defect.row[7] = defect.status
            defect.row[8] = defect.fixed_in
            defect.row[9] = defect.rejection_reason
            tables.defects.add(*defect.row)
        if self.report is not None:
            row = self.report
            # The PDF is stored by `store_bilans`; the hash is the agreement's.
            tables.reports.add(*row[:8], "", row[8], row[9], row[10])
            for defect in self.reserved_defects:
                tables.reserved.add(row[0], defect)
        if self.agreement is not None:
            tables.agreements.add(*self.agreement)
        notable = self.script.notable
        if notable == "campaign_500":
            campaign = self.campaigns[0]
            self.generation.notable |= {
                "campaign_500": campaign.id,
                "campaign_500_url": f"/recettes/campagnes/{campaign.id}/",
                "campaign_500_cases": len(campaign.cases),
                "campaign_500_change_request": request.id,
            }
        elif notable == "campaign_5000":
            campaign = self.campaigns[0]
            self.generation.notable |= {
                "campaign_5000": campaign.id,
                "campaign_5000_url": f"/recettes/campagnes/{campaign.id}/",
                "campaign_5000_cases": len(campaign.cases),
                "campaign_5000_executions": self.executions_written,
            }
        elif notable == "report_2000":
            self.generation.notable |= {
                "report_2000": request.id,
                "report_2000_url": f"/recettes/{request.id}/bilan.pdf",
                "report_2000_detail_url": f"/recettes/{request.id}/",
                "report_2000_executions": self.executions_written,
                "report_2000_defects": len(self.defects),
            }


def _step_results(rng, result: str, steps: int) -> dict[str, str]:
    """Per-step results consistent with the case's result."""
    if result in (R.PASSED, R.NOT_APPLICABLE):
        return {str(n): result for n in range(1, steps + 1)}
    stop = rng.randint(1, steps)
    results = {str(n): R.PASSED for n in range(1, stop)}
    results[str(stop)] = result
    return results
