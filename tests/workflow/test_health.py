"""`/sante/`: the monitoring probe's page (workflow/health.py)."""

import os
import socket
from datetime import timedelta

import pytest
from celery import beat
from django.db import OperationalError
from django.utils import timezone

from tandem.celery import app
from workflow import health
from workflow.models import AnonymousRefusal, AuditEntry, Heartbeat
from workflow.models import UserSession as Session


@pytest.fixture
def embedded_broker(settings, tmp_path):
    """The embedded broker's message folder, in a folder of this test's own."""
    folder = tmp_path / "queue"
    folder.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
    }
    return folder


def _beats(*, worker_age: int = 10, beat_age: int = 5):
    now = timezone.now()
    for name, age in ((health.WORKER, worker_age), (health.BEAT, beat_age)):
        Heartbeat.objects.update_or_create(
            name=name,
            defaults={"seen_at": now - timedelta(seconds=age), "hostname": "srv-42"},
        )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_all_alive_answers_200_with_each_age_without_login(client, db, embedded_broker):
    _beats(worker_age=40, beat_age=12)

    response = client.get("/sante/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["etat"] == "ok"
    checks = body["verifications"]
    assert checks["base_de_donnees"] == {"etat": "ok"}
    assert checks["broker"] == {"etat": "ok"}
    assert checks["worker"]["etat"] == "ok"
    assert 40 <= checks["worker"]["age_secondes"] < 60
    assert checks["beat"]["etat"] == "ok"
    assert 12 <= checks["beat"]["age_secondes"] < 30


def test_a_stale_worker_answers_503(client, db, embedded_broker, settings):
    settings.TANDEM_HEALTH_STALE_SECONDS = 180
    _beats(worker_age=181)

    response = client.get("/sante/")

    assert response.status_code == 503
    body = response.json()
    assert body["etat"] == "en_panne"
    assert body["verifications"]["worker"]["etat"] == "trop_ancien"
    assert body["verifications"]["worker"]["age_secondes"] >= 181
    assert body["verifications"]["beat"]["etat"] == "ok"


def test_the_stale_threshold_is_a_setting(client, db, embedded_broker, settings):
    _beats(worker_age=100, beat_age=100)
    settings.TANDEM_HEALTH_STALE_SECONDS = 60

    assert client.get("/sante/").status_code == 503

    settings.TANDEM_HEALTH_STALE_SECONDS = 300
    assert client.get("/sante/").status_code == 200


def test_a_beat_never_seen_answers_503(client, db, embedded_broker):
    _beats()
    Heartbeat.objects.filter(name=health.BEAT).delete()

    response = client.get("/sante/")

    assert response.status_code == 503
    assert response.json()["verifications"]["beat"] == {
        "etat": "jamais_vu",
        "age_secondes": None,
    }


def test_a_missing_embedded_broker_folder_answers_503(client, db, embedded_broker):
    _beats()
    embedded_broker.rmdir()

    response = client.get("/sante/")

    assert response.status_code == 503
    assert response.json()["verifications"]["broker"] == {"etat": "en_panne"}


def test_an_unreachable_redis_answers_503_within_its_timeout(client, db, settings):
    _beats()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = client.get("/sante/")

    assert response.status_code == 503
    assert response.json()["verifications"]["broker"] == {"etat": "en_panne"}


@pytest.mark.integration
def test_a_reachable_redis_is_ok(client, db, settings):
    _beats()
    settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = client.get("/sante/")

    assert response.json()["verifications"]["broker"] == {"etat": "ok"}
    assert response.status_code == 200


class _DatabaseDown:
    def __getitem__(self, alias):
        return self

    def cursor(self):
        raise OperationalError("connection refused")


def test_a_database_down_answers_503(client, db, embedded_broker, monkeypatch):
    _beats()
    monkeypatch.setattr(health, "connections", _DatabaseDown())

    response = client.get("/sante/")

    assert response.status_code == 503
    checks = response.json()["verifications"]
    assert checks["base_de_donnees"] == {"etat": "en_panne"}
    assert checks["worker"]["etat"] == checks["beat"]["etat"] == "en_panne"
    assert "connection refused" not in response.content.decode()


def test_the_probe_is_neither_journaled_nor_a_session(client, db, embedded_broker):
    # Down (503) and up (200): neither writes the journal nor opens a session.
    for _ in range(2):
        response = client.get("/sante/")
        _beats()

    assert response.status_code == 200
    assert AuditEntry.objects.count() == 0
    assert AnonymousRefusal.objects.count() == 0
    assert Session.objects.count() == 0
    assert not response.cookies


def test_the_answer_names_no_host_and_holds_no_data(client, db, embedded_broker):
    _beats()

    response = client.get("/sante/")

    assert "srv-42" not in response.content.decode()
    assert set(response.json()) == {"etat", "seuil_secondes", "verifications"}
    assert set(response.json()["verifications"]) == {
        "base_de_donnees",
        "broker",
        "worker",
        "beat",
    }


def test_a_probe_on_the_host_itself_is_not_sent_to_https(
    client, db, embedded_broker, settings
):
    settings.SECURE_SSL_REDIRECT = True
    _beats()

    assert client.get("/sante/").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_only_reads_are_answered(client, db, embedded_broker):
    assert client.post("/sante/").status_code == 405


# Beat runs outside any transaction, and so do these tests: the scheduler closes its
# database connection between ticks, which a test transaction would not survive.
def test_beat_records_its_own_heartbeat_when_it_ticks(
    transactional_db, tmp_path, monkeypatch
):
    monkeypatch.setattr(beat.PersistentScheduler, "tick", lambda self, *a, **k: 1.0)
    scheduler = health.BeatScheduler(
        app=app, lazy=True, schedule_filename=str(tmp_path / "schedule")
    )

    assert scheduler.tick() == 1.0
    first = Heartbeat.objects.get(name=health.BEAT).seen_at
    assert timezone.now() - first < timedelta(seconds=30)
    scheduler.tick()  # within BEAT_RECORD_SECONDS: not written again

    assert Heartbeat.objects.get(name=health.BEAT).seen_at == first
    assert not Heartbeat.objects.filter(name=health.WORKER).exists()


def test_beat_is_the_scheduler_celery_uses(settings):
    assert app.conf.beat_scheduler == "workflow.health:BeatScheduler"


def test_beat_carries_on_when_the_database_is_down(transactional_db, monkeypatch):
    def refused(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(Heartbeat.objects, "update_or_create", refused)

    health.BeatScheduler.record_beat()  # logged, not raised

    assert not Heartbeat.objects.exists()
