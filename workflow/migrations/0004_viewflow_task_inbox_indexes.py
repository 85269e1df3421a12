"""Indexes for the inbox and queue pages on viewflow's task table.

viewflow's own migrations index the columns one by one; the queue filters on the
permission the task waits for and its status, the inbox on its owner and status.
The table belongs to viewflow, so the indexes are created here by SQL (nothing in
Django's model state changes).
"""

from django.db import migrations

INDEXES = {
    "tandem_task_permission_status": "owner_permission, status",
    "tandem_task_owner_status": "owner_id, status",
}


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0003_audit_journal"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON viewflow_task ({columns})",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, columns in INDEXES.items()
    ]
