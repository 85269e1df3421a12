"""One change request of client 23 and its acceptance, driven through HTTP by random
users with legal and illegal actions mixed: whatever the order, nothing breaks.

A hypothesis state machine (`ProcessMachine`) starts each example from a request of
client 23 written by cd23.porteur and walked through the services to a sampled
step (`STAGES`: from the draft to the signatures, so that the late steps are within
reach), then takes up to `STEPS` actions, each by one of the demo accounts of
clients 23 and 57 and of the CNAF:
- the open task done by its actor with a valid form, the decision drawn (often),
  or its form posted by anyone, valid or empty (sometimes);
- the page actions outside the flow: submit, withdraw, decline, reopen the plan,
  results sent by the grid (JSON), a defect opened and moved, a message or a file;
- readings: the request's page, the acceptance's page, the report's PDF;
- a task's form posted twice in a row (a double click), and a form posted earlier
  posted again later (a tab left open meanwhile).

After every action it checks that:
1. no answer is a server error (no exception escapes a view);
2. the request's status, its processes' open tasks and its documents agree
   (`tests.consistency.assert_consistent`); an open re-test campaign runs every
   case still failed or blocked; the report's PDF served is its current version's;
3. every refusal is a French 4xx: its page is `lang="fr"` with none of Django's
   English stock messages, and the grid's JSON refusal carries its reason;
4. nothing saved is lost: the transition and audit journals, and the request's
   specifications, quotes, messages, files, qualifications, deliveries, campaigns,
   results, defects, agreements and signatures never shrink.

The requests are stood once per test, one per starting step, and each example runs
in a savepoint rolled back at its end: each starts from its freshly stood request,
with nothing left by the examples before (sessions, second-factor counters…).
Examples are derandomized (the same ones on every run): 200 on SQLite, 50 on
PostgreSQL, or `TANDEM_MACHINE_EXAMPLES`.
"""

import hashlib
import json
import logging
import os
import zlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions import services as evolutions_services
from evolutions.demo import _walk, demo_releases
from evolutions.flows import EvolutionFlow
from evolutions.models import (
    Attachment,
    ChangeRequest,
    Comment,
    Quote,
    SpecificationVersion,
)
from recette import services as recette_services
from recette.flows import RecetteFlow
from recette.importing import parse_cases
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    Defect,
    Delivery,
    Execution,
    GoLiveAgreement,
    Qualification,
    Signature,
)
from tests.conftest import totp_code
from tests.consistency import assert_consistent
from workflow.demo import DEMO_PASSWORD, complete_open_task, demo_totp_code
from workflow.models import AuditEntry, TransitionLog

E, R = EvolutionFlow, RecetteFlow
RESULT = Execution.Result
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)

STEPS = 25
USERS = (
    "cd23.porteur",
    "cd23.testeur",
    "cd23.dsi",
    "cd57.porteur",
    "cd57.testeur",
    "cd57.dsi",
    "cnaf.contact",
    "cnaf.commande",
    "cnaf.moe",
    "cnaf.dsi",
    "cnaf.admin",
)
# Who does each human task (cnaf.commande is the order owner).
ACTORS = {
    "review_submission": "cnaf.contact",
    "complete_information": "cd23.porteur",
    "write_specification": "cnaf.commande",
    "review_specification": "cd23.porteur",
    "write_quote": "cnaf.commande",
    "review_quote": "cd23.porteur",
    "propose_release": "cnaf.commande",
    "confirm_release": "cd23.porteur",
    "start_manufacture": "cnaf.moe",
    "finish_manufacture": "cnaf.moe",
    "prepare_plan": "cnaf.commande",
    "review_plan": "cd23.porteur",
    "qualify": "cnaf.moe",
    "deliver": "cnaf.moe",
    "run_campaign": "cd23.porteur",
    "write_report": "cd23.porteur",
    "sign_client": "cd23.dsi",
    "sign_supplier": "cnaf.dsi",
}
# Where an example starts: a status of EvolutionFlow's part (evolutions.demo.STEPS),
# or, in recette, the task(s) left open (see _stand_acceptance).
EVOLUTION_STAGES = (
    "draft",
    "submitted",
    "info_requested",
    "in_study",
    "quote_review",
    "planned",
    "in_manufacture",
)
RECETTE_STAGES = (
    "prepare_plan",
    "review_plan",
    "qualify",
    "deliver",
    "run_campaign",
    "retest",
    "signatures",
)
STAGES = EVOLUTION_STAGES + RECETTE_STAGES
# Django's own wording when a project template is missing: never shown by Tandem.
ENGLISH_STOCK = (
    "Forbidden",
    "Not Found",
    "Bad Request",
    "Permission denied",
    "CSRF verification failed",
)
CASES_CSV = "\n".join(
    [
        "référence;titre;priorité;action;résultat attendu",
        "CT-1;Saisie;haute;Saisir une déclaration;Déclaration enregistrée",
        "CT-2;Export;moyenne;Exporter;Fichier produit",
        "CT-3;Purge;basse;Purger;Rien ne reste",
    ]
).encode("cp1252")
TABS_KEPT = 40


