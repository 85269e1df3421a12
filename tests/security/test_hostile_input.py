"""Bad input everywhere: hostile values posted to any form never make a server
error, and markup typed into a text field comes back as text, in pages, e-mails
and PDFs.

Inventory (`ENDPOINTS`, 47 endpoints). The pages of both processes, the execute
page of every human task of EvolutionFlow and RecetteFlow (18, found from the
flows' nodes and posted by the user the task is assigned to), the JSON endpoint of
the campaign grid, the CSV/XLSX import, and the shell's forms (login, password
change and reset, language, second factor, viewflow's bulk task actions). What is
posted comes from the forms themselves: each field of the form class a view uses
gets values built from its type (text, choices, model choices with ids of other
organisations' objects, dates, numbers, files), so a new field is fuzzed without
touching this file. Only the views reading `request.POST` by hand (campaign case
page, language switch, import confirmation) declare their fields here.
`test_every_form_endpoint_is_in_the_inventory` fails on a page or task that is
neither fuzzed nor declared without input.

Each example (8 per endpoint) is calm (every field of its type, hostile text in
it, so that it gets saved) or wild (garbage, lists for scalars, missing fields,
forged extra fields); after a success, the page it leads to is read too. It runs
in a savepoint rolled back afterwards, on client 23's requests standing at every
step of both processes, built once in a transaction rolled back at the module's
end. SQLite stores what PostgreSQL refuses, so each example also refuses a NUL
character in an SQL parameter and a text longer than its column. `HAZARDS` replay
by name the inputs that once made a 500.

Escaping (`SHOWCASES`). One payload with script, bold and image markup is saved
through the page or task of each text field, then read back: escaped in the pages
that show it, never raw elsewhere, escaped in the HTML part of the e-mails and as
typed in their text part, printed literally in the PDFs that include it (needs
expression, quote, cahier de recette, bilan), none of which embeds an image.

Not covered: the Django admin's forms (reference data, administrators only); the
password reset confirmation (needs the e-mailed token); viewflow's single-task
assign and unassign (no field) and cancel, undo, revive (refused to everyone: see
the authorization matrix). Stored but shown on no page, so only checked for raw
markup (and, for the delivery, in its e-mails): qualification comment, delivery
environment and notes, campaign closing comment, plan reopening reason.
"""

import html
import inspect
import io
import json
import re
import string
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import pytest
from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
)
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, connection, transaction
from django.db.models import CharField, Q
from django.db.models.functions import Length
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from viewflow.views.base import BulkActionForm
from viewflow.workflow import flow
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Organisation
from contacts.services import reference_data_load
from evolutions import forms as evolution_forms
from evolutions import services as evolution_services
from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release, ReleaseAnnouncement
from recette import forms as recette_forms
from recette import services as recette_services
from recette.demo import recette_demo_load
from recette.flows import RecetteFlow
from recette.models import Campaign, Defect, Execution
from tests.security.dataset import manufactured_request
from workflow import roles, roleviews
from workflow.demo import (
    DEMO_PASSWORD,
    complete_open_task,
    demo_data_load,
    demo_totp_code,
)
from workflow.forms import (
    EnrolmentPasswordForm,
    MailboxCodeForm,
    OneTimeCodeField,
    SecondFactorCodeForm,
)
from workflow.models import Notification

S = ChangeRequest.Status
E, R = EvolutionFlow, RecetteFlow
RESULT = Execution.Result
CLIENT = "23"
FLOWS = (EvolutionFlow, RecetteFlow)

# Per endpoint: the whole module stays well under a minute and a half.
EXAMPLES = 8
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written in the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- Hostile values -------------------------------------------------------------

# Markup that must never come back raw in a page (checked on every HTML answer).
RAW_MARKUP = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="/etc/passwd"/>',
)
PAYLOADS = (
    *RAW_MARKUP,
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<para><font color=red size=40>reportlab</font></para>",
    '<a href="javascript:alert(1)">lien</a>',
    "</textarea><script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% debug %}",
    "%(x)s %s %d %n",
    "{0} {name}",
    "'; DROP TABLE evolutions_changerequest; --",
    '" OR 1=1 --',
    "${jndi:ldap://x}",
    "../../../../etc/passwd",
    "a\x00b",
    "\x00",
    "\u202eexe.pdf",
    "\u200f\u200e\u2066",
    "😀🇫🇷👩‍👩‍👧",
    "\r\n\r\n",
    "\t\x0b\x0c\x1b[31m\x7f",
    "\ufeff",
    "&lt;script&gt;",
    "&#60;script&#62;",
    "\\",
    " ",
    "",
    "NaN",
    "-Infinity",
)
LONG_TEXTS = ("A" * 10_000, "<b>" * 3_500, "é\u0301" * 5_000, "x\n" * 5_000)


def hostile_text() -> st.SearchStrategy[str]:
    """Text nobody should type: markup, template syntax, controls, NUL, RTL
    marks, emoji, 10k characters (no lone surrogate: it cannot be sent)."""
    random_text = st.text(st.characters(codec="utf-8"), max_size=30)
    return st.one_of(
        st.sampled_from(PAYLOADS),
        random_text,
        # By index: a failure report then shows the strategy, not 40k characters.
        st.integers(0, len(LONG_TEXTS) - 1).map(LONG_TEXTS.__getitem__),
        st.tuples(st.sampled_from(PAYLOADS), random_text).map("".join),
    )


def plain_text(max_length: int | None) -> st.SearchStrategy[str]:
    """Hostile text that a text field may accept (no NUL, within its length)."""
    limit = max_length or 12_000
    return hostile_text().map(lambda text: text.replace("\x00", "")[:limit])


def hostile_number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "NaN",
                "nan",
                "Infinity",
                "-Infinity",
                "inf",
                "1e309",
                "-1e309",
                "1e-400",
                "-0",
                "0x10",
                "1,5",
                "1 000",
                "\u0661\u0662",
                "\uff11\uff12",
                "9" * 60,
                "-" + "9" * 60,
                "0.0000000000000000000001",
            ]
        ),
        st.integers(-(10**30), 10**30).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
    )


def hostile_date() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([date.min, date.max, date(1, 1, 2), date(9999, 12, 30)]).map(
            date.isoformat
        ),
        st.dates().map(date.isoformat),
        st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
        st.sampled_from(
            [
                "0000-00-00",
                "0000-01-01",
                "10000-01-01",
                "-0001-01-01",
                "2024-02-30",
                "2023-13-01",
                "2023-00-10",
                "99999-99-99",
                "31/12/9999",
                "00/00/0000",
                "2024-1-1",
                "today",
                "1e5",
            ]
        ),
    )


def hostile_id() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(
            ["0", "-1", "1.5", "1e3", "abc", "", " 1", "\u0661", "0x1", "None"]
        ),
    )


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CSV_BYTES = (
    "référence;titre;action;résultat attendu\n"
    'CT-1;<script>alert(1)</script>;"a\nb";%(x)s\n'
).encode()
FILE_NAMES = (
    "preuve.txt",
    "cas.csv",
    "cas.xlsx",
    "rapport.pdf",
    "capture.png",
    "../../../etc/passwd",
    "..\\..\\boot.ini",
    "<script>alert(1)</script>.pdf",
    '"><img src=x onerror=alert(1)>.txt',
    "\u202etxt.exe",
    "a\x00.pdf",
    "programme.exe",
    "CON.txt",
    ".pdf",
    "sans-extension",
    "x" * 300 + ".csv",
    "é" * 200 + ".txt",
    "rapport.PDF.",
)


