"""The connection's health check before a request's first statement
(workflow/db/postgresql): no round trip while the connection is sound, a new
connection when the server has ended it."""

from unittest import mock

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.integration


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminated(pid: int) -> None:
    """End backend `pid` from another connection, and return once it is gone."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        # Bounded: the backend ends within milliseconds of the signal.
        for _ in range(10_000):
            gone = not other.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if gone:
                return
    raise AssertionError(f"backend {pid} still there")


@pytest.mark.django_db(transaction=True)
def test_a_sound_connection_is_checked_without_a_statement():
    _backend_pid()
    with mock.patch.object(
        type(connection.connection), "cursor", side_effect=AssertionError
    ):
        assert connection.is_usable()


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_request():
    assert connection.health_check_enabled
    first = _backend_pid()
    _terminated(first)

    assert not connection.is_usable()
    # What Django does when the next request starts: the check runs again before
    # its first statement, which gets a new connection instead of an error.
    connection.close_if_unusable_or_obsolete()
    second = _backend_pid()

    assert second != first
