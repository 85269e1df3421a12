"""No global stall on the audit journal, on PostgreSQL: a transaction held open after
its transition was journalled makes no other request wait for the chain's lock."""

import threading

import pytest
from django.db import connection, transaction

from contacts.models import Role
from evolutions import services
from evolutions.models import ChangeRequest
from tests.integration.conftest import THREADS, race
from workflow import audit
from workflow.models import AuditEntry, RefusalEntry

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A bounded wait on an event, never a pause: the writes below take milliseconds.
BOUND = 10


def _draft(world, porteur) -> ChangeRequest:
    return services.change_request_create(
        by=porteur,
        organisation=world.creuse,
        title="Besoin",
        kind="technique",
        data_flows=["DSG"],
        description="Détail",
    )


def _in_thread(action) -> tuple[threading.Event, list]:
    """Start `action` in a thread on its own connection; the event is set when it
    has finished, the list then holds its result or exception."""
    done, outcome = threading.Event(), []

    def run():
        try:
            outcome.append(action())
        except Exception as exc:  # asserted on by the test
            outcome.append(exc)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, outcome


def _transitions_of(cr) -> int:
    return AuditEntry.objects.filter(
        action=AuditEntry.Action.TRANSITION, subject_id=str(cr.pk)
    ).count()


def test_a_slow_transaction_stalls_no_refusal_download_or_transition(world, client):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    slow_cr, other_cr = _draft(world, porteur), _draft(world, porteur)
    journalled, release = threading.Event(), threading.Event()

    def slow_transition():
        with transaction.atomic():
            services.change_request_submit(pk=slow_cr.pk, by=porteur)  # journalled
            journalled.set()
            # The slow work that follows (a report's PDF): the transaction stays
            # open until the test has checked everything else went through.
            release.wait(timeout=60)
        return "soumise"

    slow_done, slow_outcome = _in_thread(slow_transition)
    try:
        assert journalled.wait(timeout=BOUND)

        intruder = world.client_user(world.moselle, Role.PORTEUR_DEMANDE)
        client.force_login(intruder)
        refused, refusal = _in_thread(lambda: client.get(other_cr.get_absolute_url()))
        assert refused.wait(timeout=BOUND), "le refus attend le journal"
        assert refusal[0].status_code == 404

        downloaded, _download = _in_thread(
            lambda: audit.record(
                AuditEntry.Action.DOWNLOAD,
                by=porteur,
                subject=other_cr,
                path="/piece/",
                filename="note.pdf",
                sha256="0" * 64,
            )
        )
        assert downloaded.wait(timeout=BOUND), "le téléchargement attend le journal"

        submitted, _submit = _in_thread(
            lambda: services.change_request_submit(pk=other_cr.pk, by=porteur)
        )
        assert submitted.wait(timeout=BOUND), "une autre transition attend le journal"

        folded, fold = _in_thread(audit.fold_refusals)
        assert folded.wait(timeout=BOUND), "le chaînage des refus attend le journal"
        assert fold == [1]

        # All of it chained while the slow transaction is still open, without it.
        assert not slow_done.is_set()
        assert _transitions_of(other_cr) == 1
        assert _transitions_of(slow_cr) == 0
        assert AuditEntry.objects.filter(
            action=AuditEntry.Action.REFUSED, actor=intruder.username
        ).exists()
    finally:
        release.set()
        slow_done.wait(timeout=BOUND)

    assert slow_outcome == ["soumise"]
    # Chained at its COMMIT, after the writes that committed meanwhile.
    slow_entry = AuditEntry.objects.get(
        action=AuditEntry.Action.TRANSITION, subject_id=str(slow_cr.pk)
    )
    assert slow_entry.seq == AuditEntry.objects.latest("seq").seq
    assert audit.verify() == audit.Verdict(AuditEntry.objects.count())


def test_refusals_written_while_folding_are_all_chained_once_in_order(world):
    user = world.user("cd23.porteur")

    def refuse_and_fold():
        for number in range(10):
            audit.record_refusal(
                by=user, method="GET", path=f"/course/{number}/", status=404
            )
            if number % 3 == 0:
                audit.fold_refusals(batch=4)
        return "ok"

    assert race(refuse_and_fold) == ["ok"] * THREADS
    audit.fold_refusals()

    folded = [
        detail["refusal"]
        for detail in AuditEntry.objects.filter(detail__has_key="refusal")
        .order_by("seq")
        .values_list("detail", flat=True)
    ]
    assert folded == list(
        RefusalEntry.objects.order_by("id").values_list("id", flat=True)
    )
    assert len(folded) == THREADS * 10
    assert audit.verify() == audit.Verdict(AuditEntry.objects.count())