def hostile_file() -> st.SearchStrategy[SimpleUploadedFile]:
    names = st.one_of(
        st.sampled_from(FILE_NAMES),
        st.tuples(
            plain_text(60), st.sampled_from([".pdf", ".csv", ".txt", ".xlsx", ""])
        ).map("".join),
    )
    contents = st.one_of(
        st.sampled_from([PDF_BYTES, PNG_BYTES, CSV_BYTES, b"", b"PK\x03\x04" * 8]),
        st.binary(max_size=512),
        plain_text(400).map(str.encode),
    )
    return st.builds(_upload, names, contents)


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    """A file to post under `name`, or a neutral name where Django's test client
    itself refuses it ("", "..")."""
    try:
        return SimpleUploadedFile(name, content)
    except SuspiciousFileOperation:
        return SimpleUploadedFile("fichier", content)


# What `_forged` adds: fields no form declares, as a forged POST would send them.
FORGED_NAMES = (
    "organisation",
    "status",
    "owner",
    "order_owner",
    "by",
    "pk",
    "id",
    "version",
    "select_all",
    "_cancel_process",
    "csrfmiddlewaretoken",
    "next",
    "page",
)

MISSING = object()  # the field is left out of the POST


def _forged() -> st.SearchStrategy[dict]:
    names = st.one_of(
        st.sampled_from(FORGED_NAMES), st.text(string.printable, min_size=1, max_size=8)
    )
    values = st.one_of(hostile_text(), st.lists(hostile_text(), max_size=3))
    return st.dictionaries(names, values, max_size=2)


# --- Values of a form field, from its type ------------------------------------


def _choice_keys(choices) -> list[str]:
    keys = []
    for key, label in choices:
        if isinstance(label, list | tuple):
            keys += _choice_keys(label)
        elif str(key) != "":
            keys.append(str(key))
    return keys


def _model_ids(model_field: forms.ModelChoiceField) -> st.SearchStrategy[str]:
    """Ids the field offers, ids of objects it does not offer (another
    organisation's, another request's…) and nonsense."""
    key = model_field.to_field_name or "pk"
    offered = model_field.queryset
    model = offered.model
    allowed = list(offered.order_by(key).values_list(key, flat=True)[:4])
    others = model._default_manager.exclude(**{f"{key}__in": offered.values(key)})
    foreign = [
        *others.order_by(key).values_list(key, flat=True)[:3],
        *others.order_by(f"-{key}").values_list(key, flat=True)[:3],
    ]
    choices = [
        st.sampled_from([str(v) for v in ids]) for ids in (allowed, foreign) if ids
    ]
    return st.one_of(*choices, hostile_id())


def _plausible(form_field: forms.Field, context: "Context") -> st.SearchStrategy:
    """Values of the field's type that it might accept (and a few it won't)."""
    f = forms
    if isinstance(form_field, f.FileField):
        good = st.builds(
            _upload,
            st.sampled_from(["preuve.txt", "cas.csv"]),
            st.sampled_from([CSV_BYTES, "Notes <b>é</b>\n".encode()]),
        )
        return st.one_of(good, hostile_file())
    if isinstance(form_field, f.ModelMultipleChoiceField):
        return st.lists(_model_ids(form_field), max_size=3)
    if isinstance(form_field, f.ModelChoiceField):
        return _model_ids(form_field)
    if isinstance(form_field, f.MultipleChoiceField):
        keys = _choice_keys(form_field.choices)
        item = st.sampled_from(keys) if keys else hostile_id()
        return st.lists(st.one_of(item, hostile_text()), max_size=4)
    if isinstance(form_field, f.ChoiceField):
        keys = _choice_keys(form_field.choices)
        return st.sampled_from(keys) if keys else hostile_text()
    if isinstance(form_field, f.DateField):
        today = timezone.localdate()
        near = st.integers(-400, 400).map(lambda n: today + timedelta(days=n))
        return st.one_of(near.map(date.isoformat), hostile_date())
    if isinstance(form_field, f.DecimalField | f.IntegerField | f.FloatField):
        places = getattr(form_field, "decimal_places", None) or 0
        sane = st.decimals(0, 999, places=places, allow_nan=False)
        return st.one_of(sane.map(str), hostile_number())
    if isinstance(form_field, f.BooleanField):
        return st.sampled_from(["on", "", "false", "0"])
    if isinstance(form_field, f.EmailField):
        return st.sampled_from(
            ["cd23.porteur@demo.tandem.invalid", "a@b", "<script>@x.fr", "x" * 300]
        )
    if isinstance(form_field, OneTimeCodeField):
        return st.sampled_from([context.totp_code, "000000", "123 456", "12345"])
    if isinstance(form_field.widget, f.PasswordInput):
        return st.sampled_from([DEMO_PASSWORD, "tandem-demo ", "x" * 4096])
    if isinstance(form_field, f.CharField):
        return plain_text(form_field.max_length)
    return hostile_text()


def _acceptable(form_field: forms.Field, initial, context: "Context"):
    """Values the field accepts: hostile text, but of the right type, required
    ones present, choices among those offered (the service may still refuse)."""
    f = forms
    if initial is not None and isinstance(form_field.widget, f.HiddenInput):
        return st.just(str(initial))  # a formset's management form
    if isinstance(form_field, f.FileField):
        contents = st.one_of(
            st.just(CSV_BYTES), plain_text(300).map(lambda t: f"Notes {t}".encode())
        )
        return st.builds(_upload, st.sampled_from(["preuve.txt", "cas.csv"]), contents)
    if isinstance(form_field, f.ModelChoiceField):
        key = form_field.to_field_name or "pk"
        offered = [
            str(v)
            for v in form_field.queryset.order_by(key).values_list(key, flat=True)[:4]
        ]
        if isinstance(form_field, f.ModelMultipleChoiceField):
            return (
                st.lists(st.sampled_from(offered), max_size=2)
                if offered
                else st.just([])
            )
        return st.sampled_from(offered) if offered else hostile_id()
    keys = _choice_keys(getattr(form_field, "choices", ()))
    if isinstance(form_field, f.MultipleChoiceField) and keys:
        return st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)
    if isinstance(form_field, f.ChoiceField) and keys:
        return st.sampled_from(keys)
    if isinstance(form_field, f.DateField):
        today = timezone.localdate()
        days = st.integers(1, 60).map(lambda n: today + timedelta(days=n))
        return days.map(date.isoformat)
    if (
        isinstance(form_field, f.CharField)
        and not isinstance(form_field, OneTimeCodeField)
        and not isinstance(form_field.widget, f.PasswordInput)
    ):
        # A required field gets some text besides what may be only blanks.
        return plain_text(form_field.max_length).map(
            lambda text: (
                text if text.strip() else f"texte{text}"[: form_field.max_length]
            )
        )
    return _plausible(form_field, context)


def _wild(form_field: forms.Field, context: "Context") -> st.SearchStrategy:
    plausible = _plausible(form_field, context)
    junk = hostile_file() if isinstance(form_field, forms.FileField) else hostile_text()
    # Plausible values twice as often; otherwise garbage, lists, or nothing.
    return st.one_of(
        plausible,
        plausible,
        junk,
        st.lists(st.one_of(plausible, junk), min_size=2, max_size=3),
        st.just(MISSING),
    )


def _fields_of(form, context: "Context", *, calm: bool) -> dict[str, st.SearchStrategy]:
    """Posted name → values, for every field of a form (or of a formset: its
    management form and its first two forms). Calm: values the fields accept."""
    if isinstance(form, forms.BaseFormSet):
        parts = [form.management_form, *form.forms[:2]]
        return {
            name: values
            for part in parts
            for name, values in _fields_of(part, context, calm=calm).items()
        }
    return {
        form.add_prefix(name): (
            _acceptable(
                form_field, form.get_initial_for_field(form_field, name), context
            )
            if calm
            else _wild(form_field, context)
        )
        for name, form_field in form.fields.items()
    }


# --- The requests of client 23 at every step ------------------------------------


@dataclass(repr=False)
class Stage:
    """Client 23's requests: one per step of EvolutionFlow (the demo's), one per
    stop of RecetteFlow, every open task assigned to a user who may act."""

    requests: dict[str, int]
    announcement_pk: int
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
    _assign_open_tasks(organisation, users)
    announcement = evolution_services.announcement_create(
        by=users["cnaf.contact"],
        release=release,
        kind=ReleaseAnnouncement.Kind.EVOLUTION,
        title="Nouveaux contrôles",
        changes="Contrôle du NIR.",
        schedule="Au printemps.",
    )
    return Stage(requests=requests, announcement_pk=announcement.pk)


