"""Background jobs run by the Celery worker and scheduled by Celery beat."""

import socket

from celery import shared_task
from django.core.mail.utils import DNS_NAME
from django.utils import timezone
from viewflow.workflow import timers

from workflow import notifications
from workflow.models import Heartbeat, Notification


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


@shared_task(name="workflow.tasks.send_notification", bind=True, max_retries=None)
def send_notification(self, pk: int) -> str:
    """Send one notification if this worker can claim it; retry SMTP errors.

    The row decides when to give up (notifications.MAX_ATTEMPTS), not Celery.
    """
    # The SMTP greeting needs this host's name; its first lookup can take seconds:
    # done before the claim, it does not eat into the lease.
    DNS_NAME.get_fqdn()
    if not notifications.claim(pk):
        return "deja_traitee"
    try:
        return notifications.deliver(pk)
    except notifications.SendingFailed as failure:
        if failure.retry_in is None:
            return Notification.State.FAILED
        raise self.retry(exc=failure.error, countdown=failure.retry_in) from failure


@shared_task(name="workflow.tasks.send_event")
def send_event(event: str) -> int:
    """Queue the sending of every pending message of an event."""
    pks = list(
        Notification.objects.filter(
            event=event, state=Notification.State.PENDING
        ).values_list("pk", flat=True)
    )
    for pk in pks:
        send_notification.delay(pk)
    return len(pks)


@shared_task(name="workflow.tasks.relay_notifications")
def relay_notifications() -> int:
    """Hand back to the workers what was left unsent (lost message, dead worker)."""
    pks = list(notifications.due_for_relay())
    for pk in pks:
        send_notification.delay(pk)
    return len(pks)


@shared_task(name="workflow.tasks.deadline_messages")
def deadline_messages() -> int:
    """Send the day's deadline reminders and escalations (at most once each)."""
    from workflow.reminders import send_deadline_messages

    return send_deadline_messages()