@dataclass(frozen=True)
class Upload:
    """A file of a form, kept as bytes so that a stale tab can send it again."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Tab:
    """A form once posted: posted again later, it is a tab left open meanwhile."""

    username: str
    url: str
    data: dict
    as_json: bool = False


def _with_files(data: dict) -> dict:
    return {
        key: SimpleUploadedFile(value.name, value.content)
        if isinstance(value, Upload)
        else value
        for key, value in data.items()
    }


# --- Standing a request at a step, through the services --------------------------


def _stand(stage: str, people: dict, release) -> int:
    """A new request of client 23 written by cd23.porteur, walked to `stage`."""
    porteur, contact = people["cd23.porteur"], people["cnaf.contact"]
    change_request = evolutions_services.change_request_create(
        by=porteur,
        organisation=porteur.memberships.get().organisation,
        title=f"Machine à états, départ {stage}",
        kind=ChangeRequest.Kind.TECHNICAL,
        data_flows=["DSG"],
        description="Demande menée au hasard par la machine à états.",
    )
    pk = change_request.pk
    if stage == "draft":
        return pk
    evolutions_services.change_request_submit(pk=pk, by=porteur)
    walkers = {
        "porteur": porteur,
        "contact": contact,
        "commande": people["cnaf.commande"],
        "moe": people["cnaf.moe"],
    }
    if stage == "info_requested":
        complete_open_task(
            E.review_submission,
            contact,
            lambda: evolutions_services.change_request_request_information(
                pk=pk, by=contact, question="Quel volume ?"
            ),
            evolutionprocess__change_request=change_request,
        )
    elif stage in EVOLUTION_STAGES:
        _walk(change_request, stage, walkers, release)
    else:
        _walk(change_request, "in_acceptance", walkers, release)
        _stand_acceptance(ChangeRequest.objects.get(pk=pk), stage, people)
    return pk


def _stand_acceptance(change_request, stage: str, people: dict) -> None:
    """Walk RecetteFlow until `stage`: the plan in preparation (prepare_plan),
    submitted (review_plan), validated (qualify), the build qualified (deliver);
    then the first campaign open with a pass, a failure behind a major defect and
    a blocked case (run_campaign); closed for fixes and redelivered (retest); or
    closed for the report, submitted with reserves (signatures)."""
    commande, moe = people["cnaf.commande"], people["cnaf.moe"]
    porteur, testeur = people["cd23.porteur"], people["cd23.testeur"]
    pk, today = change_request.pk, timezone.localdate()
    plan = recette_services.plan_prepare(change_request_pk=pk, by=commande)
    if stage == "prepare_plan":
        return

    def step(node, user, perform):
        complete_open_task(
            node, user, perform, recetteprocess__change_request=change_request
        )

    def prepare():
        recette_services.plan_update(
            pk=plan.pk, by=commande, workload=Decimal(2), start=today, end=today
        )
        recette_services.cases_import(
            pk=plan.pk, by=commande, preview=parse_cases(CASES_CSV, filename="c.csv")
        )
        recette_services.plan_submit(pk=plan.pk, by=commande)

    def campaign():
        return change_request.campaigns.order_by("number").last()

    def deliver():
        recette_services.delivery_record(
            change_request_pk=pk, by=moe, on=today, environment="Recette"
        )

    steps = (
        ("review_plan", R.prepare_plan, commande, prepare),
        (
            "qualify",
            R.review_plan,
            porteur,
            lambda: recette_services.plan_decide(
                pk=plan.pk, by=porteur, validated=True
            ),
        ),
        (
            "deliver",
            R.qualify,
            moe,
            lambda: recette_services.qualification_record(
                change_request_pk=pk, by=moe, passed=True, on=today
            ),
        ),
        ("run_campaign", R.deliver, moe, deliver),
    )
    for reached, node, user, perform in steps:
        step(node, user, perform)
        if reached == stage:
            return
    cases = {case.reference: case for case in plan.cases.all()}
    executions = recette_services.executions_record(
        pk=campaign().pk,
        by=testeur,
        results=[
            {"case": cases["CT-1"].pk, "result": RESULT.PASSED},
            {"case": cases["CT-2"].pk, "result": RESULT.FAILED},
            {"case": cases["CT-3"].pk, "result": RESULT.BLOCKED},
        ],
    )
    recette_services.defect_open(
        change_request_pk=pk,
        by=testeur,
        title="Export vide",
        severity=Defect.Severity.MAJOR,
        execution_pks=(executions[1].pk,),
    )
    if stage == "run_campaign":
        return
    if stage == "retest":
        step(
            R.run_campaign,
            porteur,
            lambda: recette_services.campaign_close(
                pk=campaign().pk, by=porteur, outcome=Campaign.Outcome.FIXES
            ),
        )
        step(R.deliver, moe, deliver)
        return

    def write_report():
        report = recette_services.report_prepare(change_request_pk=pk, by=porteur)
        recette_services.report_update(
            pk=report.pk,
            by=porteur,
            verdict=AcceptanceReport.Verdict.WITH_RESERVES,
            reserves="Export à reprendre.",
            reserved_defect_pks=tuple(
                change_request.defects.values_list("pk", flat=True)
            ),
        )
        recette_services.report_submit(pk=report.pk, by=porteur)

    step(
        R.run_campaign,
        porteur,
        lambda: recette_services.campaign_close(pk=campaign().pk, by=porteur),
    )
    step(R.write_report, porteur, write_report)
    assert stage == "signatures", stage


def _fresh_code(user) -> str:
    """A code the user's device accepts now, as a DSI types it in a new form.

    The machine's steps take no time, where a DSI would wait: when this period's
    codes are spent (a third decision within 30 seconds), or the device backs off
    after a stale tab's spent code, the device is set back as if they had waited.
    """
    devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    if not devices.exists():
        return "123456"  # not a DSI: refused before the code is read
    devices.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    try:
        return totp_code(user)
    except AssertionError:  # every code of the period is spent
        devices.update(last_t=F("last_t") - 2)
        return demo_totp_code(user)


# --- The machine ------------------------------------------------------------------


def _someone(*meant_for: str):
    """An acting user: half the time one of those the action is meant for, else
    anyone (the others are refused)."""
    return st.sampled_from(meant_for) | st.sampled_from(USERS)


# What "nothing is lost" counts for the request (model, lookup to the request).
KEPT = {
    "specifications": (SpecificationVersion, "change_request"),
    "quotes": (Quote, "change_request"),
    "comments": (Comment, "change_request"),
    "attachments": (Attachment, "change_request"),
    "plans": (AcceptancePlan, "change_request"),
    "qualifications": (Qualification, "change_request"),
    "deliveries": (Delivery, "change_request"),
    "campaigns": (Campaign, "change_request"),
    "executions": (Execution, "campaign__change_request"),
    "defects": (Defect, "change_request"),
    "agreements": (GoLiveAgreement, "change_request"),
    "signatures": (Signature, "agreement__change_request"),
}


def _counts(pk: int) -> dict[str, int]:
    """The request's records and the journals, counted (three queries)."""

    def count(model, lookup):
        rows = model.objects.filter(**{lookup: OuterRef("pk")}).order_by()
        return Coalesce(
            Subquery(rows.values(lookup).annotate(n=Count("*")).values("n")), 0
        )

    # Named apart from the request's own relations ("specifications"…).
    row = (
        ChangeRequest.objects.filter(pk=pk)
        .annotate(**{f"kept_{name}": count(*kept) for name, kept in KEPT.items()})
        .values(*(f"kept_{name}" for name in KEPT))
        .get()
    )
    counts = {name: row[f"kept_{name}"] for name in KEPT}
    counts["transitions"] = TransitionLog.objects.count()
    counts["audit"] = AuditEntry.objects.count()
    return counts


