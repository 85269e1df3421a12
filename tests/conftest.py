"""Shared fixtures: the supplier, clients 23 and 57, one user per role on each side."""

import codecs
import csv
import io
import os

import openpyxl
import pytest
from celery.result import _set_task_join_will_block
from django.contrib.auth import get_user_model
from django.urls import get_resolver
from django.utils import timezone, translation
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from contacts.models import Organisation, Role
from contacts.services import reference_data_load
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from incidents.demo import incidents_demo_load
from recette import services as recette_services
from recette.demo import recette_demo_load
from workflow.demo import DEMO_PASSWORD, demo_data_load


def totp_code(user, *, confirmed: bool = True) -> str:
    """A code that the user's TOTP device (confirmed, or the one being enrolled)
    accepts now and has not seen yet: the current one, or the next step's when the
    current one was spent (the device tolerates one step), as a user would wait
    for the next code."""
    device = TOTPDevice.objects.get(user=user, confirmed=confirmed)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = clock.t()
    ahead = max(0, device.last_t + 1 - now)
    assert ahead <= device.tolerance, "every code of this period is spent"
    clock.drift += ahead
    return f"{clock.token():0{device.digits}d}"


def integration_services_available() -> bool:
    """PostgreSQL and Redis are configured (CI's second run)."""
    return os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get(
        "CELERY_BROKER_URL", ""
    ).startswith("redis")


def pytest_collection_modifyitems(config, items):
    if integration_services_available():
        return
    skip = pytest.mark.skip(
        reason="test d'intégration : DATABASE_URL (PostgreSQL) et "
        "CELERY_BROKER_URL (Redis) non définis"
    )
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _urls_loaded():
    """Build the URLconf once: flow nodes learn their URL namespace from it."""
    get_resolver().url_patterns  # noqa: B018


@pytest.fixture(autouse=True)
def _celery_join_flag_clear():
    """Each test starts with Celery's process-wide "joining a result would block"
    flag down. Eager mode raises it while a task runs and puts back the value it
    found: tasks run at once by several threads (races, the live server) can put
    back each other's raised value, and a later `.get()` on a real worker's result
    then fails with "Never call result.get() within a task!" (seen once in CI's
    PostgreSQL pass). The test process is never a Celery worker."""
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with translation.override("fr"):
        yield


@pytest.fixture
def world(db):
    """Reference data plus the demo accounts: one user per role on each side."""
    reference_data_load()
    demo_data_load()
    return World()


@pytest.fixture
def demo(world, settings, tmp_path):
    """The processes' demo data: requests of 23 and 57 at every step, 23's
    acceptance with a campaign half run and two defects, 57's signed, incidents of
    both at four steps (a module may define its own `demo`, which then takes
    precedence)."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    incidents_demo_load()
    return world


@pytest.fixture
def read_export():
    """Reads a download of workflow.exports into its rows, the header first: a CSV
    as French Excel reads it (BOM, « ; »), an XLSX as openpyxl does (empty cells
    as "")."""

    def read(response) -> list[list]:
        if response.streaming:
            content = b"".join(response.streaming_content)
        else:
            content = response.content
        if response["Content-Type"].startswith("text/csv"):
            assert content.startswith(codecs.BOM_UTF8)
            text = content.decode("utf-8-sig")
            return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        sheet = openpyxl.load_workbook(io.BytesIO(content)).active
        return [
            ["" if value is None else value for value in row]
            for row in sheet.iter_rows(values_only=True)
        ]

    return read


class World:
    """Handy access to the fixture's organisations and users."""

    password = DEMO_PASSWORD

    def __init__(self):
        self.supplier = Organisation.objects.get(code=Organisation.SUPPLIER_CODE)
        self.creuse = Organisation.objects.get(code="23")
        self.moselle = Organisation.objects.get(code="57")

    @staticmethod
    def user(username: str):
        return get_user_model().objects.get(username=username)

    def client_user(self, organisation: Organisation, role: Role):
        suffix = {
            Role.PORTEUR_DEMANDE: "porteur",
            Role.TESTEUR: "testeur",
            Role.DSI_CLIENT: "dsi",
        }[role]
        return self.user(f"cd{organisation.code}.{suffix}")


def campaign_with_cases(world, cases: int):
    """Client 23's acceptance (the demo loaded) taken to its first campaign, with
    `cases` one-step cases of a validated plan."""
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    plan = recette_services.plan_prepare(change_request_pk=cr.pk, by=moe)
    today = timezone.localdate()
    recette_services.plan_update(pk=plan.pk, by=moe, workload=3, start=today, end=today)
    for n in range(1, cases + 1):
        recette_services.case_add(
            pk=plan.pk,
            by=moe,
            reference=f"CT-{n:03d}",
            title=f"Cas {n}",
            steps=[("Agir", "Constater")],
        )
    recette_services.plan_submit(pk=plan.pk, by=moe)
    recette_services.plan_decide(pk=plan.pk, by=porteur, validated=True)
    recette_services.qualification_record(
        change_request_pk=cr.pk, by=moe, passed=True, on=today
    )
    return recette_services.delivery_record(
        change_request_pk=cr.pk, by=moe, on=today, environment="REC"
    )


@pytest.fixture
def campaign_with(world):
    """campaign_with_cases for this test's world: a function of the case count."""
    return lambda cases: campaign_with_cases(world, cases)


@pytest.fixture
def campaign(settings, tmp_path, campaign_with):
    """Client 23's first campaign, four cases, nothing run yet."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return campaign_with(4)
