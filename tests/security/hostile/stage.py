"""Client 23's requests standing at every step of both processes (the stage the
hostile-input tests post to), and one example run on it under PostgreSQL's rules."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import DataError, connection, transaction
from django.db.models import CharField, Q
from django.db.models.functions import Length
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Organisation
from contacts.services import reference_data_load
from evolutions import services as evolution_services
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest, Release, ReleaseAnnouncement
from incidents.demo import STOPS as INCIDENT_STOPS
from incidents.demo import incident_at
from recette import services as recette_services
from recette.demo import recette_demo_load
from recette.flows import RecetteFlow
from recette.models import Campaign, Defect, Execution
from tests.security.dataset import manufactured_request
from workflow.demo import complete_open_task, demo_data_load

if TYPE_CHECKING:
    from tests.security.hostile.inventory import Target

S = ChangeRequest.Status
R = RecetteFlow
RESULT = Execution.Result
CLIENT = "23"


# --- The requests of client 23 at every step ------------------------------------


@dataclass(repr=False)
class Stage:
    """Client 23's requests: one per step of EvolutionFlow (the demo's), one per
    stop of RecetteFlow, every open task assigned to a user who may act."""

    requests: dict[str, int]
    announcement_pk: int
    incidents: dict[str, int] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    strategies: dict[str, "Target"] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "Stage(client 23)"

    def user(self, username: str):
        if username not in self.users:
            self.users[username] = get_user_model().objects.get(username=username)
        return self.users[username]

    def request(self, key: str) -> ChangeRequest:
        return ChangeRequest.objects.get(pk=self.requests[key])

    def campaign(self, key: str = "run_campaign") -> Campaign:
        return self.request(key).campaigns.order_by("number").last()


EVOLUTION_STEPS = (
    S.DRAFT,
    S.SUBMITTED,
    S.INFO_REQUESTED,
    S.IN_STUDY,
    S.SPEC_REVIEW,
    S.QUOTE_PREPARATION,
    S.QUOTE_REVIEW,
    S.PLANNING,
    S.RELEASE_PROPOSED,
    S.PLANNED,
    S.IN_MANUFACTURE,
)
# Where a new request of client 23 stops in RecetteFlow; the demo's own request of
# client 23 stands at run_campaign (a campaign half run, with defects).
RECETTE_STOPS = (
    # prepare_plan too, with a case typed in; built first, so that the newest
    # task at prepare_plan (the one the task's page is sent to) is the next one's.
    "typed_case",
    "prepare_plan",
    "review_plan",
    "qualify",
    "deliver",
    "write_report",
    "signatures",
)


def _accepted_until(change_request, stop: str, users) -> None:
    """Walk RecetteFlow on the request until the open task(s) of `stop`."""
    porteur, testeur = users["cd23.porteur"], users["cd23.testeur"]
    commande, moe = users["cnaf.commande"], users["cnaf.moe"]
    pk, today = change_request.pk, timezone.localdate()
    plan = recette_services.plan_prepare(change_request_pk=pk, by=commande)
    if stop == "typed_case":
        # A plan in preparation with one case typed in, for the case pages.
        recette_services.case_add(
            pk=plan.pk,
            by=commande,
            reference="CT-001",
            title="Saisir une déclaration",
            steps=[("Saisir", "Enregistrée")],
        )
        return

    def prepare():
        recette_services.plan_update(
            pk=plan.pk,
            by=commande,
            workload=2,
            start=today + timedelta(days=3),
            end=today + timedelta(days=10),
        )
        recette_services.case_add(
            pk=plan.pk,
            by=commande,
            reference="CT-001",
            title="Saisir une déclaration",
            steps=[("Saisir", "Enregistrée"), ("Valider", "Accusé de réception")],
        )
        recette_services.plan_submit(pk=plan.pk, by=commande)

    def run_campaign():
        campaign = change_request.campaigns.order_by("number").last()
        case = plan.cases.get()
        failed = recette_services.executions_record(
            pk=campaign.pk,
            by=testeur,
            results=[{"case": case.pk, "result": RESULT.FAILED, "comment": "KO"}],
        )[0]
        recette_services.defect_open(
            change_request_pk=pk,
            by=testeur,
            title="Libellé tronqué",
            severity=Defect.Severity.MINOR,
            execution_pks=(failed.pk,),
        )
        recette_services.campaign_close(pk=campaign.pk, by=porteur)

    def write_report():
        report = recette_services.report_prepare(change_request_pk=pk, by=porteur)
        recette_services.report_update(pk=report.pk, by=porteur, verdict="favorable")
        recette_services.report_submit(pk=report.pk, by=porteur)

    moves = (
        ("prepare_plan", R.prepare_plan, commande, prepare),
        (
            "review_plan",
            R.review_plan,
            porteur,
            lambda: recette_services.plan_decide(
                pk=plan.pk, by=porteur, validated=True
            ),
        ),
        (
            "qualify",
            R.qualify,
            moe,
            lambda: recette_services.qualification_record(
                change_request_pk=pk, by=moe, passed=True, on=today
            ),
        ),
        (
            "deliver",
            R.deliver,
            moe,
            lambda: recette_services.delivery_record(
                change_request_pk=pk, by=moe, on=today, environment="Recette"
            ),
        ),
        ("run_campaign", R.run_campaign, porteur, run_campaign),
        ("write_report", R.write_report, porteur, write_report),
    )
    for reached, node, user, perform in moves:
        if reached == stop:
            return
        complete_open_task(
            node, user, perform, recetteprocess__change_request=change_request
        )
    assert stop == "signatures"


def _of_client(tasks, organisation):
    return tasks.filter(
        Q(process__evolutionprocess__change_request__organisation=organisation)
        | Q(process__recetteprocess__change_request__organisation=organisation)
        | Q(process__incidentprocess__incident__organisation=organisation)
    )


def _assign_open_tasks(organisation, users) -> None:
    """Give each waiting task of the client to the first demo user who may take it."""
    for task in _of_client(Task.objects.filter(status=STATUS.NEW), organisation):
        node = task.flow_task
        taker = next(u for u in users.values() if node.can_assign(u, task))
        node.activation_class(task).assign(taker)


def _build_stage() -> Stage:
    reference_data_load()
    demo_data_load()
    evolutions_demo_load()
    recette_demo_load()
    users = {u.username: u for u in get_user_model().objects.order_by("username")}
    organisation = Organisation.objects.get(code=CLIENT)
    ours = ChangeRequest.objects.filter(organisation=organisation).order_by("pk")
    requests = {step: ours.filter(status=step).first().pk for step in EVOLUTION_STEPS}
    requests["run_campaign"] = ours.get(
        status=S.IN_ACCEPTANCE, acceptance_plan__isnull=False
    ).pk
    release = Release.objects.order_by("production_date").first()
    for stop in RECETTE_STOPS:
        change_request = manufactured_request(organisation, users, release, stop)
        _accepted_until(change_request, stop, users)
        requests[stop] = change_request.pk
    incidents = {stop: incident_at(organisation, stop).pk for stop in INCIDENT_STOPS}
    _assign_open_tasks(organisation, users)
    announcement = evolution_services.announcement_create(
        by=users["cnaf.contact"],
        release=release,
        kind=ReleaseAnnouncement.Kind.EVOLUTION,
        title="Nouveaux contrôles",
        changes="Contrôle du NIR.",
        schedule="Au printemps.",
    )
    return Stage(
        requests=requests, announcement_pk=announcement.pk, incidents=incidents
    )


def _client() -> Organisation:
    return Organisation.objects.get(code=CLIENT)


def _today(days: int = 0) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _first_case(stage: Stage) -> int:
    return stage.campaign().campaign_cases.order_by("case__position").first().case_id


# --- PostgreSQL's refusals, on SQLite ------------------------------------------


def _refuse_nul(execute, sql, params, many, context):
    """What psycopg does with a NUL character in a text parameter."""
    if many:
        params = list(params)  # an iterator would be spent by the check
    for row in params if many else [params]:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return execute(sql, params, many, context)


@cache
def _bounded_columns() -> tuple[tuple[type, tuple[tuple[str, int], ...]], ...]:
    """Tandem's models with their length-limited text columns."""
    found = []
    for label in ("contacts", "evolutions", "recette", "workflow"):
        for model in apps.get_app_config(label).get_models():
            columns = tuple(
                (f.name, f.max_length)
                for f in model._meta.concrete_fields
                if isinstance(f, CharField) and f.max_length
            )
            if columns:
                found.append((model, columns))
    return tuple(found)


def _overlong_values() -> list[str]:
    """Texts longer than their column: PostgreSQL refuses them, SQLite stores them."""
    found = []
    for model, columns in _bounded_columns():
        lengths = {f"length_{name}": Length(name) for name, _limit in columns}
        too_long = Q()
        for name, limit in columns:
            too_long |= Q(**{f"length_{name}__gt": limit})
        for row in model._default_manager.annotate(**lengths).filter(too_long)[:3]:
            found.append(f"{model.__name__} {row.pk}")
    return found


@contextmanager
def _example() -> Iterator[None]:
    """One example: rolled back whatever happens, under PostgreSQL's rules."""
    with transaction.atomic(), connection.execute_wrapper(_refuse_nul):
        yield
        overlong = _overlong_values()
        assert not overlong, f"texte plus long que sa colonne : {overlong}"
        transaction.set_rollback(True)
