"""Fixtures of the hostile-input tests: client 23's requests standing at every step
of both processes, built once per test module."""

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import translation

from tests.security.hostile.stage import _build_stage


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
