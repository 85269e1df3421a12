"""The inbox and queue read viewflow's task table through our composite indexes."""

from django.db import connection


def test_task_table_has_the_inbox_and_queue_indexes(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "viewflow_task")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert ("owner_permission", "status") in indexed
    assert ("owner_id", "status") in indexed
