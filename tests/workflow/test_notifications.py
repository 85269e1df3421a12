"""The outbox: rows written with the state change, sent once, every attempt kept."""

import contextlib
import smtplib
from datetime import timedelta
from unittest import mock

from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from workflow import notifications
from workflow.models import DeliveryAttempt, Notification
from workflow.tasks import relay_notifications, send_event, send_notification


def test_submission_writes_one_row_per_recipient_in_the_same_transaction(
    world,
    django_capture_on_commit_callbacks,
    submit_request,
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cr = submit_request()

    rows = Notification.objects.filter(event__startswith=f"cr_submitted:{cr.pk}:")
    assert {n.recipient_email for n in rows} == {
        "cnaf.contact@demo.tandem.invalid",  # the role that must act
        "flux-pmi.projet@cnaf.fr",  # annexe 3: needs expressions mailbox
    }
    assert {n.state for n in rows} == {Notification.State.PENDING}
    assert rows.get(recipient_user=world.user("cnaf.contact"))
    assert len(callbacks) >= 1  # sending is queued only after commit
    assert mail.outbox == []


def test_rows_are_unique_per_event_and_recipient(world, submit_request):
    cr = submit_request()
    row = Notification.objects.filter(kind="cr_submitted").first()

    again = notifications.notify(
        event=row.event,
        kind="cr_submitted",
        organisation=cr.organisation,
        recipients=[notifications.Recipient(row.recipient_email.upper())],
        context={"cr": cr},
    )

    assert again == 0
    assert Notification.objects.filter(event=row.event).count() == 2


def test_sending_marks_sent_records_the_attempt_and_never_sends_twice(
    world,
    django_capture_on_commit_callbacks,
    submit_request,
):
    with django_capture_on_commit_callbacks(execute=True):
        cr = submit_request(title="<b>Gras</b> & co")

    assert len(mail.outbox) == 2
    message = mail.outbox[0]
    assert cr.reference in message.subject
    assert "Expression de besoin" in message.subject
    assert message.alternatives[0][1] == "text/html"
    assert "&lt;b&gt;Gras&lt;/b&gt;" in message.alternatives[0][0]
    assert {n.state for n in Notification.objects.all()} == {"envoye"}
    assert DeliveryAttempt.objects.filter(succeeded=True).count() == 2

    # A duplicated broker message, a late retry, the relay: nothing more is sent.
    for row in Notification.objects.all():
        assert send_notification.apply(args=[row.pk]).get() == "deja_traitee"
    send_event.apply(args=[row.event])
    relay_notifications.apply()
    assert len(mail.outbox) == 2


def test_smtp_failing_twice_then_accepting_sends_once_with_three_attempts(
    world,
    settings,
    submit_request,
):
    settings.TANDEM_NOTIFICATION_RETRY_SECONDS = 0  # the back-off has elapsed
    cr = submit_request()
    row = Notification.objects.filter(
        event__startswith=f"cr_submitted:{cr.pk}:"
    ).first()
    real_send = mail.EmailMessage.send
    failures = iter(
        [
            smtplib.SMTPServerDisconnected("coupure"),
            smtplib.SMTPDataError(451, "plus tard"),
        ]
    )

    def flaky(message, *args, **kwargs):
        error = next(failures, None)
        if error:
            raise error
        return real_send(message, *args, **kwargs)

    with mock.patch.object(mail.EmailMessage, "send", flaky):
        for _ in range(3):  # the worker's retries, one after the other
            # The real worker runs the retry after its back-off.
            with contextlib.suppress(smtplib.SMTPException, Retry):
                send_notification.apply(args=[row.pk], throw=True)

    row = Notification.objects.get(pk=row.pk)
    attempts = list(row.delivery_attempts.values_list("succeeded", flat=True))
    assert attempts == [False, False, True]
    assert (row.state, row.attempts) == ("envoye", 3)
    assert [m.to for m in mail.outbox] == [[row.recipient_email]]


def _failing_send(*args, **kwargs):
    raise smtplib.SMTPDataError(451, "plus tard")


def test_a_failed_row_waits_for_its_back_off_even_from_the_relay(
    world, settings, submit_request
):
    settings.TANDEM_NOTIFICATION_RETRY_SECONDS = 30
    settings.TANDEM_NOTIFICATION_RELAY_SECONDS = 60
    cr = submit_request()
    row = Notification.objects.filter(
        event__startswith=f"cr_submitted:{cr.pk}:"
    ).first()
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=1))
    Notification.objects.exclude(pk=row.pk).update(state=Notification.State.SENT)

    with mock.patch.object(mail.EmailMessage, "send", _failing_send):
        assert notifications.claim(row.pk)
        with contextlib.suppress(notifications.SendingFailed):
            notifications.deliver(row.pk)
    row.refresh_from_db()
    wait = (row.retry_at - timezone.now()).total_seconds()
    assert row.state == "a_envoyer" and 25 < wait <= 30

    # Neither a duplicated message nor the relay sends it before its retry time.
    assert not notifications.claim(row.pk)
    assert list(notifications.due_for_relay()) == []
    # Its retry message was lost: one relay period after the retry time, the relay.
    Notification.objects.filter(pk=row.pk).update(
        retry_at=timezone.now() - timedelta(seconds=61)
    )
    assert list(notifications.due_for_relay()) == [row.pk]
    relay_notifications.apply()
    assert Notification.objects.get(pk=row.pk).state == "envoye"


