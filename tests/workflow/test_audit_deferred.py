"""The audit journal without a global stall: entries chained as the last statements
before COMMIT, refusals written apart and folded into the chain."""

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from workflow import audit
from workflow.db.journal import JournalQueueMixin
from workflow.models import AuditEntry, Heartbeat, RefusalEntry


def _paths(before: int) -> list[str]:
    return [
        entry.detail["path"]
        for entry in AuditEntry.objects.filter(seq__gt=before).order_by("seq")
    ]


def test_the_connection_carries_the_journal_queue():
    assert isinstance(connections[DEFAULT_DB_ALIAS], JournalQueueMixin)


def test_an_entry_is_chained_at_commit_not_when_recorded(world):
    user = world.user("cd23.porteur")
    before = AuditEntry.objects.count()

    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            entry = audit.record("transition", by=user, path="/a/")
        # No lock taken, no tail read, nothing written yet.
        assert len(queries) == 0
        assert entry.seq is None
        assert AuditEntry.objects.count() == before

    stored = AuditEntry.objects.get(seq=before + 1)
    assert (stored.pk, stored.hash, stored.actor) == (
        entry.pk,
        entry.hash,
        user.username,
    )
    assert entry.seq == before + 1
    assert audit.verify() == audit.Verdict(before + 1)


def test_the_chain_append_is_the_last_statement_of_the_transaction(world):
    user = world.user("cd23.porteur")

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        audit.record("transition", by=user, path="/lent/")
        # The slow work that follows the transition (a PDF stored, a message
        # queued) runs before the chain is touched.
        Heartbeat.objects.create(name="lent", seen_at=timezone.now())

    statements = [query["sql"] for query in queries]
    insert = next(
        i
        for i, sql in enumerate(statements)
        if "INSERT INTO" in sql and "auditentry" in sql
    )
    heartbeat = next(
        i for i, sql in enumerate(statements) if "workflow_heartbeat" in sql
    )
    assert heartbeat < insert
    assert all(
        sql.startswith(("RELEASE SAVEPOINT", "COMMIT"))
        for sql in statements[insert + 1 :]
    ), statements[insert:]


def test_an_entry_of_a_rolled_back_savepoint_is_dropped(world):
    user = world.user("cd23.porteur")
    before = AuditEntry.objects.count()

    with transaction.atomic():
        audit.record("transition", by=user, path="/garde/")
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record("transition", by=user, path="/annule/")
            raise RuntimeError("annulé")
        with transaction.atomic():
            audit.record("transition", by=user, path="/interne/")

    assert _paths(before) == ["/garde/", "/interne/"]
    assert audit.verify().intact


def test_every_entry_of_a_rolled_back_transaction_is_dropped(world):
    user = world.user("cd23.porteur")
    before = AuditEntry.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("transition", by=user, path="/a/")
        with transaction.atomic():
            audit.record("transition", by=user, path="/b/")
        raise RuntimeError("annulé")
    audit.record("transition", by=user, path="/apres/")

    assert _paths(before) == ["/apres/"]
    assert audit.verify().intact


@pytest.mark.django_db(transaction=True)
def test_in_a_real_transaction_the_commit_chains_the_entries(world):
    user = world.user("cd23.porteur")
    before = AuditEntry.objects.count()

    with transaction.atomic():
        audit.record("transition", by=user, path="/1/")
        with transaction.atomic():
            audit.record("transition", by=user, path="/2/")
        assert AuditEntry.objects.count() == before
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("transition", by=user, path="/perdu/")
        raise RuntimeError("annulé")
    with transaction.atomic():
        audit.record("transition", by=user, path="/3/")
        with pytest.raises(RuntimeError), transaction.atomic():
            audit.record("transition", by=user, path="/perdu/")
            raise RuntimeError("annulé")

    assert _paths(before) == ["/1/", "/2/", "/3/"]
    assert not connection.journal_queue
    assert audit.verify() == audit.Verdict(before + 3)


def test_a_refusal_lands_in_its_table_then_in_the_chain(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    before = AuditEntry.objects.count()

    assert client.get("/no-such-page/").status_code == 404

    refusal = RefusalEntry.objects.get()
    assert (refusal.actor, refusal.actor_id, refusal.method, refusal.status) == (
        user.username,
        user.pk,
        "GET",
        404,
    )
    assert refusal.path == "/no-such-page/"
    assert AuditEntry.objects.count() == before

    assert audit.fold_refusals() == 1

    entry = AuditEntry.objects.get(seq=before + 1)
    assert (entry.action, entry.actor, entry.actor_id, entry.at) == (
        AuditEntry.Action.REFUSED,
        user.username,
        user.pk,
        refusal.at,
    )
    assert entry.detail == {
        "method": "GET",
        "path": "/no-such-page/",
        "status": 404,
        "refusal": refusal.pk,
    }
    assert audit.fold_refusals() == 0
    assert audit.verify() == audit.Verdict(before + 1)


def test_the_chain_verifies_after_deferred_immediate_and_folded_entries(world):
    user = world.user("cd23.porteur")
    before = AuditEntry.objects.count()
    refusals = [
        audit.record_refusal(by=user, method="GET", path=f"/refus/{n}/", status=403)
        for n in range(5)
    ]
    audit.record("transition", by=user, path="/immediat/")
    with transaction.atomic():
        audit.record("transition", by=user, path="/differe/")

    # In batches of two: the chain's lock is let go between them.
    assert audit.fold_refusals(batch=2) == 5
    audit.record_refusal(by=user, method="POST", path="/refus/5/", status=409)
    assert audit.fold_refusals() == 1

    assert _paths(before) == [
        "/immediat/",
        "/differe/",
        *(f"/refus/{n}/" for n in range(6)),
    ]
    folded = AuditEntry.objects.filter(detail__has_key="refusal").order_by("seq")
    assert [entry.detail["refusal"] for entry in folded][:5] == [r.pk for r in refusals]
    assert audit.verify() == audit.Verdict(before + 8)


def test_verify_audit_chains_the_waiting_refusals_first(world, capsys):
    user = world.user("cd23.porteur")
    audit.record("transition", by=user, path="/a/")
    audit.record_refusal(by=user, method="GET", path="/refus/", status=404)

    call_command("verify_audit", "--sans-ancre")

    out = capsys.readouterr().out
    assert "intègre : 2 entrée(s) vérifiée(s) (1 refus chaîné(s) d'abord)" in out
    assert AuditEntry.objects.filter(detail__path="/refus/").exists()


def test_the_daily_anchor_holds_the_waiting_refusals(world, settings, tmp_path):
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "ancres.jsonl"
    user = world.user("cd23.porteur")
    audit.record_refusal(by=user, method="GET", path="/refus/", status=404)

    anchor = audit.anchor_daily()

    assert (anchor.seq, anchor.hash) == audit.journal_head()
    assert AuditEntry.objects.get(seq=anchor.seq).detail["path"] == "/refus/"
