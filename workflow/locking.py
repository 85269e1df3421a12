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