class ProcessMachine(RuleBasedStateMachine):
    """Given by the test (see the test below): one logged-in HTTP client per user,
    the users by name, the release to plan in, the stood request."""

    clients: dict = {}
    people: dict = {}
    release = None
    stood_pk = None

    def __init__(self):
        super().__init__()
        self.savepoint = None

    @initialize()
    def start(self):
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.pk = self.stood_pk
        self.tabs: list[Tab] = []
        self.counts = _counts(self.pk)

    def teardown(self):
        if self.savepoint is not None:
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)
            self.savepoint = None

    # --- sending, and what every answer must be

    def _send(self, username, method, url, data=None, *, as_json=False, tab=True):
        http = self.clients[username]
        what = f"{method} {url} par {username}"
        try:
            if method == "GET":
                response = http.get(url)
            elif as_json:
                response = http.post(
                    url, json.dumps(data), content_type="application/json"
                )
            else:
                response = http.post(url, _with_files(data or {}))
        except Exception as error:
            raise AssertionError(f"{what} : erreur serveur") from error
        assert response.status_code < 500, f"{what} : {response.status_code}"
        if 400 <= response.status_code < 500:
            _check_refusal(response, what)
        if method == "POST" and tab:
            self.tabs = [
                *self.tabs[-TABS_KEPT + 1 :],
                Tab(username, url, data or {}, as_json),
            ]
        return response

    # --- what the rules read of the request

    @property
    def change_request(self) -> ChangeRequest:
        return ChangeRequest.objects.get(pk=self.pk)

    def _open_task(self, which: int) -> Task | None:
        """One of the request's open human tasks (two during the signatures)."""
        tasks = list(
            Task.objects.filter(
                Q(process__evolutionprocess__change_request_id=self.pk)
                | Q(process__recetteprocess__change_request_id=self.pk),
                status__in=OPEN,
                flow_task_type="HUMAN",
            )
            .select_related("owner")
            .order_by("pk")
        )
        return tasks[which % len(tasks)] if tasks else None

    def _pks(self, model, index: int) -> int:
        """The pk of one of the request's campaigns or defects, by number."""
        pks = model.objects.filter(change_request_id=self.pk).order_by("number")
        pks = list(pks.values_list("pk", flat=True))
        return pks[index % len(pks)]

    # --- the open tasks

    def _task_form(self, node: str, branch: int) -> dict:
        """A valid form for the task `node`; `branch` draws the decision, 0 being
        the way forward."""
        change_request = self.change_request
        today = timezone.localdate()
        back = branch % 2 == 1  # a refusal, a loop back, or the optional extra
        if node == "review_submission":
            if branch % 3 == 1:
                return {"decision": "request_information", "question": "Volume ?"}
            owner = self.people["cnaf.commande"].pk
            return {"decision": "acknowledge", "order_owner": owner}
        if node == "complete_information":
            return {
                "title": change_request.title,
                "kind": change_request.kind,
                "data_flows": ["DSG", "GRO"],
                "description": "300 déclarations par mois.",
                "comment": "Voici le volume.",
            }
        if node in ("write_specification", "write_quote"):
            data = (
                {"summary": f"Cahier des charges, variante {branch}."}
                if node == "write_specification"
                else {
                    "man_days": "3",
                    "amount": f"{2000 + branch}.00",
                    "valid_until": (today + timedelta(days=30)).isoformat(),
                }
            )
            if back:
                data["document"] = Upload("document.txt", b"Document joint.")
            return data
        if node in (
            "review_specification",
            "review_quote",
            "confirm_release",
            "review_plan",
        ):
            if back:
                return {"decision": "no", "comment": "À reprendre."}
            return {"decision": "yes", "comment": ""}
        if node == "propose_release":
            return {"release": self.release.pk, "comment": ""}
        if node in ("start_manufacture", "finish_manufacture"):
            return {"comment": "Fait."}
        if node == "prepare_plan":
            data = {
                "workload": "2",
                "start": today.isoformat(),
                "end": today.isoformat(),
            }
            plan = getattr(change_request, "acceptance_plan", None)
            if back or plan is None or not plan.cases.exists():
                data["cases_file"] = Upload("cas.csv", CASES_CSV)
            return data
        if node == "qualify":
            passed = "no" if branch % 3 == 1 else "yes"
            return {"passed": passed, "on": today.isoformat(), "comment": ""}
        if node == "deliver":
            data = {"on": today.isoformat(), "environment": "Recette"}
            if back:
                open_defects = change_request.defects.filter(
                    status__in=[Defect.Status.OPEN, Defect.Status.REOPENED]
                )
                data["fixed_defects"] = list(open_defects.values_list("pk", flat=True))
            return data
        if node == "run_campaign":
            outcome = Campaign.Outcome.FIXES if back else Campaign.Outcome.REPORT
            return {"outcome": outcome, "comment": ""}
        if node == "write_report":
            verdict = AcceptanceReport.Verdict.values[branch % 3]
            unresolved = change_request.defects.filter(status__in=Defect.UNRESOLVED)
            return {
                "verdict": verdict,
                "reserves": "Réserves." if verdict == "reserves" else "",
                "reserved_defects": list(unresolved.values_list("pk", flat=True)),
            }
        if node in ("sign_client", "sign_supplier"):
            refuse = branch % 3 == 2
            return {
                "decision": "refuse" if refuse else "sign",
                "reason": "Pas prêt." if refuse else "",
                "password": DEMO_PASSWORD,
                "otp_token": None,  # typed when the form is sent (see _do_task)
            }
        raise AssertionError(f"tâche inconnue : {node}")

    def _do_task(self, username, task, data):
        """Take the task if nobody holds it, then post its form."""
        args = [task.process_id, task.pk]
        if task.owner_id is None:
            self._send(username, "POST", task.flow_task.reverse("assign", args=args))
        if data.get("otp_token", "") is None:
            data["otp_token"] = _fresh_code(self.people[username])
        url = task.flow_task.reverse("execute", args=args)
        return self._send(username, "POST", url, data)

    def _advance(self, which: int, branch: int) -> None:
        task = self._open_task(which)
        if task is not None:
            node = task.flow_task.name
            username = task.owner.username if task.owner_id else ACTORS[node]
            self._do_task(username, task, self._task_form(node, branch))

    @rule(which=st.integers(0, 1), branch=st.integers(0, 5))
    def advance(self, which, branch):
        """An open task done by its actor with a valid form, decision drawn."""
        self._advance(which, branch)

    @rule(count=st.integers(1, 4))
    def advance_forward(self, count):
        """A stretch of the way forward: the late steps within the step budget."""
        for _step in range(count):
            self._advance(0, 0)

    @rule(
        who=st.sampled_from(USERS),
        which=st.integers(0, 1),
        branch=st.integers(0, 5),
        empty=st.booleans(),
    )
    def random_task_post(self, who, which, branch, empty):
        """An open task's form posted by anyone, valid or empty."""
        task = self._open_task(which)
        if task is not None:
            data = {} if empty else self._task_form(task.flow_task.name, branch)
            self._do_task(who, task, data)

    @rule(which=st.integers(0, 1), branch=st.integers(0, 5))
    def double_submit(self, which, branch):
        """The same form, code included, sent twice in a row by the task's actor:
        once done, the task refuses the second one."""
        task = self._open_task(which)
        if task is None:
            return
        node = task.flow_task.name
        username = task.owner.username if task.owner_id else ACTORS[node]
        data = self._task_form(node, branch)
        first = self._do_task(username, task, data)
        task.refresh_from_db()
        second = self._do_task(username, task, data)
        if first.status_code == 302:
            assert 400 <= second.status_code < 500, (
                f"{node} envoyé deux fois : {second.status_code} au second envoi"
            )

    @precondition(lambda self: self.tabs)
    @rule(index=st.integers(0, TABS_KEPT - 1))
    def replay_stale_tab(self, index):
        """A form posted earlier, posted again now as it was (an old code too)."""
        tab = self.tabs[index % len(self.tabs)]
        self._send(tab.username, "POST", tab.url, tab.data, as_json=tab.as_json)

    # --- page actions outside the flow (preconditions read the last counts)

    @rule(who=_someone("cd23.porteur"))
    def submit(self, who):
        self._send(who, "POST", reverse("evolutions:submit", args=[self.pk]))

    @rule(
        action=st.sampled_from(["withdraw", "decline"]),
        who=_someone("cd23.porteur", "cnaf.contact", "cnaf.commande"),
        reason=st.sampled_from(["", "Plus nécessaire."]),
    )
    def close_request(self, action, who, reason):
        url = reverse(f"evolutions:{action}", args=[self.pk])
        self._send(who, "POST", url, {"reason": reason})

    @precondition(lambda self: self.counts["plans"])
    @rule(
        who=_someone("cnaf.commande", "cnaf.moe"),
        reason=st.sampled_from(["", "Un cas de plus."]),
    )
    def reopen_plan(self, who, reason):
        url = reverse("recettes:plan_reopen", args=[self.pk])
        self._send(who, "POST", url, {"reason": reason})

    @precondition(lambda self: self.counts["campaigns"])
    @rule(
        who=_someone("cd23.testeur", "cd23.porteur"),
        results=st.lists(st.sampled_from(RESULT.values), min_size=1, max_size=3),
        campaign=st.sampled_from(["latest", "latest", "latest", "first"]),
    )
    def record_results(self, who, results, campaign):
        """Results sent by the grid's script, to the latest campaign or now and
        then to the first (a grid left open on a closed campaign)."""
        index = 0 if campaign == "first" else -1
        campaign = Campaign.objects.get(pk=self._pks(Campaign, index))
        rows = campaign.campaign_cases.order_by("case__position")
        entries = [
            {"case": row.case_id, "result": result}
            for row, result in zip(rows, results, strict=False)
        ]
        url = reverse("recettes:record", args=[campaign.pk])
        self._send(who, "POST", url, {"results": entries}, as_json=True)

    @precondition(lambda self: self.counts["plans"])
    @rule(
        who=_someone("cd23.testeur", "cd23.porteur"),
        severity=st.sampled_from(Defect.Severity.values),
        linked=st.booleans(),
    )
    def open_defect(self, who, severity, linked):
        """A defect raised, linked to the latest failed or blocked result if any."""
        failed = (
            Execution.objects.filter(
                campaign__change_request_id=self.pk,
                result__in=[RESULT.FAILED, RESULT.BLOCKED],
            )
            .order_by("-pk")
            .first()
        )
        data = {"title": "Anomalie au hasard", "severity": severity}
        if linked and failed is not None:
            data["executions"] = [failed.pk]
        url = reverse("recettes:defect_new", args=[self.pk])
        self._send(who, "POST", url, data)

    @precondition(lambda self: self.counts["defects"])
    @rule(
        action=st.sampled_from(["rejeter", "accepter-le-rejet", "verifier", "rouvrir"]),
        who=_someone("cnaf.moe", "cd23.porteur", "cd23.testeur"),
        index=st.integers(0, 3),
        reason=st.sampled_from(["", "Pas une anomalie."]),
    )
    def defect_action(self, action, who, index, reason):
        url = reverse("recettes:defect_action", args=[self._pks(Defect, index), action])
        self._send(who, "POST", url, {"reason": reason})

    @rule(who=_someone("cd23.porteur", "cnaf.commande"), attach=st.booleans())
    def post_message(self, who, attach):
        if attach:
            url = reverse("evolutions:attach", args=[self.pk])
            data = {"file": Upload("note.txt", b"Une note.")}
        else:
            url = reverse("evolutions:comment", args=[self.pk])
            data = {"body": "Où en est-on ?"}
        self._send(who, "POST", url, data)

    @rule(
        page=st.sampled_from(["report_pdf", "recettes:detail", "evolutions:detail"]),
        who=_someone("cd23.porteur", "cd23.dsi", "cnaf.dsi"),
    )
    def read(self, page, who):
        name = "recettes:report_pdf" if page == "report_pdf" else page
        response = self._send(who, "GET", reverse(name, args=[self.pk]))
        content = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        # Closes the served file; the signal it sends must not close the test's
        # database connection (the test client keeps it away the same way).
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
        if page == "report_pdf" and response.status_code == 200:
            self._check_report_pdf(content)

    def _check_report_pdf(self, content: bytes) -> None:
        """The PDF served is the report's current version: the frozen file once
        submitted, never an earlier version's while the next one is written."""
        report = AcceptanceReport.objects.get(change_request_id=self.pk)
        digest = hashlib.sha256(content).hexdigest()
        if report.status == AcceptanceReport.Status.SUBMITTED:
            assert digest == report.document_sha256, (
                f"bilan v{report.version} déposé : le PDF servi n'est pas le sien"
            )
        else:
            earlier = GoLiveAgreement.objects.filter(change_request_id=self.pk)
            assert digest not in set(earlier.values_list("report_sha256", flat=True)), (
                f"bilan v{report.version} en rédaction : le PDF servi est celui "
                "d'une version précédente"
            )

    # --- after every step

    @invariant()
    def nothing_inconsistent_nor_lost(self):
        if self.savepoint is None:
            return
        assert_consistent(self.change_request)
        self._check_retest()
        counts = _counts(self.pk)
        lost = {
            name: (self.counts[name], count)
            for name, count in counts.items()
            if count < self.counts[name]
        }
        assert not lost, f"enregistrements perdus (avant, après) : {lost}"
        self.counts = counts

    def _check_retest(self) -> None:
        """An open re-test campaign runs every case whose latest result over the
        earlier campaigns is a failure or a block."""
        campaign = (
            Campaign.objects.filter(
                change_request_id=self.pk, status=Campaign.Status.OPEN
            )
            .order_by("-number")
            .first()
        )
        if campaign is None or campaign.number == 1:
            return
        latest = {}
        for case_id, result in (
            Execution.objects.filter(
                campaign__change_request_id=self.pk,
                campaign__number__lt=campaign.number,
            )
            .order_by("executed_at", "pk")
            .values_list("case_id", "result")
        ):
            latest[case_id] = result
        failing = {c for c, r in latest.items() if r in (RESULT.FAILED, RESULT.BLOCKED)}
        planned = set(campaign.campaign_cases.values_list("case_id", flat=True))
        assert failing <= planned, (
            f"campagne {campaign.number} : cas en échec ou bloqués non rejoués "
            f"{sorted(failing - planned)}"
        )


