"""Background jobs run by the Celery worker and scheduled by Celery beat."""

import logging
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


# --- scheduled backups and the audit journal's anchor (README, "Backup and restore")

logger = logging.getLogger(__name__)


def _scheduled_backup(kind: str) -> str:
    """One scheduled backup; a failure is logged as an error (and the task fails)."""
    from workflow.backup import backup_scheduled

    try:
        summary = backup_scheduled(kind)
    except Exception as error:
        logger.error(
            "Sauvegarde planifiée (%s) en échec : %s", kind, error, exc_info=True
        )
        raise
    Heartbeat.objects.update_or_create(
        name=f"backup-{kind}",
        defaults={"seen_at": timezone.now(), "hostname": socket.gethostname()},
    )
    logger.info(
        "Sauvegarde planifiée (%s) écrite et relue : %s (%s octets) ; %s ancienne(s) "
        "supprimée(s)",
        kind,
        summary.path,
        summary.archive_bytes,
        len(summary.removed),
    )
    return str(summary.path)


@shared_task(name="workflow.tasks.backup_daily")
def backup_daily() -> str:
    """The daily backup into TANDEM_BACKUP_DIR/daily (7 kept)."""
    return _scheduled_backup("daily")


@shared_task(name="workflow.tasks.backup_weekly")
def backup_weekly() -> str:
    """The weekly backup into TANDEM_BACKUP_DIR/weekly (5 kept)."""
    return _scheduled_backup("weekly")


@shared_task(name="workflow.tasks.audit_anchor")
def audit_anchor() -> dict:
    """Write the audit journal's head to the anchor file and the log, if the journal
    still holds the previous anchor; else log an error (and the task fails)."""
    from workflow import audit

    try:
        anchor = audit.anchor_daily()
    except Exception as error:
        logger.error("Ancre du journal d'audit non écrite : %s", error, exc_info=True)
        raise
    return anchor.as_dict()


@shared_task(name="workflow.tasks.audit_fold_refusals")
def audit_fold_refusals() -> int:
    """Chain into the audit journal the refusals answered since the last run (beat,
    every minute; the only writer besides verify_audit and the daily anchor)."""
    from workflow import audit

    return audit.fold_refusals()


@shared_task(name="workflow.tasks.purge_expired_sessions")
def purge_expired_sessions() -> int:
    """Delete the sessions past their expiry (Django's `clearsessions`): a session
    nobody can use any more keeps no trace of its user. Returns how many."""
    from workflow.models import UserSession

    deleted, _ = UserSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(name="workflow.tasks.purge_anonymous_refusals")
def purge_anonymous_refusals() -> int:
    """Delete the counts of anonymous refusals older than
    TANDEM_ANONYMOUS_REFUSAL_DAYS: with at most TANDEM_ANONYMOUS_REFUSAL_ROWS rows a
    day, the table stays bounded."""
    from datetime import timedelta

    from django.conf import settings

    from workflow.models import AnonymousRefusal

    oldest = timezone.localdate() - timedelta(
        days=settings.TANDEM_ANONYMOUS_REFUSAL_DAYS
    )
    deleted, _by_model = AnonymousRefusal.objects.filter(day__lt=oldest).delete()
    return deleted
