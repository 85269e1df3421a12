"""Django's PostgreSQL backend with the audit journal's pre-commit append, and
the number of statements a connection keeps prepared (OPTIONS["prepared_max"],
workflow/env.py), which psycopg sets on the connection, not when connecting."""

from django.db.backends.postgresql import base

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
