"""Django's PostgreSQL backend with the audit journal's pre-commit append."""

from django.db.backends.postgresql import base

from workflow.db.journal import JournalQueueMixin


class DatabaseWrapper(JournalQueueMixin, base.DatabaseWrapper):
    pass