def test_back_off_doubles_and_the_row_gives_up_after_the_last_attempt(
    world, settings, submit_request
):
    settings.TANDEM_NOTIFICATION_RETRY_SECONDS = 30
    assert [notifications.retry_delay(n) for n in range(9)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600
    ]  # fmt: skip
    cr = submit_request()
    row = Notification.objects.filter(
        event__startswith=f"cr_submitted:{cr.pk}:"
    ).first()
    Notification.objects.filter(pk=row.pk).update(
        attempts=notifications.MAX_ATTEMPTS - 1
    )

    with mock.patch.object(mail.EmailMessage, "send", _failing_send):
        assert send_notification.apply(args=[row.pk]).get() == "echec"

    row.refresh_from_db()
    assert (row.state, row.attempts, row.retry_at) == (
        "echec",
        notifications.MAX_ATTEMPTS,
        None,
    )
    assert not notifications.claim(row.pk)
    assert row.pk not in list(notifications.due_for_relay())


def test_a_row_held_by_a_live_lease_is_not_sent_by_anyone_else(world, submit_request):
    cr = submit_request()
    row = Notification.objects.filter(
        event__startswith=f"cr_submitted:{cr.pk}:"
    ).first()

    assert notifications.claim(row.pk)
    assert not notifications.claim(row.pk)
    assert send_notification.apply(args=[row.pk]).get() == "deja_traitee"

    # The worker died: once its lease is over, the relay hands the row back.
    Notification.objects.filter(pk=row.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert row.pk in list(notifications.due_for_relay())
    relay_notifications.apply()
    assert Notification.objects.get(pk=row.pk).state == "envoye"


def test_relay_sends_rows_whose_broker_message_was_lost(world, submit_request):
    cr = submit_request()
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert relay_notifications.apply().get() == 2
    assert len(mail.outbox) == 2
    assert cr.reference in mail.outbox[0].subject


def test_delivery_message_goes_to_the_clients_dsi_webmaster_and_testers(world):
    from evolutions.demo import evolutions_demo_load
    from tests.conftest import campaign_with_cases as _campaign

    evolutions_demo_load()
    Notification.objects.all().delete()
    campaign = _campaign(world, cases=2)

    rows = Notification.objects.filter(kind="delivery_made")
    assert {n.recipient_email for n in rows} == {
        "cd23.dsi@demo.tandem.invalid",
        "webmaster.portail@cd23.demo.tandem.invalid",
        "cd23.testeur@demo.tandem.invalid",
        "cd23.porteur@demo.tandem.invalid",
    }
    assert {n.organisation.code for n in rows} == {"23"}
    for row in rows:  # nothing of another client in any message
        assert "Moselle" not in row.body_text and "EVO-57" not in row.body_text
        assert campaign.change_request.reference in row.subject


def test_in_app_list_shows_only_ones_own_and_counts_unread(
    world, client, submit_request
):
    cr = submit_request()
    contact = world.user("cnaf.contact")

    client.force_login(contact)
    home = client.get("/")
    assert home.context["unread_notifications"] == 1
    listing = client.get("/notifications/")
    assert cr.reference in listing.content.decode()
    # Opening the list reads nothing; « Tout marquer comme lu » does.
    assert client.get("/").context["unread_notifications"] == 1
    client.post("/notifications/lues/")
    assert client.get("/").context["unread_notifications"] == 0

    client.force_login(world.user("cd57.porteur"))
    other = client.get("/notifications/").content.decode()
    assert cr.reference not in other
