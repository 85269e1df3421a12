"""Django's SQLite backend with the audit journal's pre-commit append."""

from django.db.backends.sqlite3 import base

from workflow.db.journal import JournalQueueMixin


class DatabaseWrapper(JournalQueueMixin, base.DatabaseWrapper):
    pass
