"""What PostgreSQL makes of the hot statements: each connection plans a prepared
statement once for any values (workflow/env.py), and the grid's save reads its
two indexes without a sort whatever the plan (recette/services/campaigns.py)."""

import pytest
from django.db import connection, transaction

from recette.models import Campaign
from recette.services import campaigns
from workflow import statements

pytestmark = pytest.mark.integration


def _generic_plan(sql: str, types: str, values: str) -> str:
    """The plan PostgreSQL keeps for `sql` prepared with parameters of `types`,
    shown for `values`, with sequential scans ruled out (the test tables are
    nearly empty): which index the plan made for any values can use."""
    *parts, last = sql.split("%s")
    numbered = [f"{part}${index}" for index, part in enumerate(parts, start=1)]
    numbered.append(last)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"PREPARE plan_probe ({types}) AS {''.join(numbered)}")
        try:
            cursor.execute(f"EXPLAIN EXECUTE plan_probe ({values})")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE plan_probe")


@pytest.mark.django_db
def test_a_connection_plans_its_prepared_statements_once_and_keeps_them():
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
    assert connection.connection.prepared_max == 500


@pytest.mark.django_db
def test_a_saves_reads_go_through_their_indexes_without_a_sort_in_any_plan():
    """The touched cases' latest results (the first entry of an index each) and
    the keys saved already: through the unique constraint's partial index (no
    empty key), which a plan made for any keys uses only because the statement
    says the key is not empty."""
    _, (_, results_sql, keys_sql, _) = statements.prepared(
        "recording", Campaign, campaigns._reads_sql
    )
    cases, _ = statements.one_of(connection, [1])
    keys, _ = statements.one_of(connection, ["k"])
    plan = _generic_plan(
        results_sql + cases + keys_sql + keys,
        "bigint, bigint[], bigint, text[]",
        "1, '{1,2}', 1, '{k-1,k-2}'",
    )
    assert "recette_execution_latest" in plan, plan
    assert "recette_execution_client_key" in plan, plan
    assert "Sort" not in plan, plan
