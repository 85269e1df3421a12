"""Row locking for flows and services (README, "Known viewflow 2.4 pitfalls")."""

from contextlib import contextmanager

from django.db import transaction
from viewflow.workflow import lock


def flow_lock():
    """The flow lock: a blocking SELECT ... FOR UPDATE on the process row.

    On PostgreSQL a concurrent action waits for the first to commit, then finds the
    task done and is refused, instead of failing at once on lock contention.
    SQLite ignores FOR UPDATE: there, connections open IMMEDIATE transactions
    (settings), which take the write lock when the transaction starts.
    """
    return lock.SelectForUpdateLock(nowait=False, attempts=1)


def for_update(queryset):
    """Lock the rows of `queryset`'s own table only, even with select_related.

    PostgreSQL would otherwise also lock the joined rows (the organisation, the
    request…), serialising unrelated actions; other backends lock what they can.
    """
    from django.db import connection

    if connection.features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


@contextmanager
def process_locked(flow_class, process):
    """A transaction holding `flow_class`'s lock on `process` (when there is one),
    taken before any row lock: the order the task views take them, so that an
    action outside a task cannot deadlock with one."""
    with transaction.atomic():
        if process is None:
            yield
            return
        with flow_class.lock(process.pk):
            yield


def share_locked_row(sql: str, params, *, of: str) -> tuple | None:
    """The row that `sql` (a SELECT) reads, its row of `of` held under a shared
    lock until the transaction ends: the lock and the read in one statement.
    None: no such row.

    Many may hold the lock at once; an exclusive lock (`for_update`) waits until
    they have all committed, and they wait for it. SQLite has no row locks: its
    IMMEDIATE transactions (settings) already serialise writers. Another backend
    takes the exclusive lock, stricter but safe.

    `of` is the table, or its alias, of `sql`'s FROM clause whose row is locked;
    the rows joined to it are read, not locked. The SQL is the caller's, written
    once (workflow/statements.py): the ORM has no FOR SHARE, and would spend more
    building the query than the database spends running it.
    """
    from django.db import connection

    if not connection.in_atomic_block:
        # Outside a transaction the lock would be let go at once.
        raise transaction.TransactionManagementError(
            "share_locked_row() needs a transaction"
        )
    if connection.vendor == "postgresql":
        sql = f"{sql} FOR SHARE OF {of}"
    elif connection.features.has_select_for_update:
        sql = f"{sql} FOR UPDATE"
        if connection.features.has_select_for_update_of:
            sql = f"{sql} OF {of}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
