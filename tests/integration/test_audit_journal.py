"""The audit journal on PostgreSQL: append-only table, one chain under contention."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from tests.integration.conftest import THREADS, race
from workflow import audit
from workflow.models import AuditEntry, RefusalEntry

pytestmark = pytest.mark.integration


@pytest.mark.django_db
def test_the_table_refuses_update_and_delete(world):
    audit.record("refus", by=world.user("cd23.porteur"), path="/x/")

    for statement in (
        "UPDATE workflow_auditentry SET actor = 'quelquun'",
        "DELETE FROM workflow_auditentry",
    ):
        with (
            pytest.raises(DatabaseError, match="ajout seul"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with pytest.raises(DatabaseError, match="ajout seul"), transaction.atomic():
        AuditEntry.objects.update(actor="quelquun")
    assert AuditEntry.objects.get().actor == "cd23.porteur"


@pytest.mark.django_db
def test_the_refusals_waiting_to_be_chained_refuse_update_and_delete(world):
    user = world.user("cd23.porteur")
    audit.record_refusal(by=user, method="GET", path="/x/", status=404)

    for statement in (
        "UPDATE workflow_refusalentry SET actor = 'quelquun'",
        "DELETE FROM workflow_refusalentry",
    ):
        with (
            pytest.raises(DatabaseError, match="ajout seul"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert RefusalEntry.objects.get().actor == "cd23.porteur"


@pytest.mark.django_db
def test_verify_audit_fails_on_a_row_edited_by_hand(world):
    for number in range(3):
        audit.record("refus", by=world.user("cd23.porteur"), path=f"/x/{number}")
    call_command("verify_audit")

    # Only the table's owner can do this: switch the trigger off, edit, switch on.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE workflow_auditentry DISABLE TRIGGER ALL")
        cursor.execute(
            'UPDATE workflow_auditentry SET detail = \'{"path": "/y/"}\' WHERE seq = 2'
        )
        cursor.execute("ALTER TABLE workflow_auditentry ENABLE TRIGGER ALL")

    with pytest.raises(CommandError, match="entrée n° 2"):
        call_command("verify_audit")


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_make_one_unbroken_chain(world):
    user = world.user("cd23.porteur")
    start = AuditEntry.objects.count()

    def append_ten():
        for number in range(10):
            audit.record("refus", by=user, path=f"/concurrent/{number}")
        return "ok"

    assert race(append_ten) == ["ok"] * THREADS

    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, start + THREADS * 10 + 1))
    assert audit.verify() == audit.Verdict(start + THREADS * 10)


@pytest.mark.django_db(transaction=True)
def test_verify_audit_fails_on_a_journal_truncated_after_its_anchor(
    world, settings, tmp_path
):
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.jsonl"
    for number in range(3):
        audit.record("refus", by=world.user("cd23.porteur"), path=f"/x/{number}")
    anchor = audit.anchor_daily()
    call_command("verify_audit")

    # DELETE is refused by the trigger; the table's owner can still TRUNCATE it,
    # which leaves a chain (an empty one) that verifies.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE workflow_auditentry")
    assert audit.verify().intact

    with pytest.raises(CommandError, match=f"entrée n° {anchor.seq}, absente"):
        call_command("verify_audit")
    with pytest.raises(audit.AnchorError, match="tronqué ou vidé"):
        audit.anchor_daily()