@pytest.fixture(scope="module")
def stage(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once, in a transaction rolled back after the module's last test; each
    test runs in a savepoint of it (pytest-django's `db`)."""
    private = tmp_path_factory.mktemp("private")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PRIVATE_MEDIA_ROOT=str(private), PASSWORD_HASHERS=fast),
        translation.override("fr"),
        transaction.atomic(),
    ):
        yield _build_stage()
        transaction.set_rollback(True)


@pytest.fixture
def staged(stage, db):
    return stage


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


def test_sqlite_refuses_here_what_postgresql_refuses(staged):
    """The checks of `_example` do bite: a NUL character, an overlong title."""
    release = Release.objects.order_by("pk").first()
    with transaction.atomic(), connection.execute_wrapper(_refuse_nul):
        with pytest.raises(DataError):
            Release.objects.filter(pk=release.pk).update(title="a\x00b")
        transaction.set_rollback(True)
    if connection.vendor == "sqlite":  # PostgreSQL refuses the update itself
        with transaction.atomic():
            Release.objects.filter(pk=release.pk).update(title="x" * 201)
            assert _overlong_values() == [f"Release {release.pk}"]
            transaction.set_rollback(True)


# --- Inventory of the form endpoints ------------------------------------------


@dataclass
class Context:
    """What plausible values depend on, beyond the form."""

    totp_code: str = "000000"


@dataclass
class Target:
    """One endpoint: where to send (one of `routes`: url and user), what to send."""

    routes: tuple[tuple[str, str | None], ...]
    forms: tuple = ()
    extra: dict[str, st.SearchStrategy] = field(default_factory=dict)
    body: str = "form"  # "form": POST; "query": GET; "json": POST of `raw` bytes
    raw: st.SearchStrategy[bytes] | None = None

    def payload(self, context: Context) -> st.SearchStrategy:
        if self.body == "json":
            return self.raw
        # Half the examples are calm (every field of its type: the hostile text
        # gets saved and shown again), half are wild (anything, or nothing).
        sent = []
        for calm in (True, False):
            fields = {}
            for form in self.forms:
                fields.update(_fields_of(form, context, calm=calm))
            fields.update(self.extra)
            sent.append(st.tuples(st.fixed_dictionaries(fields), _forged()))
        return st.one_of(sent).map(_merged)


def _merged(drawn: tuple[dict, dict]) -> dict:
    declared, forged = drawn
    sent = {**forged, **declared}
    return {name: value for name, value in sent.items() if value is not MISSING}


def _one(url: str, username: str | None) -> tuple[tuple[str, str | None], ...]:
    return ((url, username),)


def _optional(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(values, hostile_text(), st.just(MISSING))


def _task_target(node) -> Callable[[Stage], Target]:
    """The execute page of the open task of client 23 at `node`, posted by the
    user it is assigned to, with the fields of the task view's form."""

    def target(stage: Stage) -> Target:
        task = (
            _of_client(Task.objects.filter(flow_task=node), _client())
            .filter(status__in=[STATUS.NEW, STATUS.ASSIGNED])
            .select_related("owner")
            .first()
        )
        assert task is not None and task.owner is not None, node
        process = task.process.coerced
        form_class = node.view.view_class.form_class
        kwargs = {"change_request": process.change_request}
        form = form_class(**_accepted(form_class, kwargs))
        url = node.reverse("execute", args=[task.process_id, task.pk])
        return Target(_one(url, task.owner.username), (form,))

    return target


def _accepted(form_class, kwargs: dict) -> dict:
    """The keyword arguments the form's constructor takes."""
    parameters = inspect.signature(form_class.__init__).parameters
    return {name: value for name, value in kwargs.items() if name in parameters}


def _client() -> Organisation:
    return Organisation.objects.get(code=CLIENT)


def _foreign_cases(stage: Stage) -> list[int]:
    """Cases outside the demo campaign: other requests', the other client's."""
    campaign = stage.campaign()
    return list(
        Execution.objects.exclude(campaign=campaign)
        .order_by("-pk")
        .values_list("case_id", flat=True)[:4]
    )


def _grid_json(stage: Stage) -> st.SearchStrategy[bytes]:
    """Bodies for the campaign grid: well-formed results with hostile values,
    JSON of any shape, and bytes that are no JSON at all."""
    cases = list(stage.campaign().campaign_cases.values_list("case_id", flat=True))
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(),
        st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0]),
        hostile_text(),
    )
    case_ids = st.one_of(
        st.sampled_from(cases),
        st.sampled_from(_foreign_cases(stage) or cases),
        st.sampled_from(cases).map(str),
        scalars,
        st.lists(st.sampled_from(cases), max_size=2),
    )
    results = st.one_of(st.sampled_from(list(RESULT.values)), scalars)
    entry = st.fixed_dictionaries(
        {"case": case_ids, "result": results},
        optional={
            "comment": st.one_of(hostile_text(), scalars),
            "step_results": st.dictionaries(hostile_text(), results, max_size=2),
        },
    )
    anything = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.one_of(st.sampled_from(["results", "case", "result"]), st.text()),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=8,
    )
    documents = st.one_of(
        st.lists(entry, max_size=3).map(lambda entries: {"results": entries}),
        st.lists(entry, max_size=3).map(lambda entries: {"results": entries}),
        anything,
    )
    return st.one_of(
        documents.map(lambda document: json.dumps(document).encode()),
        st.binary(max_size=64),
        st.sampled_from(
            [b"", b"{", b"[]", b"null", b'{"results": {"case": 1}}', b"\xff\xfe"]
        ),
    )


def _request_url(stage: Stage, name: str, key: str) -> str:
    return reverse(name, args=[stage.requests[key]])


