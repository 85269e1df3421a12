"""Against the real services of production: PostgreSQL, Redis and a Celery worker."""

import pytest
from django.db import connection

from workflow.models import Heartbeat
from workflow.tasks import heartbeat

pytestmark = pytest.mark.integration


@pytest.mark.django_db
def test_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
def test_real_celery_worker_runs_a_job_through_redis_into_postgresql(start_worker):
    start_worker()

    finished_at = heartbeat.delay().get(timeout=90)

    beat = Heartbeat.objects.get(name="worker")
    assert beat.seen_at.isoformat() == finished_at
