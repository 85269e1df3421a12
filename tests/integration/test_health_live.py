"""`/sante/` against the real services: PostgreSQL, Redis, a worker and its beat."""

import time

import pytest

from workflow import health
from workflow.models import Heartbeat
from workflow.tasks import heartbeat

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_health_is_ok_once_the_worker_and_beat_have_run(client, start_worker):
    start_worker(beat=True)

    heartbeat.delay().get(timeout=90)  # beat sends it every minute; asked at once
    deadline = time.monotonic() + 60
    while not Heartbeat.objects.filter(name=health.BEAT).exists():
        assert time.monotonic() < deadline, "beat n'a pas écrit son battement"
        time.sleep(0.2)  # beat writes at its first tick, a second or so after start
    response = client.get("/sante/")

    assert response.status_code == 200, response.content
    checks = response.json()["verifications"]
    assert {name: check["etat"] for name, check in checks.items()} == dict.fromkeys(
        ("base_de_donnees", "broker", "worker", "beat"), "ok"
    )
