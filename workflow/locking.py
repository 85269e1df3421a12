"""Which flow lock to use on the configured database (see ../shared/VIEWFLOW.md)."""

from django.conf import settings
from viewflow.workflow import lock


def flow_lock():
    """A real row lock on PostgreSQL; on SQLite, IMMEDIATE transactions serialise.

    On PostgreSQL the process row is locked with a blocking SELECT ... FOR UPDATE:
    a concurrent action waits for the first to commit, then finds the task done and
    is refused, instead of failing at once on lock contention. SQLite ignores
    FOR UPDATE; its connections open IMMEDIATE transactions (settings), which take
    the write lock at the start of the transaction.
    """
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("postgresql"):
        return lock.SelectForUpdateLock(nowait=False, attempts=1)
    return lock.no_lock


def for_update(queryset):
    """Lock the rows of `queryset`'s own table only, even with select_related.

    PostgreSQL would otherwise also lock the joined rows (the organisation, the
    request…), serialising unrelated actions; other backends lock what they can.
    """
    from django.db import connection

    if connection.features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()