def _pages() -> dict[str, Callable[[Stage], Target]]:
    User = get_user_model()

    def create(stage):
        url = reverse("evolutions:create")
        return Target(
            _one(url, "cd23.porteur"), (evolution_forms.NeedsExpressionForm(),)
        )

    def edit(stage):
        url = _request_url(stage, "evolutions:edit", S.DRAFT)
        return Target(
            _one(url, "cd23.porteur"), (evolution_forms.NeedsExpressionForm(),)
        )

    def submit(stage):
        return Target(
            _one(_request_url(stage, "evolutions:submit", S.DRAFT), "cd23.porteur")
        )

    def withdraw(stage):
        url = _request_url(stage, "evolutions:withdraw", S.IN_STUDY)
        return Target(_one(url, "cd23.porteur"), (evolution_forms.ReasonForm(),))

    def decline(stage):
        url = _request_url(stage, "evolutions:decline", S.SUBMITTED)
        return Target(_one(url, "cnaf.contact"), (evolution_forms.ReasonForm(),))

    def comment(stage):
        url = _request_url(stage, "evolutions:comment", S.IN_STUDY)
        return Target(
            ((url, "cd23.porteur"), (url, "cnaf.commande")),
            (evolution_forms.MessageForm(),),
        )

    def attach(stage):
        url = _request_url(stage, "evolutions:attach", S.IN_STUDY)
        return Target(_one(url, "cd23.porteur"), (evolution_forms.AttachmentForm(),))

    def announce(stage):
        url = reverse("evolutions:announcement_new")
        return Target(_one(url, "cnaf.contact"), (evolution_forms.AnnouncementForm(),))

    def publish(stage):
        url = reverse("evolutions:announcement_publish", args=[stage.announcement_pk])
        return Target(_one(url, "cnaf.commande"))

    def search(stage):
        filters = evolution_forms.ChangeRequestFilterForm(
            owners=User.objects.all(), organisations=Organisation.objects.all()
        )
        url = reverse("evolutions:index")
        return Target(
            ((url, "cnaf.contact"), (url, "cd23.porteur")),
            (filters,),
            {"page": _optional(hostile_number())},
            body="query",
        )

    def defect_new(stage):
        change_request = stage.request("run_campaign")
        form = recette_forms.DefectForm(change_request=change_request)
        url = reverse("recettes:defect_new", args=[change_request.pk])
        return Target(_one(url, "cd23.testeur"), (form,))

    def defect_action(stage):
        defect = stage.request("run_campaign").defects.order_by("number").first()
        other = stage.request("write_report").defects.get()
        routes = [
            (reverse("recettes:defect_action", args=[d.pk, action]), user)
            for d in (defect, other)
            for action, user in (
                ("rejeter", "cnaf.commande"),
                ("rouvrir", "cd23.testeur"),
                ("verifier", "cd23.testeur"),
                ("accepter-le-rejet", "cd23.porteur"),
                ("n-importe-quoi", "cd23.testeur"),
            )
        ]
        return Target(tuple(routes), (recette_forms.ReasonForm(),))

    def evidence(stage):
        execution = Execution.objects.filter(campaign=stage.campaign()).first()
        url = reverse("recettes:evidence_upload", args=[execution.pk])
        return Target(_one(url, "cd23.testeur"), (recette_forms.EvidenceForm(),))

    def cases_import(stage):
        url = _request_url(stage, "recettes:cases_import", "prepare_plan")
        confirm = st.one_of(st.just(MISSING), st.just(MISSING), hostile_text())
        return Target(
            _one(url, "cnaf.commande"),
            (recette_forms.ImportForm(),),
            {"confirm": confirm},
        )

    def case_new(stage):
        url = _request_url(stage, "recettes:case_new", "prepare_plan")
        steps = recette_forms.StepFormSet(prefix="etapes")
        return Target(_one(url, "cnaf.commande"), (recette_forms.CaseForm(), steps))

    def plan_reopen(stage):
        url = _request_url(stage, "recettes:plan_reopen", "qualify")
        return Target(_one(url, "cnaf.commande"), (recette_forms.ReasonForm(),))

    def campaign_case(stage):
        campaign = stage.campaign()
        row = campaign.campaign_cases.order_by("case__position").first()
        url = reverse("recettes:case", args=[campaign.pk, row.case_id])
        result = st.one_of(st.sampled_from(list(RESULT.values)), hostile_text())
        # The page reads these by hand (no Form): result, comment, etape-<n>.
        steps = {f"etape-{n}": _optional(result) for n in (1, 2, 3)}
        return Target(
            _one(url, "cd23.testeur"),
            extra={
                "result": _optional(result),
                "comment": _optional(hostile_text()),
                **steps,
            },
        )

    def record(stage):
        url = reverse("recettes:record", args=[stage.campaign().pk])
        return Target(
            ((url, "cd23.testeur"), (url, "cd23.porteur")),
            body="json",
            raw=_grid_json(stage),
        )

    def assignment(stage):
        campaign = stage.campaign()
        form = recette_forms.AssignmentForm(campaign=campaign)
        url = reverse("recettes:assignment", args=[campaign.pk])
        return Target(_one(url, "cd23.porteur"), (form,))

    def grid(stage):
        url = reverse("recettes:grid", args=[stage.campaign().pk])
        shown = st.sampled_from(["mes-cas", "a-executer", "echoues"])
        return Target(
            _one(url, "cd23.testeur"),
            extra={"filtre": _optional(shown)},
            body="query",
        )

    def login(stage):
        username = st.sampled_from(["cd23.porteur", "cnaf.dsi", "inconnu"])
        return Target(
            _one(reverse("login"), None),
            (AuthenticationForm(),),
            {
                "username": st.one_of(username, hostile_text()),
                "next": _optional(hostile_text()),
            },
        )

    def set_language(stage):
        url = reverse("set_language")
        language = st.sampled_from(["fr", "en", "de", ""])
        return Target(
            ((url, "cd23.porteur"), (url, None)),
            extra={
                "language": _optional(language),
                "next": _optional(st.sampled_from(["/", "//evil.example", "/x?y"])),
            },
        )

    def password_change(stage):
        form = PasswordChangeForm(stage.user("cd23.porteur"))
        return Target(_one(reverse("password_change"), "cd23.porteur"), (form,))

    def password_reset(stage):
        return Target(_one(reverse("password_reset"), None), (PasswordResetForm(),))

    def second_factor(stage):
        url = reverse("second_factor")
        action = st.sampled_from(
            ["start", "confirm", "cancel", "password", "mail_code"]
        )
        return Target(
            ((url, "cd23.dsi"), (url, "cd23.porteur")),
            (SecondFactorCodeForm(), EnrolmentPasswordForm(), MailboxCodeForm()),
            {"action": _optional(action), "next": _optional(hostile_text())},
        )

    def role_requests(stage):
        url = reverse("annuaire:role_requests")
        return Target(
            ((url, "cnaf.admin"), (url, "cd23.dsi")), (roleviews.RoleRequestForm(),)
        )

    def role_request_decide(stage):
        role_request = roles.role_request_create(
            by=stage.user("cnaf.admin"),
            user=stage.user("cd23.testeur"),
            organisation=Organisation.objects.get(code="23"),
            role="dsi_client",
            reason="Intérim",
        )
        routes = [
            (
                reverse("annuaire:role_request_decide", args=[role_request.pk, what]),
                user,
            )
            for what, user in (
                ("refuser", "cd23.dsi"),
                ("approuver", "cnaf.admin"),
                ("annuler", "cd23.dsi"),
                ("n-importe-quoi", "cd23.dsi"),
            )
        ]
        return Target(tuple(routes), (roleviews.DecisionForm(),))

    def bulk(name: str, username: str):
        def target(stage):
            return Target(_one(reverse(name), username), (BulkActionForm(model=Task),))

        return target

    return {
        "evolutions:create": create,
        "evolutions:edit": edit,
        "evolutions:submit": submit,
        "evolutions:withdraw": withdraw,
        "evolutions:decline": decline,
        "evolutions:comment": comment,
        "evolutions:attach": attach,
        "evolutions:announcement_new": announce,
        "evolutions:announcement_publish": publish,
        "evolutions:index": search,
        "recettes:defect_new": defect_new,
        "recettes:defect_action": defect_action,
        "recettes:evidence_upload": evidence,
        "recettes:cases_import": cases_import,
        "recettes:case_new": case_new,
        "recettes:plan_reopen": plan_reopen,
        "recettes:case": campaign_case,
        "recettes:record": record,
        "recettes:assignment": assignment,
        "recettes:grid": grid,
        "login": login,
        "set_language": set_language,
        "password_change": password_change,
        "password_reset": password_reset,
        "second_factor": second_factor,
        "annuaire:role_requests": role_requests,
        "annuaire:role_request_decide": role_request_decide,
        "taches-evolutions:tasks_assign": bulk(
            "taches-evolutions:tasks_assign", "cnaf.contact"
        ),
        "taches-evolutions:tasks_unassign": bulk(
            "taches-evolutions:tasks_unassign", "cnaf.commande"
        ),
        "taches-recettes:tasks_assign": bulk(
            "taches-recettes:tasks_assign", "cd23.porteur"
        ),
        "taches-recettes:tasks_unassign": bulk(
            "taches-recettes:tasks_unassign", "cnaf.moe"
        ),
    }


def _task_views() -> dict[str, Callable[[Stage], Target]]:
    """Every human task of both flows, by `<namespace>:<node>:execute`."""
    found = {}
    for flow_class in FLOWS:
        namespace = flow_class.instance.app_name
        for node in flow_class.instance.nodes():
            if isinstance(node, flow.View):
                found[f"{namespace}:{node.name}:execute"] = _task_target(node)
    return found


ENDPOINTS = {**_pages(), **_task_views()}

