"""The notification outbox: writing messages with the state change, sending them once.

`notify()` is called by services inside their transaction: the rows exist if and
only if the state change does. Sending happens after commit, in Celery:

- a row is *claimed* by one conditional UPDATE (pending → sending, with a lease);
  only the worker that claimed it sends it, so two workers, a retry and the relay
  can never send the same row at the same time;
- a sent row is never claimed again: a duplicated broker message or a late retry
  finds nothing to do;
- a row whose worker died holds an expired lease: the periodic relay hands it to a
  worker again, as it does rows whose broker message was lost.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from workflow import statements
from workflow.models import DeliveryAttempt, Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Messages carrying a secret (a reset link, an enrolment code): their text is
# wiped from the outbox once sent.
SECRET_KINDS = frozenset({"password_reset", "enrolment_code"})
WIPED = "(contenu confidentiel effacé après l'envoi)"
SENDING_ERRORS = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class Recipient:
    email: str
    user: object | None = None


# What each kind of notification is called on the notifications page: the engine's
# own kinds here, each process app's from its AppConfig.ready().
KIND_LABELS: dict[str, object] = {
    "event": _("Avancement d'une demande"),
    "deadline_rappel": _("Rappel d'échéance"),
    "deadline_relance": _("Échéance dépassée"),
    "role_request": _("Rôle de signature"),
    "account_invite": _("Création de compte"),
    "password_reset": _("Réinitialisation du mot de passe"),
    "enrolment_code": _("Code de double authentification"),
    "task_reassigned": _("Tâche attribuée"),
}


def register_notification_kinds(labels: dict) -> None:
    """Name a process app's kinds of notification (its AppConfig.ready())."""
    KIND_LABELS.update(labels)


def kind_label(kind: str) -> str:
    """The kind's French name (its code when no app named it)."""
    return str(KIND_LABELS.get(kind, kind))


def _render_plain(name: str, context: dict) -> str:
    """A plain-text template, not HTML-escaped: a subject or a text body shows
    « l'accord » and what users typed (`<b>` included) as they wrote it."""
    template = engines["django"].engine.get_template(name)
    return template.render(Context(context, autoescape=False))


