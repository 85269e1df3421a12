"""The outbox with a real Celery worker on Redis and a real SMTP server.

Each notification is accepted by the SMTP server exactly once: with duplicated
broker messages, with the worker killed (SIGKILL) in the middle of a batch and
restarted, and with a server refusing twice before accepting.
"""

from collections import Counter

import pytest

from contacts.models import Role
from evolutions import services
from tests.integration.conftest import wait_until
from workflow.models import DeliveryAttempt, Notification
from workflow.tasks import send_event, send_notification

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EVENTS = 100


def _submit_needs_expressions(world, count: int) -> list:
    """Submit `count` needs expressions: two messages each (contact, mailbox)."""
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    requests = []
    for number in range(count):
        cr = services.change_request_create(
            by=porteur,
            organisation=world.creuse,
            title=f"Besoin {number}",
            kind="technique",
            data_flows=["DSG"],
            description="Détail du besoin",
        )
        services.change_request_submit(pk=cr.pk, by=porteur)
        requests.append(cr)
    return requests


def _all_sent() -> bool:
    return not Notification.objects.exclude(state=Notification.State.SENT).exists()


def _assert_each_accepted_exactly_once(smtp_server):
    rows = list(Notification.objects.all())
    expected = Counter({row.message_id: 1 for row in rows})
    assert smtp_server.counts() == expected
    succeeded = Counter(
        DeliveryAttempt.objects.filter(succeeded=True).values_list(
            "notification_id", flat=True
        )
    )
    assert succeeded == Counter({row.pk: 1 for row in rows})


def test_a_hundred_events_each_message_sent_exactly_once(
    world, start_worker, smtp_server
):
    Notification.objects.all().delete()
    start_worker(smtp_port=smtp_server.port)

    _submit_needs_expressions(world, EVENTS)
    rows = Notification.objects.count()
    assert rows == 2 * EVENTS
    wait_until(_all_sent, timeout=180, what="envoi des 200 messages")

    # Duplicated broker messages, for every event and every row: nothing more goes.
    pks = Notification.objects.values_list("pk", flat=True)
    replays = [send_notification.delay(pk) for pk in pks]
    assert {replay.get(timeout=60) for replay in replays} == {"deja_traitee"}
    events = set(Notification.objects.values_list("event", flat=True))
    assert len(events) == EVENTS
    assert {send_event.delay(event).get(timeout=60) for event in events} == {0}
    _assert_each_accepted_exactly_once(smtp_server)


def test_worker_killed_mid_batch_and_restarted_sends_each_exactly_once(
    world, start_worker, smtp_server
):
    Notification.objects.all().delete()
    smtp_server.hold_at = 60  # the 60th message is in its DATA when the kill comes
    # One process: the held message is the only one in flight, so the kill cannot
    # fall between another message's "250 OK" and its row marked sent (the one
    # window README owns up to).
    first = start_worker(smtp_port=smtp_server.port, concurrency=1)

    _submit_needs_expressions(world, EVENTS)
    assert smtp_server.holding.wait(timeout=180), "le 60e message n'est pas arrivé"
    first.kill()
    smtp_server.release.set()
    accepted_before = sum(smtp_server.counts().values())
    assert 0 < accepted_before < 2 * EVENTS
    in_flight = Notification.objects.filter(state=Notification.State.SENDING).count()
    assert in_flight >= 1  # the held message at least: its worker died holding it

    smtp_server.resume()
    second = start_worker(smtp_port=smtp_server.port, beat=True)  # beat: the relay
    wait_until(_all_sent, timeout=180, what="reprise après SIGKILL")
    second.stop()  # warm shutdown: whatever it was running has finished

    _assert_each_accepted_exactly_once(smtp_server)


def test_smtp_failing_twice_then_accepting_sends_once_with_three_attempts(
    world, start_worker, smtp_server
):
    Notification.objects.all().delete()
    mailbox = "flux-pmi.projet@cnaf.fr"  # annexe 3: the needs expressions mailbox
    smtp_server.failures_left[mailbox] = 2
    start_worker(smtp_port=smtp_server.port)

    _submit_needs_expressions(world, 1)
    wait_until(_all_sent, timeout=120, what="envoi après deux refus")

    row = Notification.objects.get(recipient_email=mailbox)
    attempts = list(row.delivery_attempts.values_list("succeeded", flat=True))
    assert attempts == [False, False, True]
    assert row.attempts == 3
    assert smtp_server.refused.count(row.message_id) == 2
    _assert_each_accepted_exactly_once(smtp_server)
