"""The tamper-evident audit journal: every transition, signature, generated document,
download and refused access, appended to a hash chain.

Each entry's hash is an HMAC-SHA256, under a server-side key, of its content and of
the previous entry's hash: editing, removing or reordering one entry breaks the chain
from there on, and nobody without the key can forge a consistent chain. Entries are
chained one writer at a time (a transaction-scoped lock on PostgreSQL; SQLite's
IMMEDIATE transactions already serialise writers). On PostgreSQL the table refuses
UPDATE and DELETE (migration workflow 0003).

No global stall: the chain's lock is held for milliseconds, never across slow work.
- record() inside an application transaction queues its entry on the connection;
  the queue is chained as the last statements before that transaction's COMMIT
  (workflow.db.journal). A transition and its entry still commit or roll back
  together, and an entry recorded in a rolled-back savepoint is dropped with it.
  `seq` is therefore the order of the commits; `at` the time of the action.
- Refused accesses of logged-in users (AuditMiddleware) are one INSERT into
  RefusalEntry, without the chain's lock; fold_refusals() chains them in id order
  (beat every minute, verify_audit and the daily anchor before they read), each as
  a `refus` entry naming its row in `detail["refusal"]`.
"""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from workflow.models import AuditEntry, RefusalEntry

GENESIS = "0" * 64
# Key of the PostgreSQL advisory lock that serialises appends ("TANDEMAU").
_APPEND_LOCK = 0x54414E44454D4155
# Key of the lock that refusal writers share and the folder waits on ("TANDEMRF").
_REFUSAL_LOCK = 0x54414E44454D5246
# Refusals chained per transaction: the chain's lock is released between batches.
FOLD_BATCH = 500


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


def journal_tail(using: str = DEFAULT_DB_ALIAS) -> tuple[int, str]:
    """Lock the journal against other appends until the transaction ends, and
    return its last entry's seq and hash (0 and GENESIS when it is empty)."""
    database = connections[using]
    if database.vendor == "postgresql":
        with database.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK])
    last = (
        AuditEntry.objects.using(using)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return last if last else (0, GENESIS)


def append(entries: list[AuditEntry], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Chain `entries`, in their order, after the journal's tail and insert them in
    the current transaction: its lock is held until COMMIT, so call it last."""
    seq, prev_hash = journal_tail(using)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev_hash
        entry.hash = prev_hash = seal(entry)
    AuditEntry.objects.using(using).bulk_create(entries)


def record(action: str, *, by=None, subject=None, organisation="", **detail):
    """Journal one action: chained at the COMMIT of the caller's transaction, or at
    once outside one. The entry returned gets its seq and hash when it is chained.

    `detail` holds strings, integers and booleans only (they are hashed as JSON).
    """
    subject_type, subject_id, subject_organisation = _subject_fields(subject)
    actor_id = by.pk if by is not None and by.is_authenticated else None
    entry = AuditEntry(
        at=timezone.now(),
        action=action,
        actor_id=actor_id,
        actor=by.get_username() if actor_id else "",
        organisation=organisation or subject_organisation,
        subject_type=subject_type,
        subject_id=subject_id,
        detail={key: value for key, value in detail.items() if value is not None},
    )
    deferrable = getattr(connection, "journal_deferrable", None)
    if deferrable is not None and deferrable():
        connection.queue_journal_entry(entry)
    else:
        with transaction.atomic():
            append([entry])
    return entry


def record_refusal(*, by, method: str, path: str, status: int) -> RefusalEntry:
    """Journal an access or action refused to a logged-in user, without the chain's
    lock: one row, chained later by fold_refusals()."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Shared by every writer: fold_refusals waits for those under way.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s)", [_REFUSAL_LOCK]
                )
        return RefusalEntry.objects.create(
            at=timezone.now(),
            actor_id=by.pk,
            actor=by.get_username(),
            method=method[:10],
            path=path[:300],
            status=status,
        )


def _refusals_settled() -> int:
    """The highest refusal id such that every row below it is committed or rolled
    back: its id is read first, then the writers under way are waited for (on
    PostgreSQL an id is drawn before its row commits; ids drawn later are higher)."""
    high = RefusalEntry.objects.order_by("-id").values_list("id", flat=True).first()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_REFUSAL_LOCK])
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_REFUSAL_LOCK])
    return high or 0


def _last_folded_refusal() -> int:
    detail = (
        AuditEntry.objects.filter(
            action=AuditEntry.Action.REFUSED, detail__has_key="refusal"
        )
        .order_by("-seq")
        .values_list("detail", flat=True)
        .first()
    )
    return detail["refusal"] if detail else 0


