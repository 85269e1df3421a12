"""A hook right before COMMIT, for the audit journal.

workflow.audit.record() inside an application transaction does not append at once:
it queues the entry on the connection (`queue_journal_entry`), and the queue is
appended (workflow.audit.append: the chain's lock, its tail, the seals, one INSERT)
as the last statements before the COMMIT of the outermost application block. The
journal's single-writer lock is then held for milliseconds at the end of each
transaction, not from the record() call until COMMIT: a slow transaction (a PDF
built after its transition) no longer stalls every other one.

Django has no pre-commit hook, hence this mixin of the backends' DatabaseWrapper
(workflow.db.postgresql, workflow.db.sqlite3, chosen by workflow.env). An entry
recorded inside a savepoint that is rolled back is dropped with it, the way Django
drops on_commit callbacks (by the savepoint ids active when it was queued).

Blocks opened by a test case (`_from_testcase`: Django's TestCase, pytest-django's
`django_db`) are not the application's: the outermost application block then ends
with the release of its savepoint inside the test's transaction, which appends the
queue too; with no application block open, record() appends at once.
"""


def _from_testcase(block) -> bool:
    return getattr(block, "_from_testcase", False)


class JournalQueueMixin:
    """Appends the queued audit entries right before the application's commit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (ids of the savepoints active when it was queued, entry), oldest first.
        self.journal_queue = []

    def journal_deferrable(self) -> bool:
        """Is an application transaction open whose end this connection will see
        (its COMMIT, or the release of its savepoint inside a test's transaction)?"""
        if not self.in_atomic_block:
            return False
        blocks = self.atomic_blocks
        first = next(
            (i for i, block in enumerate(blocks) if not _from_testcase(block)), None
        )
        if first is None:
            return False
        if first == 0:
            return True
        # Inside a test's transaction: the block's savepoint is the one whose
        # release ends it; a block without one (savepoint=False) ends unseen.
        index = first - (len(blocks) - len(self.savepoint_ids))
        return 0 <= index < len(self.savepoint_ids) and (
            self.savepoint_ids[index] is not None
        )

    def queue_journal_entry(self, entry) -> None:
        self.journal_queue.append((set(self.savepoint_ids), entry))

    def _append_journal_queue(self) -> None:
        if not self.journal_queue:
            return
        entries = [entry for _savepoints, entry in self.journal_queue]
        self.journal_queue = []
        # Imported here: the backend is loaded before the apps and their models.
        from workflow.audit import append

        append(entries, using=self.alias)

    def commit(self):
        self._append_journal_queue()
        super().commit()

    def savepoint_commit(self, sid):
        if self.journal_queue and not any(
            not _from_testcase(block) for block in self.atomic_blocks
        ):
            self._append_journal_queue()
        super().savepoint_commit(sid)

    def savepoint_rollback(self, sid):
        super().savepoint_rollback(sid)
        self.journal_queue = [
            (savepoints, entry)
            for savepoints, entry in self.journal_queue
            if sid not in savepoints
        ]

    def rollback(self):
        super().rollback()
        self.journal_queue = []

    def close(self):
        self.journal_queue = []
        super().close()
