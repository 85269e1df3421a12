"""Shared fixtures: the supplier, clients 23 and 57, one user per role on each side."""

import os

import pytest
from celery.result import _set_task_join_will_block
from django.contrib.auth import get_user_model
from django.urls import get_resolver
from django.utils import translation
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from contacts.models import Organisation, Role
from contacts.services import reference_data_load
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