def fold_refusals(*, batch: int = FOLD_BATCH) -> int:
    """Chain the refusals not chained yet, in id order, each as a `refus` entry
    naming its row; return how many. Not inside an application transaction."""
    high = _refusals_settled()
    folded = 0
    while True:
        # Each batch in its own transaction, so that the lock is released between.
        with transaction.atomic(durable=True):
            journal_tail()  # the lock first: one folder at a time
            rows = list(
                RefusalEntry.objects.filter(
                    id__gt=_last_folded_refusal(), id__lte=high
                ).order_by("id")[:batch]
            )
            append(
                [
                    AuditEntry(
                        at=row.at,
                        action=AuditEntry.Action.REFUSED,
                        actor_id=row.actor_id,
                        actor=row.actor,
                        organisation=row.organisation,
                        detail={
                            "method": row.method,
                            "path": row.path,
                            "status": row.status,
                            "refusal": row.id,
                        },
                    )
                    for row in rows
                ]
            )
        folded += len(rows)
        if len(rows) < batch:
            return folded


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


# --- anchors: the chain's head kept outside the table ---------------------------------
#
# A TRUNCATE by the table's owner, or the deletion of the last entries, leaves a chain
# that still verifies. So the head (seq and hash of the last entry) is also written
# where the database cannot reach it: in every backup manifest, and each day in the
# anchor file (one JSON line per anchor, TANDEM_AUDIT_ANCHOR_FILE) and the log. The
# journal must still hold the last anchor's entry, with that hash.

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "at": self.at,
            "seq": self.seq,
            "hash": self.hash,
            "reason": self.reason,
        }


class AnchorError(Exception):
    """The anchor file cannot be read; the message says why, in French."""


def journal_head() -> tuple[int, str]:
    """The last entry's seq and hash (0 and GENESIS when the journal is empty),
    without taking the append lock."""
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, GENESIS)


def anchor_path() -> Path:
    return Path(settings.TANDEM_AUDIT_ANCHOR_FILE)


def anchor_write(*, reason: str = "quotidienne") -> Anchor:
    """Append the journal's current head to the anchor file and to the log."""
    seq, head = journal_head()
    anchor = Anchor(
        seq=seq,
        hash=head,
        at=timezone.now().isoformat(timespec="seconds"),
        reason=reason,
    )
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(anchor.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as anchors:
        anchors.write(line)
        anchors.flush()
        os.fsync(anchors.fileno())
    logger.info(
        "Ancre du journal d'audit (%s) : entrée n° %s, empreinte %s", reason, seq, head
    )
    return anchor


def anchor_last() -> Anchor | None:
    """The last anchor of the anchor file, or None if there is no file or no anchor."""
    path = anchor_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise AnchorError(f"Fichier d'ancres {path} illisible : {error}") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        return None
    try:
        data = json.loads(lines[-1])
        anchor = Anchor(
            seq=data["seq"],
            hash=data["hash"],
            at=str(data.get("at", "")),
            reason=str(data.get("reason", "")),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise AnchorError(
            f"Dernière ligne du fichier d'ancres {path} illisible : {error}"
        ) from None
    if (
        not isinstance(anchor.seq, int)
        or isinstance(anchor.seq, bool)
        or anchor.seq < 0
        or not isinstance(anchor.hash, str)
        or len(anchor.hash) != 64
    ):
        raise AnchorError(f"Dernière ligne du fichier d'ancres {path} invalide.")
    return anchor


def anchor_check(anchor: Anchor) -> str:
    """Why the journal does not hold the anchor's entry with the anchor's hash (in
    French), or an empty string if it does."""
    if anchor.seq == 0:
        return ""
    found = (
        AuditEntry.objects.filter(seq=anchor.seq).values_list("hash", flat=True).first()
    )
    when = f" du {anchor.at}" if anchor.at else ""
    if found is None:
        head, _hash = journal_head()
        return (
            f"l'ancre{when} atteste l'entrée n° {anchor.seq}, absente du journal "
            f"(dernière entrée : n° {head}) : le journal a été tronqué ou vidé"
        )
    if not hmac.compare_digest(found, anchor.hash):
        return (
            f"l'entrée n° {anchor.seq} n'a plus l'empreinte que l'ancre{when} "
            "atteste : le journal a été réécrit"
        )
    return ""


def anchor_daily() -> Anchor:
    """The day's anchor, written only if the journal still verifies and holds the
    previous anchor: a journal emptied since must not be anchored as it now is.
    The refusals not chained yet are chained first."""
    fold_refusals()
    verdict = verify()
    if not verdict.intact:
        raise AnchorError(
            f"Journal d'audit altéré (entrée n° {verdict.broken_at} : "
            f"{verdict.reason}) : pas de nouvelle ancre."
        )
    last = anchor_last()
    if last is not None:
        problem = anchor_check(last)
        if problem:
            raise AnchorError(
                f"Journal d'audit altéré : {problem} ; pas de nouvelle ancre."
            )
    return anchor_write()
