"""Background jobs run by the Celery worker and scheduled by Celery beat."""

import socket

from celery import shared_task
from django.utils import timezone
from viewflow.workflow import timers

from workflow.models import Heartbeat


@shared_task(name="workflow.tasks.heartbeat")
def heartbeat() -> str:
    """Record that the background worker ran (shown to administrators)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name="worker", defaults={"seen_at": now, "hostname": socket.gethostname()}
    )
    return now.isoformat()


@shared_task(name="workflow.tasks.fire_due_timers")
def fire_due_timers() -> dict[str, int]:
    """Fire viewflow's due timers (the OSS edition has no Celery integration)."""
    return {
        "timers": timers.fire_due_timers(),
        "start_timers": timers.fire_due_start_timers(),
        "conditions": timers.fire_due_conditions(),
    }