def _check_refusal(response, what: str) -> None:
    """A 4xx says why, in French: a Tandem page, or the grid's JSON reason."""
    if response.get("Content-Type", "").startswith("application/json"):
        error = json.loads(response.content).get("error")
        assert isinstance(error, str) and error.strip(), f"{what} : {error!r}"
        return
    body = response.content.decode()
    assert 'lang="fr"' in body, f"{what} : {response.status_code} sans lang=fr"
    english = [text for text in ENGLISH_STOCK if text in body]
    assert not english, f"{what} : {response.status_code} en anglais {english}"


def _examples_per_stage() -> int:
    """The examples of the whole module, shared out between the starting steps."""
    default = 50 if connection.vendor == "postgresql" else 200
    total = int(os.environ.get("TANDEM_MACHINE_EXAMPLES") or default)
    return -(-total // len(STAGES))


# Each starting step gets its share of the examples (hypothesis, sampling the step,
# would leave some out), and its own seed: the examples of one step are not those
# of another.
@pytest.mark.parametrize("stage", STAGES)
def test_random_actions_keep_the_request_consistent(
    world, client, settings, tmp_path, stage
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    people = {
        user.username: user
        for user in get_user_model().objects.filter(username__in=USERS)
    }
    # One browser per user, logged in once: the sessions outlive the examples'
    # savepoints.
    clients = {username: Client() for username in USERS[1:]}
    clients[USERS[0]] = client
    for username, http in clients.items():
        http.force_login(people[username])
    release = demo_releases(timezone.localdate())[0]
    # Named after its starting step: hypothesis prints it first in a failing case.
    machine = type(
        f"ProcessMachine_{stage}",
        (ProcessMachine,),
        {
            "clients": clients,
            "people": people,
            "release": release,
            "stood_pk": _stand(stage, people, release),
        },
    )
    # Refusals are most of the machine's answers: logging each (a traceback per
    # 403) would cost more than the requests. Server errors still log.
    quiet = [logging.getLogger(name) for name in ("django.request", "axes")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    try:
        run_state_machine_as_test(
            seed(zlib.crc32(stage.encode()))(machine),
            settings=hypothesis_settings(
                max_examples=_examples_per_stage(),
                stateful_step_count=STEPS,
                derandomize=True,  # overridden by the seed: both fixed
                deadline=None,
                database=None,
                suppress_health_check=[
                    HealthCheck.too_slow,
                    HealthCheck.function_scoped_fixture,
                ],
            ),
        )
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
