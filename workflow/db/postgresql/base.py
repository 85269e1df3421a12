"""Django's PostgreSQL backend with the audit journal's pre-commit append, the
number of statements a connection keeps prepared (OPTIONS["prepared_max"],
workflow/env.py), which psycopg sets on the connection, not when connecting, and
a health check without a round trip to the server."""

import select

from django.db.backends.postgresql import base
from psycopg import pq

from workflow.db.journal import JournalQueueMixin


class DatabaseWrapper(JournalQueueMixin, base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params.pop("prepared_max", None)
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        prepared_max = self.settings_dict["OPTIONS"].get("prepared_max")
        if prepared_max is not None:
            connection.prepared_max = prepared_max
        return connection

    def is_usable(self):
        """CONN_HEALTH_CHECKS before a request's first statement, without Django's
        `SELECT 1` (a round trip per request, for both processes): an idle
        connection has nothing to read, so a readable socket means the server
        said farewell or closed it (a restart, pg_terminate_backend, an idle
        timeout). Anything unexpected falls back to Django's check."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
