"""The tamper-evident audit journal: every transition, signature, generated document,
download and refused access, appended to a hash chain.

Each entry's hash is an HMAC-SHA256, under a server-side key, of its content and of
the previous entry's hash: editing, removing or reordering one entry breaks the chain
from there on, and nobody without the key can forge a consistent chain. Entries are
appended in the caller's transaction (a transition and its entry commit together),
one writer at a time (a transaction-scoped lock on PostgreSQL; SQLite's IMMEDIATE
transactions already serialise writers). On PostgreSQL the table refuses UPDATE and
DELETE (migration workflow 0003).
"""

import hashlib
import hmac
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from workflow.models import AuditEntry

GENESIS = "0" * 64
# Key of the PostgreSQL advisory lock that serialises appends ("TANDEMAU").
_APPEND_LOCK = 0x54414E44454D4155


def _key() -> bytes:
    return settings.TANDEM_AUDIT_KEY.encode()


def _canonical(entry: AuditEntry) -> bytes:
    return json.dumps(
        [
            entry.seq,
            entry.at.isoformat(),
            entry.action,
            entry.actor_id,
            entry.actor,
            entry.organisation,
            entry.subject_type,
            entry.subject_id,
            entry.detail,
            entry.prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def seal(entry: AuditEntry) -> str:
    """The entry's hash: HMAC-SHA256 of its canonical form under the audit key."""
    return hmac.new(_key(), _canonical(entry), hashlib.sha256).hexdigest()


def _organisation_code(obj, depth: int = 4) -> str:
    """The code of the organisation an object belongs to, found through its
    foreign keys (an attachment → its change request → its organisation)."""
    if obj is None or depth == 0:
        return ""
    if hasattr(obj, "organisation_id"):
        return getattr(obj.organisation, "code", "")
    for field in obj._meta.concrete_fields:
        if field.is_relation and field.many_to_one and not field.null:
            code = _organisation_code(getattr(obj, field.name), depth - 1)
            if code:
                return code
    return ""


def _subject_fields(subject) -> tuple[str, str, str]:
    if subject is None:
        return "", "", ""
    return subject._meta.label_lower, str(subject.pk), _organisation_code(subject)


def journal_tail() -> tuple[int, str]:
    """Lock the journal against other appends until the transaction ends, and
    return its last entry's seq and hash (0 and GENESIS when it is empty)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK])
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, GENESIS)


def record(action: str, *, by=None, subject=None, organisation="", **detail):
    """Append one entry, in the caller's transaction if there is one.

    `detail` holds strings, integers and booleans only (they are hashed as JSON).
    """
    subject_type, subject_id, subject_organisation = _subject_fields(subject)
    actor_id = by.pk if by is not None and by.is_authenticated else None
    with transaction.atomic():
        last_seq, prev_hash = journal_tail()
        entry = AuditEntry(
            seq=last_seq + 1,
            at=timezone.now(),
            action=action,
            actor_id=actor_id,
            actor=by.get_username() if actor_id else "",
            organisation=organisation or subject_organisation,
            subject_type=subject_type,
            subject_id=subject_id,
            detail={key: value for key, value in detail.items() if value is not None},
            prev_hash=prev_hash,
        )
        entry.hash = seal(entry)
        entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class Verdict:
    entries: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify() -> Verdict:
    """Walk the chain in order; the first entry that does not hold breaks it."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return Verdict(count, expected_seq, "entrée manquante")
        if entry.prev_hash != prev_hash:
            return Verdict(count, entry.seq, "chaînage rompu avec l'entrée précédente")
        if not hmac.compare_digest(entry.hash, seal(entry)):
            return Verdict(count, entry.seq, "contenu modifié (empreinte invalide)")
        expected_seq, prev_hash, count = entry.seq + 1, entry.hash, count + 1
    return Verdict(count)