# Pages and downloads of our applications that take no input but their URL.
WITHOUT_INPUT = {
    "index",
    "former_task_address",  # a redirect to the same path under the new prefix
    "notifications",
    "evolutions:detail",
    "evolutions:roadmap",
    "evolutions:attachment",
    "evolutions:specification_document",
    "evolutions:quote_document",
    "evolutions:needs_expression_pdf",
    "evolutions:quote_pdf",
    "recettes:index",
    "recettes:detail",
    "recettes:plan_pdf",
    "recettes:report_pdf",
    "recettes:agreement_pdf",
    "recettes:dashboard",
    "recettes:evidence",
    "annuaire:index",
    "annuaire:organisation",
    "annuaire:person",
    "annuaire:contact_point",
}


# The shell's pages without a form to fuzz (or one that needs an e-mailed token).
SHELL_WITHOUT_FORM = {
    "logout",
    "password_change_done",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "javascript-catalog",
    "health",  # GET only, no input
}
# viewflow's own pages: lists, charts, and the task actions without fields
# (assign, unassign) or refused to everyone (undo, cancel, revive).
VIEWFLOW_ACTIONS = re.compile(
    r"^taches-(evolutions|recettes):([a-z_]+:(index|detail|assign|unassign|undo|cancel|"
    r"revive)|index|process_list|process_detail|process_cancel|task_list|chart|"
    r"process_chart|inbox|queue|archive)$"
)


# --- Sending and judging ---------------------------------------------------------


def _send(client: Client, target: Target, url: str, payload):
    if target.body == "json":
        return client.post(url, payload, content_type="application/json")
    if target.body == "query":
        return client.get(url, payload)
    return client.post(url, payload)


def _assert_answered(client: Client, response, what: str) -> None:
    """No server error, no markup sent back raw; the same for the page a success
    leads to, which shows what was just saved."""
    _assert_sound(response, what)
    location = response.get("Location", "") if response.status_code == 302 else ""
    if location.startswith("/") and not location.startswith("//"):
        _assert_sound(client.get(location), f"{what}, puis {location}")


def _assert_sound(response, what: str) -> None:
    if response.status_code >= 500:
        error = getattr(response, "exc_info", None)
        detail = (
            "".join(traceback.format_exception(*error))
            if error
            else response.content[:2000]
        )
        pytest.fail(f"{what} : erreur {response.status_code}\n{detail}")
    if "text/html" in response.get("Content-Type", ""):
        page = response.content.decode()
        raw = [markup for markup in RAW_MARKUP if markup in page]
        assert not raw, f"{what} : balisage renvoyé tel quel {raw}"


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
@HYPOTHESIS
@given(data=st.data())
def test_hostile_values_never_make_a_server_error(staged, name, data):
    with _example():
        if name not in staged.strategies:
            staged.strategies[name] = ENDPOINTS[name](staged)
        target = staged.strategies[name]
        url, username = data.draw(st.sampled_from(target.routes), label="route")
        client = Client(raise_request_exception=False)
        context = Context()
        if username is not None:
            user = staged.user(username)
            client.force_login(user)
            if user.totpdevice_set.filter(confirmed=True).exists():
                context.totp_code = demo_totp_code(user)
        payload = data.draw(target.payload(context), label="envoi")
        response = _send(client, target, url, payload)
        _assert_answered(client, response, f"{name} ({username})")


def _url_names(patterns=None, namespace: str = "") -> set[str]:
    """Every named URL pattern, with its namespaces ("recettes:grid")."""
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            )
            names |= _url_names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_form_endpoint_is_in_the_inventory():
    """A new page or task is fuzzed, or declared without input, by name."""
    ours = re.compile(
        r"^(evolutions|recettes|annuaire|taches-evolutions|taches-recettes):|^[^:]+$"
    )
    names = {name for name in _url_names() if ours.match(name)}
    left = {
        name
        for name in names - set(ENDPOINTS) - WITHOUT_INPUT - SHELL_WITHOUT_FORM
        if not VIEWFLOW_ACTIONS.match(name)
    }
    assert not left, f"pages sans entrée dans l'inventaire : {sorted(left)}"
    gone = set(ENDPOINTS) - names
    assert not gone, f"ne sont plus des URL : {sorted(gone)}"


# --- Ids no column can hold --------------------------------------------------------

OVERSIZED_ID = "9" * 25
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
_SAMPLE = {
    "str": "x",
    "slug": "x",
    "path": "x",
    "uuid": "0" * 8 + "-0000" * 3 + "-" + "0" * 12,
}