def notify(
    *,
    event: str,
    kind: str,
    organisation,
    recipients,
    context: dict,
    link: str = "",
) -> int:
    """Write the notification rows of an event (in the caller's transaction).

    Recipients are deduplicated by address; an event already notified to an
    address is not notified again. Returns how many rows were new.
    """
    unique: dict[str, Recipient] = {}
    for recipient in recipients:
        email = (recipient.email or "").strip().lower()
        if email and (email not in unique or unique[email].user is None):
            unique[email] = Recipient(email, recipient.user)
    if not unique:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        context = {**context, "link": link, "site_url": settings.TANDEM_SITE_URL}
        subject = " ".join(
            _render_plain(f"notifications/{kind}.subject.txt", context).split()
        )
        text = _render_plain(f"notifications/{kind}.txt", context)
        html = render_to_string(f"notifications/{kind}.html", context)
    already = set(
        Notification.objects.filter(
            event=event, recipient_email__in=unique
        ).values_list("recipient_email", flat=True)
    )
    rows = [
        Notification(
            event=event,
            kind=kind,
            organisation=organisation,
            recipient_email=email,
            recipient_user=recipient.user,
            subject=subject[:300],
            body_text=text,
            body_html=html,
            link=link,
        )
        for email, recipient in unique.items()
        if email not in already
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(lambda: _enqueue(event))
    return len(rows)


def _enqueue(event: str) -> None:
    """Hand the event's messages to Celery; if the broker is down the relay will."""
    from workflow.tasks import send_event

    try:
        send_event.delay(event)
    except Exception:  # the relay picks the rows up: nothing is lost
        logger.warning("Notification %s non transmise au broker", event, exc_info=True)


def lease() -> timedelta:
    """How long a claim holds: a worker dead for longer loses its rows."""
    return timedelta(seconds=settings.TANDEM_NOTIFICATION_LEASE_SECONDS)


def retry_delay(retries: int) -> int:
    """Seconds before retrying after an SMTP error: doubled each time, capped at 1 h."""
    return min(settings.TANDEM_NOTIFICATION_RETRY_SECONDS * 2**retries, 3600)


def claim(pk: int) -> bool:
    """Take a row for sending; False if it is sent, failed, waiting for its retry
    time or held by a live lease."""
    now = timezone.now()
    return bool(
        Notification.objects.filter(pk=pk)
        .filter(
            Q(state=Notification.State.PENDING)
            & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            | Q(state=Notification.State.SENDING, claimed_until__lt=now)
        )
        .update(
            state=Notification.State.SENDING,
            claimed_until=now + lease(),
            attempts=F("attempts") + 1,
        )
    )


class SendingFailed(Exception):
    """The SMTP server refused or could not be reached; the attempt is recorded.

    `retry_in` is the back-off in seconds, or None when the row gave up.
    """

    def __init__(self, error: Exception, retry_in: int | None):
        super().__init__(str(error))
        self.error = error
        self.retry_in = retry_in


def deliver(pk: int) -> str:
    """Send one claimed notification and record the attempt. Returns the new state.

    On an SMTP error the row goes back to pending with a retry time (or to failed
    after MAX_ATTEMPTS) and SendingFailed is raised for the caller to retry.
    """
    notification = Notification.objects.get(pk=pk)
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        to=[notification.recipient_email],
        headers={"Message-ID": notification.message_id},
    )
    message.attach_alternative(notification.body_html, "text/html")
    try:
        message.send()
    except SENDING_ERRORS as error:
        give_up = notification.attempts >= MAX_ATTEMPTS
        retry_in = None if give_up else retry_delay(notification.attempts - 1)
        with transaction.atomic():
            DeliveryAttempt.objects.create(
                notification=notification, succeeded=False, error=repr(error)[:2000]
            )
            Notification.objects.filter(pk=pk).update(
                state=(
                    Notification.State.FAILED if give_up else Notification.State.PENDING
                ),
                claimed_until=None,
                retry_at=(
                    None if give_up else timezone.now() + timedelta(seconds=retry_in)
                ),
            )
        raise SendingFailed(error, retry_in) from error
    wiped = (
        {"body_text": WIPED, "body_html": WIPED}
        if notification.kind in SECRET_KINDS
        else {}
    )
    with transaction.atomic():
        DeliveryAttempt.objects.create(notification=notification, succeeded=True)
        Notification.objects.filter(pk=pk).update(
            state=Notification.State.SENT,
            sent_at=timezone.now(),
            claimed_until=None,
            retry_at=None,
            **wiped,
        )
    return Notification.State.SENT


def due_for_relay():
    """Rows a worker should have sent: pending for over one relay period after
    their creation or retry time (the broker message was lost), or held by a dead
    worker's lease."""
    now = timezone.now()
    late = now - timedelta(seconds=settings.TANDEM_NOTIFICATION_RELAY_SECONDS)
    pending = Q(state=Notification.State.PENDING)
    return Notification.objects.filter(
        pending & Q(retry_at__isnull=True, created_at__lt=late)
        | pending & Q(retry_at__lt=late)
        | Q(state=Notification.State.SENDING, claimed_until__lt=now)
    ).values_list("pk", flat=True)


def _unread_sql(connection) -> str:
    column = statements.columns(Notification, connection)
    return (
        f"SELECT COUNT(*) FROM {statements.table(Notification, connection)}"  # noqa: S608 - names from the model
        f" WHERE {column['recipient_user']} = %s AND {column['read_at']} IS NULL"
    )


def unread_count(user) -> int:
    """In-app notifications the user has not read yet (every page of the shell
    shows it: a statement written once, workflow/statements.py)."""
    if not user.is_authenticated:
        return 0
    connection, sql = statements.prepared("unread", Notification, _unread_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        return cursor.fetchone()[0]
