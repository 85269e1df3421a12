"""Health of a Tandem installation, for a monitoring probe: `/sante/`.

Four checks, each answered with its state and, for the background processes, the age
in seconds of their last sign of life:

- the database answers a query;
- the broker accepts a connection (Redis: within 2 s; the embedded filesystem
  transport: its message folder exists and is writable);
- the worker ran `workflow.tasks.heartbeat`, which beat sends every 60 s (so a stale
  worker may also mean a dead beat or broker);
- beat itself ticked: its scheduler (`BeatScheduler`, CELERY_BEAT_SCHEDULER) writes
  the "beat" heartbeat straight to the database, with no broker or worker involved,
  which tells a dead beat from a dead worker.

A heartbeat older than TANDEM_HEALTH_STALE_SECONDS is stale. The answer is 200 when
every check is "ok", else 503. It holds no business data, no counts, no host names
and no error messages (which could name a server or a password).
"""

import logging
import os
import socket
import time

from celery import beat
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

WORKER = "worker"
BEAT = "beat"
OK, DOWN, STALE, NEVER_SEEN = "ok", "en_panne", "trop_ancien", "jamais_vu"
BROKER_TIMEOUT_SECONDS = 2


def database_state() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return DOWN
    return OK


def broker_state() -> str:
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    if settings.CELERY_BROKER_URL.startswith("filesystem:"):
        folder = options.get("data_folder_in", "")
        usable = os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)
        return OK if usable else DOWN
    from celery import current_app as app  # the project's Celery app

    connection = app.connection_for_write(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options={
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
        },
    )
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS
        )
    except Exception:  # any failure to connect, whatever the transport raises
        return DOWN
    finally:
        connection.release()
    return OK


def heartbeat_check(name: str, now) -> dict:
    """The state of a heartbeat and its age in seconds."""
    # Imported here: beat loads this module by name (its scheduler), possibly before
    # Django's apps are ready.
    from workflow.models import Heartbeat

    try:
        seen_at = (
            Heartbeat.objects.filter(name=name)
            .values_list("seen_at", flat=True)
            .first()
        )
    except DatabaseError:
        return {"etat": DOWN, "age_secondes": None}
    if seen_at is None:
        return {"etat": NEVER_SEEN, "age_secondes": None}
    age = max(0, int((now - seen_at).total_seconds()))
    state = OK if age <= settings.TANDEM_HEALTH_STALE_SECONDS else STALE
    return {"etat": state, "age_secondes": age}


def report() -> dict:
    """Every check, and whether all are ok."""
    now = timezone.now()
    database = database_state()
    checks = {"base_de_donnees": {"etat": database}, "broker": {"etat": broker_state()}}
    for name in (WORKER, BEAT):
        if database == OK:
            checks[name] = heartbeat_check(name, now)
        else:
            checks[name] = {"etat": DOWN, "age_secondes": None}
    healthy = all(check["etat"] == OK for check in checks.values())
    return {
        "etat": OK if healthy else DOWN,
        "seuil_secondes": settings.TANDEM_HEALTH_STALE_SECONDS,
        "verifications": checks,
    }


@require_safe
@never_cache
def health(request):
    """`/sante/`: 200 when the database, broker, worker and beat are fine, else 503."""
    body = report()
    return JsonResponse(
        body,
        status=200 if body["etat"] == OK else 503,
        json_dumps_params={"ensure_ascii": False},
    )


class BeatScheduler(beat.PersistentScheduler):
    """Celery beat's own scheduler, which also writes the "beat" heartbeat.

    Written at most every BEAT_RECORD_SECONDS, from beat's process, so that the
    heartbeat says beat is alive even while the broker or the worker is not. A
    database error is logged and beat carries on with its schedule.
    """

    BEAT_RECORD_SECONDS = 30

    def __init__(self, *args, **kwargs):
        self._recorded_at = None
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        clock = time.monotonic()
        if self._recorded_at is None or clock - self._recorded_at >= (
            self.BEAT_RECORD_SECONDS
        ):
            self.record_beat()
            self._recorded_at = clock
        return super().tick(*args, **kwargs)

    @staticmethod
    def record_beat() -> None:
        from workflow.models import Heartbeat

        # A long-lived process: drop a connection the database has since closed.
        close_old_connections()
        try:
            Heartbeat.objects.update_or_create(
                name=BEAT,
                defaults={"seen_at": timezone.now(), "hostname": socket.gethostname()},
            )
        except DatabaseError:
            logger.warning("battement de beat non enregistré", exc_info=True)
        finally:
            close_old_connections()