def _int_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URL resolver with an `<int:...>` part (ours, viewflow's,
    the admin's), each int replaced by a 25-digit number, the other parts by a
    value their converter accepts."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # a regular expression: no int converter
            continue
        if isinstance(pattern, URLResolver):
            routes += _int_routes(pattern.url_patterns, prefix + route)
        elif "<int:" in prefix + route:
            routes.append(
                "/"
                + _CONVERTER.sub(
                    lambda part: (
                        OVERSIZED_ID
                        if part["kind"] == "int"
                        else _SAMPLE.get(part["kind"] or "str", "x")
                    ),
                    prefix + route,
                )
            )
    return routes


def test_an_oversized_id_is_not_found_on_every_route(staged):
    routes = _int_routes()
    assert len(routes) > 50
    assert f"/taches-evolutions/{OVERSIZED_ID}/" in routes
    assert f"/taches-evolutions/{OVERSIZED_ID}/chart/" in routes
    assert any(route.startswith("/admin/") for route in routes)
    supplier = Client(raise_request_exception=False)
    supplier.force_login(staged.user("cnaf.contact"))
    anonymous = Client(raise_request_exception=False)
    answers = {
        (who, route, method): getattr(client, method)(route).status_code
        for who, client in (("cnaf.contact", supplier), ("anonyme", anonymous))
        for route in routes
        for method in ("get", "post")
    }
    wrong = {key: status for key, status in answers.items() if status != 404}
    assert not wrong, wrong


# --- Hazards known by name -------------------------------------------------------


def _today(days: int = 0) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _first_case(stage: Stage) -> int:
    return stage.campaign().campaign_cases.order_by("case__position").first().case_id


def _qualify_task(stage: Stage) -> str:
    """The open qualification task, assigned to cnaf.moe."""
    tasks = Task.objects.filter(status=STATUS.ASSIGNED, flow_task=R.qualify)
    return str(_of_client(tasks, _client()).get().pk)


# Each: endpoint, what to send (built from the stage; JSON bodies are bytes), the
# answer expected (200: the form again, with the error).
HAZARDS: dict[str, tuple[str, Callable[[Stage], object], int]] = {
    "json-infinity": (
        "recettes:record",
        lambda s: b'{"results": [{"case": Infinity, "result": "reussi"}]}',
        400,
    ),
    "json-1e400": (
        "recettes:record",
        lambda s: b'{"results": [{"case": -1e400, "result": "reussi"}]}',
        400,
    ),
    "json-nan": (
        "recettes:record",
        lambda s: b'{"results": [{"case": NaN, "result": "reussi"}]}',
        400,
    ),
    "json-huge-id": (
        "recettes:record",
        lambda s: (
            b'{"results": [{"case": 123456789012345678901234567890, '
            b'"result": "reussi"}]}'
        ),
        400,
    ),
    "json-nul-comment": (
        "recettes:record",
        lambda s: json.dumps(
            {
                "results": [
                    {"case": _first_case(s), "result": "echoue", "comment": "a\0"}
                ]
            }
        ).encode(),
        400,
    ),
    "case-page-nul-comment": (
        "recettes:case",
        lambda s: {"result": "echoue", "comment": "a\x00b", "etape-1": "echoue"},
        200,
    ),
    "case-page-nul-step": (
        "recettes:case",
        lambda s: {"result": "echoue", "etape-1": "echoue\x00"},
        200,
    ),
    "attachment-named-dot-pdf": (
        "evolutions:attach",
        lambda s: {"file": SimpleUploadedFile(".pdf", PDF_BYTES)},
        302,
    ),
    "evidence-named-rtl-mark": (
        "recettes:evidence_upload",
        lambda s: {"file": SimpleUploadedFile("\u200e.txt", b"Notes.")},
        302,
    ),
    "specification-named-dot-pdf": (
        "taches-evolutions:write_specification:execute",
        lambda s: {"summary": "CDC", "document": SimpleUploadedFile(".pdf", PDF_BYTES)},
        302,
    ),
    "qualification-report-named-dot-pdf": (
        "taches-recettes:qualify:execute",
        lambda s: {
            "passed": "no",
            "on": _today(),
            "report": SimpleUploadedFile(" .pdf", PDF_BYTES),
        },
        302,
    ),
    "case-without-steps": (
        "recettes:case_new",
        lambda s: {
            "reference": "CT-9",
            "title": "Sans étape",
            "priority": "moyenne",
            "etapes-TOTAL_FORMS": "0",
            "etapes-INITIAL_FORMS": "0",
        },
        200,
    ),
    "bulk-assign-script-id": (
        "taches-evolutions:tasks_assign",
        lambda s: {"pk": ["<script>alert(1)</script>"], "_confirm": "1"},
        400,
    ),
    "bulk-unassign-own-task": (
        "taches-recettes:tasks_unassign",
        lambda s: {"pk": [_qualify_task(s)], "_confirm": "1"},
        302,
    ),
    "plan-in-year-9999": (
        "taches-recettes:prepare_plan:execute",
        lambda s: {"workload": "2", "start": "9999-12-31", "end": "9999-12-31"},
        200,
    ),
    "plan-in-year-1": (
        "taches-recettes:prepare_plan:execute",
        lambda s: {"workload": "2", "start": "0001-01-01", "end": "0001-01-01"},
        200,
    ),
    "quote-valid-until-9999": (
        "taches-evolutions:write_quote:execute",
        lambda s: {"man_days": "1", "amount": "1", "valid_until": "9999-12-31"},
        302,
    ),
    "delivery-in-year-9999": (
        "taches-recettes:deliver:execute",
        lambda s: {"on": "9999-12-31", "environment": "REC"},
        302,
    ),
    "qualification-in-year-1": (
        "taches-recettes:qualify:execute",
        lambda s: {"passed": "yes", "on": "0001-01-01"},
        302,
    ),
    "needs-expression-wished-9999": (
        "evolutions:create",
        lambda s: {
            "title": "T",
            "kind": "technique",
            "data_flows": ["DSG"],
            "description": "D",
            "wished_date": "9999-12-31",
        },
        302,
    ),
    "import-csv-with-nul": (
        "recettes:cases_import",
        lambda s: {
            "file": SimpleUploadedFile("cas.csv", CSV_BYTES + b"CT-2;\x00;a;b\n")
        },
        200,
    ),
    "import-fake-xlsx": (
        "recettes:cases_import",
        lambda s: {"file": SimpleUploadedFile("cas.xlsx", b"PK\x03\x04" + b"\0" * 64)},
        200,
    ),
}


@pytest.mark.parametrize("hazard", sorted(HAZARDS))
def test_known_hazards_never_make_a_server_error(staged, hazard):
    name, build, expected = HAZARDS[hazard]
    with _example():
        target = ENDPOINTS[name](staged)
        url, username = target.routes[0]
        client = Client(raise_request_exception=False)
        if username is not None:
            client.force_login(staged.user(username))
        response = _send(client, target, url, build(staged))
        _assert_answered(client, response, f"{hazard} ({name})")
        assert response.status_code == expected, response.content[:3000]


# --- Escaping: what is typed comes back as text ------------------------------------

PAYLOAD = '<script>alert("x")</script><b>gras</b><img src="/etc/passwd"/>'
ESCAPED = html.escape(PAYLOAD)  # as Django's autoescape writes it
RAW_PIECES = ("<script>alert", "<b>gras</b>", '<img src="/etc/passwd"/>')


@dataclass
class Shown:
    """Where a saved text is read back: pages that must show it escaped, pages
    that must at least not show it raw, and PDFs that must print it literally."""

    pages: list[tuple[str, str]] = field(default_factory=list)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    pdfs: list[tuple[str, str]] = field(default_factory=list)


def _open_task(change_request_pk: int, node) -> Task:
    processes = Q(process__evolutionprocess__change_request_id=change_request_pk) | Q(
        process__recetteprocess__change_request_id=change_request_pk
    )
    return (
        Task.objects.filter(processes, flow_task=node)
        .filter(status__in=[STATUS.NEW, STATUS.ASSIGNED])
        .select_related("owner")
        .get()
    )


def _taken(client: Client, stage: Stage, task: Task) -> str:
    """The task's owner, after taking it from the queue as the first demo user
    who may (through its assign page)."""
    if task.owner is None:
        taker = next(
            user
            for user in get_user_model().objects.order_by("pk")
            if task.flow_task.can_assign(user, task)
        )
        client.force_login(taker)
        url = task.flow_task.reverse("assign", args=[task.process_id, task.pk])
        assert client.post(url).status_code == 302
        task.refresh_from_db()
    return task.owner.username


def _task_page(client: Client, stage: Stage, key: str, node) -> tuple[str, str]:
    task = _open_task(stage.requests[key], node)
    username = _taken(client, stage, task)
    return username, node.reverse("execute", args=[task.process_id, task.pk])


def _post(client: Client, stage: Stage, username: str, url: str, data, **kwargs):
    client.force_login(stage.user(username))
    response = client.post(url, data, **kwargs)
    assert response.status_code in (200, 302), response.content.decode()[:3000]
    return response


def _act(client: Client, stage: Stage, key: str, node, data: dict) -> None:
    """Complete the open task of request `key` at `node` through its page."""
    username, url = _task_page(client, stage, key, node)
    response = _post(client, stage, username, url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def _detail(stage: Stage, key: str, *usernames: str) -> list[tuple[str, str]]:
    url = reverse("evolutions:detail", args=[stage.requests[key]])
    return [(username, url) for username in usernames]


def _acceptance(stage: Stage, key: str, *usernames: str) -> list[tuple[str, str]]:
    url = reverse("recettes:detail", args=[stage.requests[key]])
    return [(username, url) for username in usernames]


def _notifications(*usernames: str) -> list[tuple[str, str]]:
    return [(username, reverse("notifications")) for username in usernames]


NEEDS_EXPRESSION = {
    "title": PAYLOAD,
    "kind": "technique",
    "data_flows": ["DSG", "autre"],
    "description": f"{PAYLOAD}\n{PAYLOAD}",
    "expected_benefit": PAYLOAD,
}


def _needs_expression(client, stage):
    _post(client, stage, "cd23.porteur", reverse("evolutions:create"), NEEDS_EXPRESSION)
    pk = ChangeRequest.objects.get(title=PAYLOAD).pk
    stage.requests["payload"] = pk
    _post(client, stage, "cd23.porteur", reverse("evolutions:submit", args=[pk]), {})
    review = _task_page(client, stage, "payload", E.review_submission)
    return Shown(
        pages=[
            *_detail(stage, "payload", "cd23.porteur", "cnaf.contact"),
            ("cd23.porteur", reverse("evolutions:index")),
            ("cnaf.contact", f"{reverse('evolutions:index')}?q=script"),
            ("cnaf.contact", reverse("taches-evolutions:inbox")),
            review,
            ("cd23.porteur", reverse("evolutions:edit", args=[pk])),
        ],
        pdfs=[("cnaf.contact", reverse("evolutions:needs_expression_pdf", args=[pk]))],
    )


def _completed_information(client, stage):
    data = {**NEEDS_EXPRESSION, "comment": PAYLOAD}
    _act(client, stage, S.INFO_REQUESTED, E.complete_information, data)
    pk = stage.requests[S.INFO_REQUESTED]
    return Shown(
        pages=[
            *_detail(stage, S.INFO_REQUESTED, "cd23.porteur", "cnaf.contact"),
            _task_page(client, stage, S.INFO_REQUESTED, E.review_submission),
        ],
        elsewhere=_notifications("cnaf.contact"),
        pdfs=[("cd23.porteur", reverse("evolutions:needs_expression_pdf", args=[pk]))],
    )


def _information_question(client, stage):
    data = {"decision": "request_information", "question": PAYLOAD}
    _act(client, stage, S.SUBMITTED, E.review_submission, data)
    return Shown(
        pages=_detail(stage, S.SUBMITTED, "cd23.porteur"),
        elsewhere=[
            _task_page(client, stage, S.SUBMITTED, E.complete_information),
            *_notifications("cd23.porteur"),
        ],
    )


def _message(client, stage):
    url = reverse("evolutions:comment", args=[stage.requests[S.IN_STUDY]])
    _post(client, stage, "cd23.porteur", url, {"body": PAYLOAD})
    return Shown(pages=_detail(stage, S.IN_STUDY, "cd23.porteur", "cnaf.commande"))


def _withdrawal(client, stage):
    url = reverse("evolutions:withdraw", args=[stage.requests[S.IN_STUDY]])
    _post(client, stage, "cd23.porteur", url, {"reason": PAYLOAD})
    return Shown(
        pages=_detail(stage, S.IN_STUDY, "cd23.porteur", "cnaf.commande"),
        elsewhere=_notifications("cnaf.commande"),
    )


def _decline(client, stage):
    url = reverse("evolutions:decline", args=[stage.requests[S.SUBMITTED]])
    _post(client, stage, "cnaf.contact", url, {"reason": PAYLOAD})
    return Shown(
        pages=_detail(stage, S.SUBMITTED, "cd23.porteur"),
        elsewhere=_notifications("cd23.porteur"),
    )


def _specification(client, stage):
    _act(client, stage, S.IN_STUDY, E.write_specification, {"summary": PAYLOAD})
    return Shown(
        pages=[
            *_detail(stage, S.IN_STUDY, "cd23.porteur"),
            _task_page(client, stage, S.IN_STUDY, E.review_specification),
        ]
    )


def _decision(key: str, node, next_node=None, data=None):
    """A client's refusal, with its mandatory comment."""

    def showcase(client, stage):
        _act(client, stage, key, node, data or {"decision": "no", "comment": PAYLOAD})
        shown = Shown(
            pages=_detail(stage, key, "cd23.porteur", "cnaf.commande"),
            elsewhere=_notifications("cnaf.commande"),
        )
        if next_node is not None:
            shown.elsewhere.append(_task_page(client, stage, key, next_node))
        return shown

    return showcase


def _quote_refusal(client, stage):
    shown = _decision(S.QUOTE_REVIEW, E.review_quote, E.write_quote)(client, stage)
    change_request = stage.request(S.QUOTE_REVIEW)
    version = change_request.quotes.order_by("version").last().version
    url = reverse("evolutions:quote_pdf", args=[change_request.pk, version])
    shown.pdfs.append(("cd23.porteur", url))
    return shown


def _release_proposal(client, stage):
    release = Release.objects.filter(production_date__gte=timezone.localdate()).first()
    data = {"release": release.pk, "comment": PAYLOAD}
    _act(client, stage, S.PLANNING, E.propose_release, data)
    return Shown(
        pages=_detail(stage, S.PLANNING, "cd23.porteur"),
        elsewhere=[
            _task_page(client, stage, S.PLANNING, E.confirm_release),
            *_notifications("cd23.porteur"),
        ],
    )


def _manufacture(client, stage):
    _act(client, stage, S.PLANNED, E.start_manufacture, {"comment": PAYLOAD})
    return Shown(pages=_detail(stage, S.PLANNED, "cd23.porteur", "cnaf.moe"))


def _announcement(client, stage):
    release = Release.objects.order_by("production_date").first()
    data = {
        "release": release.pk,
        "kind": ReleaseAnnouncement.Kind.EVOLUTION,
        "title": PAYLOAD,
        "changes": PAYLOAD,
        "schedule": PAYLOAD,
        "client_actions": PAYLOAD,
    }
    _post(client, stage, "cnaf.contact", reverse("evolutions:announcement_new"), data)
    announcement = ReleaseAnnouncement.objects.get(title=PAYLOAD)
    url = reverse("evolutions:announcement_publish", args=[announcement.pk])
    _post(client, stage, "cnaf.contact", url, {})
    roadmap = reverse("evolutions:roadmap")
    return Shown(
        pages=[
            ("cnaf.contact", roadmap),
            ("cd23.porteur", roadmap),
            *_notifications("cd23.dsi"),
        ]
    )


def _test_case(client, stage):
    data = {
        "reference": "CT-<b>",
        "title": PAYLOAD,
        "objective": PAYLOAD,
        "priority": "haute",
        "preconditions": PAYLOAD,
        "section": PAYLOAD,
        "etapes-TOTAL_FORMS": "1",
        "etapes-INITIAL_FORMS": "0",
        "etapes-0-action": PAYLOAD,
        "etapes-0-expected": PAYLOAD,
    }
    url = reverse("recettes:case_new", args=[stage.requests["prepare_plan"]])
    _post(client, stage, "cnaf.commande", url, data)
    pk = stage.requests["prepare_plan"]
    return Shown(
        pages=_acceptance(stage, "prepare_plan", "cnaf.commande", "cd23.porteur"),
        elsewhere=[_task_page(client, stage, "prepare_plan", R.prepare_plan)],
        pdfs=[("cd23.porteur", reverse("recettes:plan_pdf", args=[pk]))],
    )


def _imported_cases(client, stage):
    import csv

    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";")
    headers = "référence;titre;objectif;préconditions;section;action;résultat attendu"
    writer.writerow(headers.split(";"))
    writer.writerow(["CT-1", PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD])
    upload = SimpleUploadedFile("cas.csv", rows.getvalue().encode())
    pk = stage.requests["prepare_plan"]
    url = reverse("recettes:cases_import", args=[pk])
    preview = _post(client, stage, "cnaf.commande", url, {"file": upload})
    _assert_escaped(preview, "aperçu de l'import")
    token = re.search(r'name="confirm" value="([^"]+)"', preview.content.decode())
    _post(client, stage, "cnaf.commande", url, {"confirm": token[1]})
    return Shown(
        pages=_acceptance(stage, "prepare_plan", "cnaf.commande", "cd23.porteur"),
        pdfs=[("cd23.porteur", reverse("recettes:plan_pdf", args=[pk]))],
    )


def _defect(client, stage):
    pk = stage.requests["run_campaign"]
    data = {"title": PAYLOAD, "severity": "majeure", "description": PAYLOAD}
    _post(
        client, stage, "cd23.testeur", reverse("recettes:defect_new", args=[pk]), data
    )
    return Shown(
        pages=_acceptance(stage, "run_campaign", "cd23.testeur", "cnaf.moe"),
        elsewhere=_notifications("cnaf.moe", "cnaf.commande"),
    )


def _report(client, stage):
    pk = stage.requests["write_report"]
    data = {"title": PAYLOAD, "severity": "majeure", "description": PAYLOAD}
    _post(
        client, stage, "cd23.testeur", reverse("recettes:defect_new", args=[pk]), data
    )
    defect = Defect.objects.get(change_request_id=pk, title=PAYLOAD)
    data = {"verdict": "reserves", "reserves": PAYLOAD, "reserved_defects": [defect.pk]}
    _act(client, stage, "write_report", R.write_report, data)
    return Shown(
        pages=_acceptance(stage, "write_report", "cd23.porteur", "cnaf.dsi"),
        elsewhere=[
            _task_page(client, stage, "write_report", R.sign_client),
            *_notifications("cnaf.dsi"),
        ],
        pdfs=[
            ("cd23.dsi", reverse("recettes:report_pdf", args=[pk])),
            ("cnaf.dsi", reverse("recettes:agreement_pdf", args=[pk])),
        ],
    )


def _case_page(stage: Stage) -> str:
    return reverse("recettes:case", args=[stage.campaign().pk, _first_case(stage)])


def _grid_comment(client, stage):
    entry = {"case": _first_case(stage), "result": "echoue", "comment": PAYLOAD}
    url = reverse("recettes:record", args=[stage.campaign().pk])
    body = json.dumps({"results": [entry]})
    _post(client, stage, "cd23.testeur", url, body, content_type="application/json")
    grid = reverse("recettes:grid", args=[stage.campaign().pk])
    return Shown(
        pages=[("cd23.testeur", _case_page(stage)), ("cnaf.moe", _case_page(stage))],
        elsewhere=[("cd23.testeur", grid)],
    )


def _case_page_comment(client, stage):
    data = {"result": "echoue", "comment": PAYLOAD, "etape-1": "echoue"}
    _post(client, stage, "cd23.testeur", _case_page(stage), data)
    return Shown(pages=[("cd23.porteur", _case_page(stage))])


def _qualification(client, stage):
    data = {"passed": "no", "on": _today(), "comment": PAYLOAD}
    _act(client, stage, "qualify", R.qualify, data)
    return Shown(
        elsewhere=[
            *_acceptance(stage, "qualify", "cd23.porteur", "cnaf.moe"),
            *_notifications("cnaf.commande", "cd23.porteur"),
        ]
    )


def _delivery(client, stage):
    data = {"on": _today(), "environment": PAYLOAD, "release_notes": PAYLOAD}
    _act(client, stage, "deliver", R.deliver, data)
    campaign = stage.campaign("deliver")
    return Shown(
        elsewhere=[
            *_acceptance(stage, "deliver", "cd23.testeur"),
            ("cd23.testeur", reverse("recettes:grid", args=[campaign.pk])),
            ("cd23.testeur", reverse("recettes:dashboard", args=[campaign.pk])),
            *_notifications("cd23.porteur", "cd23.dsi"),
        ]
    )


def _plan_review(client, stage):
    data = {"decision": "no", "comment": PAYLOAD}
    _act(client, stage, "review_plan", R.review_plan, data)
    return Shown(
        pages=[_task_page(client, stage, "review_plan", R.prepare_plan)],
        elsewhere=[
            *_acceptance(stage, "review_plan", "cnaf.commande"),
            *_notifications("cnaf.commande"),
        ],
    )


def _campaign_close(client, stage):
    data = {"outcome": "corrections", "comment": PAYLOAD}
    _act(client, stage, "run_campaign", R.run_campaign, data)
    return Shown(
        elsewhere=[
            *_acceptance(stage, "run_campaign", "cnaf.moe"),
            _task_page(client, stage, "run_campaign", R.deliver),
        ]
    )


def _defect_rejection(client, stage):
    defect = stage.request("run_campaign").defects.order_by("number").first()
    url = reverse("recettes:defect_action", args=[defect.pk, "rejeter"])
    _post(client, stage, "cnaf.commande", url, {"reason": PAYLOAD})
    return Shown(pages=_acceptance(stage, "run_campaign", "cd23.testeur"))


def _plan_reopening(client, stage):
    url = reverse("recettes:plan_reopen", args=[stage.requests["qualify"]])
    _post(client, stage, "cnaf.commande", url, {"reason": PAYLOAD})
    return Shown(elsewhere=_acceptance(stage, "qualify", "cnaf.commande"))


def _agreement_refusal(client, stage):
    data = {
        "decision": "refuse",
        "reason": PAYLOAD,
        "password": DEMO_PASSWORD,
        "otp_token": demo_totp_code(stage.user("cd23.dsi")),
    }
    _act(client, stage, "signatures", R.sign_client, data)
    pk = stage.requests["signatures"]
    # The agreement's PDF states what was signed (report, reserves), not refusals.
    return Shown(
        pages=_acceptance(stage, "signatures", "cd23.porteur", "cnaf.dsi"),
        elsewhere=[
            *_notifications("cnaf.dsi", "cnaf.commande"),
            ("cnaf.dsi", reverse("recettes:agreement_pdf", args=[pk])),
        ],
    )


# Showcases whose text also goes out in the e-mails of the event: escaped in their
# HTML part, as typed in their text part.
MAILED = {
    "accord-refuse",
    "annonce",
    "anomalie",
    "bilan",
    "cahier-des-charges-renvoye",
    "complement-d-information",
    "devis-refuse",
    "expression-de-besoin",
    "livraison",
    "plan-renvoye",
    "question-du-point-de-contact",
    "refus-du-fournisseur",
    "retrait",
    "version-proposee",
    "version-refusee",
}

SHOWCASES: dict[str, Callable[[Client, Stage], Shown]] = {
    "expression-de-besoin": _needs_expression,
    "complement-d-information": _completed_information,
    "question-du-point-de-contact": _information_question,
    "message": _message,
    "retrait": _withdrawal,
    "refus-du-fournisseur": _decline,
    "cahier-des-charges": _specification,
    "cahier-des-charges-renvoye": _decision(
        S.SPEC_REVIEW, E.review_specification, E.write_specification
    ),
    "devis-refuse": _quote_refusal,
    "version-proposee": _release_proposal,
    "version-refusee": _decision(
        S.RELEASE_PROPOSED, E.confirm_release, E.propose_release
    ),
    "fabrication": _manufacture,
    "annonce": _announcement,
    "cas-de-test": _test_case,
    "cas-importes": _imported_cases,
    "anomalie": _defect,
    "bilan": _report,
    "commentaire-grille": _grid_comment,
    "commentaire-cas": _case_page_comment,
    "qualification": _qualification,
    "livraison": _delivery,
    "plan-renvoye": _plan_review,
    "campagne-close": _campaign_close,
    "anomalie-rejetee": _defect_rejection,
    "plan-rouvert": _plan_reopening,
    "accord-refuse": _agreement_refusal,
}


def _assert_escaped(response, what: str, *, shown: bool = True) -> None:
    assert response.status_code == 200, f"{what} : {response.status_code}"
    page = response.content.decode()
    raw = [piece for piece in RAW_PIECES if piece in page]
    assert not raw, f"{what} : balisage tel quel {raw}"
    if shown:
        assert ESCAPED in page, f"{what} : le texte saisi n'y est pas (échappé)"


def _pdf_text(response, what: str) -> str:
    assert response.status_code == 200, f"{what} : {response.status_code}"
    assert response["Content-Type"] == "application/pdf", what
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    reader = PdfReader(io.BytesIO(content))
    for page in reader.pages:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        xobjects = xobjects.get_object() if xobjects is not None else {}
        images = [
            name
            for name in xobjects
            if xobjects[name].get_object().get("/Subtype") == "/Image"
        ]
        assert not images, f"{what} : image incorporée {images}"
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


@pytest.mark.parametrize("showcase", sorted(SHOWCASES))
def test_typed_markup_comes_back_as_text(staged, client, showcase):
    with _example():
        shown = SHOWCASES[showcase](client, staged)
        for username, url in shown.pages + shown.elsewhere:
            client.force_login(staged.user(username))
            if url.endswith(".pdf"):
                _pdf_text(client.get(url), url)
                continue
            _assert_escaped(
                client.get(url),
                f"{url} ({username})",
                shown=(username, url) in shown.pages,
            )
        for username, url in shown.pdfs:
            client.force_login(staged.user(username))
            text = _pdf_text(client.get(url), url)
            assert "".join(PAYLOAD.split()) in text, f"{url} : texte absent du PDF"
        mails = Notification.objects.all()
        for mail in mails:
            assert not any(piece in mail.body_html for piece in RAW_PIECES), mail.pk
            assert ESCAPED not in mail.body_text + mail.subject, mail.pk
        if showcase in MAILED:
            assert mails.filter(body_html__contains=ESCAPED).exists()
            assert mails.filter(body_text__contains=PAYLOAD).exists()
