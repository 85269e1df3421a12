"""Against the real services of production: PostgreSQL, Redis and a Celery worker."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from workflow.models import Heartbeat
from workflow.tasks import heartbeat

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def real_broker():
    """Send tasks to the real broker for this test (the suite runs them eagerly)."""
    from workflow.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def _test_database_url() -> str:
    """DATABASE_URL pointing at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.mark.django_db(transaction=True)
def test_real_celery_worker_runs_a_job_through_redis_into_postgresql(real_broker):
    queue = f"tandem-test-{uuid.uuid4().hex[:8]}"
    broker = os.environ["CELERY_BROKER_URL"]
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "workflow", "worker",
            "--pool=solo", "--queues", queue, "--loglevel=WARNING",
            "--without-mingle", "--without-gossip", "--hostname", f"{queue}@%h",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "workflow.settings",
            "DATABASE_URL": _test_database_url(),
            "CELERY_RESULT_BACKEND": broker,
        },
    )  # fmt: skip
    try:
        result = heartbeat.apply_async(queue=queue)
        finished_at = result.get(timeout=90)
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    beat = Heartbeat.objects.get(name="worker")
    assert beat.seen_at.isoformat() == finished_at
