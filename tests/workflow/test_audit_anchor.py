"""The audit journal's head anchored outside the table: a journal emptied or cut
short since the last anchor fails `verify_audit` even though its chain still holds."""

import io
import json
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from workflow import audit, tasks
from workflow.models import AuditEntry


@pytest.fixture
def anchors(settings, tmp_path):
    settings.TANDEM_AUDIT_ANCHOR_FILE = tmp_path / "ancres" / "audit-anchors.jsonl"
    return settings.TANDEM_AUDIT_ANCHOR_FILE


def _append(world, count: int) -> None:
    user = world.user("cd23.porteur")
    for number in range(count):
        audit.record("refus", by=user, path=f"/ancre/{number}")


def _remove(entries) -> None:
    """Remove journal entries as the table's owner could (on PostgreSQL the table
    refuses DELETE through a trigger: the owner can switch it off)."""
    if connection.vendor != "postgresql":
        entries.delete()
        return
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        entries.delete()
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_the_daily_anchor_writes_the_head_to_its_file_and_the_log(
    world, anchors, caplog
):
    _append(world, 3)
    last = AuditEntry.objects.order_by("-seq").first()

    with caplog.at_level(logging.INFO, logger="workflow.audit"):
        result = tasks.audit_anchor()

    (line,) = anchors.read_text().splitlines()
    assert json.loads(line)["seq"] == last.seq == result["seq"]
    assert json.loads(line)["hash"] == last.hash
    assert f"entrée n° {last.seq}, empreinte {last.hash}" in caplog.text
    assert "dernière ancre" in _verify()


def test_a_journal_emptied_after_its_anchor_fails_verification(world, anchors):
    _append(world, 3)
    tasks.audit_anchor()
    # The chain of an empty journal holds: only the anchor tells it was emptied.
    _remove(AuditEntry.objects.all())
    assert audit.verify().intact

    with pytest.raises(CommandError, match="tronqué ou vidé") as refused:
        _verify()
    assert "Journal d'audit altéré" in str(refused.value)


def test_a_journal_whose_tail_was_cut_fails_verification(world, anchors):
    _append(world, 4)
    tasks.audit_anchor()
    head = AuditEntry.objects.order_by("-seq").first().seq
    _remove(AuditEntry.objects.filter(seq__gt=head - 2))
    assert audit.verify().intact

    with pytest.raises(CommandError, match=f"entrée n° {head}, absente"):
        _verify()


def test_entries_appended_after_the_anchor_verify(world, anchors):
    _append(world, 2)
    tasks.audit_anchor()
    _append(world, 2)

    assert "retrouvée" in _verify()


def test_an_anchor_whose_hash_differs_fails_verification(world, anchors):
    _append(world, 2)
    anchor = audit.anchor_write()
    anchors.write_text(
        json.dumps({**anchor.as_dict(), "hash": "f" * 64}) + "\n", encoding="utf-8"
    )

    with pytest.raises(CommandError, match="réécrit"):
        _verify()


def test_no_new_anchor_over_a_journal_emptied_since_the_last_one(
    world, anchors, caplog
):
    _append(world, 2)
    tasks.audit_anchor()
    _remove(AuditEntry.objects.all())

    with (
        caplog.at_level(logging.ERROR, logger="workflow.tasks"),
        pytest.raises(audit.AnchorError),
    ):
        tasks.audit_anchor()

    assert len(anchors.read_text().splitlines()) == 1
    assert "Ancre du journal d'audit non écrite" in caplog.text
    with pytest.raises(CommandError, match="tronqué ou vidé"):
        _verify()


def test_without_an_anchor_file_the_chain_alone_is_checked(world, anchors):
    _append(world, 1)

    assert "aucune ancre" in _verify()


def test_an_unreadable_anchor_file_fails_verification(world, anchors):
    anchors.parent.mkdir()
    anchors.write_text("pas du json\n", encoding="utf-8")

    with pytest.raises(CommandError, match="illisible"):
        _verify()
