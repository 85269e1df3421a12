"""`make bench` runs end to end on a tiny dataset and writes what the issue asks for.

Only the shape of the results is checked: timings belong to `make bench`, never to
the tests.
"""

import json

from django.db import connection

from bench import report
from bench.run import bench
from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load

MEASURED = {
    "shell",
    "shell_vs_bare",
    "my_tasks_order_owner",
    "my_tasks_client_owner",
    "change_request_list_page_1",
    "change_request_list_page_50",
    "change_request_detail",
    "campaign_grid",
    "campaign_dashboard",
    "campaign_results_export",
    "defect_page",
    "report_figures",
    "record_500_results",
    "record_500_results_vs_update",
    "bilan_pdf",
}
COLUMNS = {"name", "tier", "queries", "median_ms", "floor_ms", "ratio", "peak_mb"}


def test_bench_measures_every_page_and_service_against_its_floor(world, tmp_path):
    evolutions_demo_load()
    recette_demo_load()
    results_path, markdown_path = tmp_path / "results.json", tmp_path / "BENCH.md"
    markdown_path.write_text("# Benchmarks\n\nHand-written method.\n")

    bench(
        repeat=1,
        pdf_repeat=1,
        warmup=0,
        tier="test",
        results_path=results_path,
        markdown_path=markdown_path,
        log=lambda line: None,
    )

    results = json.loads(results_path.read_text())
    rows = {row["name"]: row for row in results["results"]}
    assert set(rows) >= MEASURED
    for row in rows.values():
        assert set(row) >= COLUMNS
        assert row["tier"] == "test"
        assert row["queries"] > 0 and row["floor_queries"] > 0
        assert row["median_ms"] > 0 and row["floor_ms"] > 0
        assert row["ratio"] == round(row["median_ms"] / row["floor_ms"], 2)
    assert rows["bilan_pdf"]["peak_mb"] > 0
    assert rows["my_tasks_order_owner"]["tasks"] > 0
    assert rows["my_tasks_client_owner"]["tasks"] > 0
    # viewflow's inbox and queue are measured while they are pages of their own.
    inboxes = {"inbox_supplier_analyst", "inbox_client_owner"}
    redirected = [
        n for n in results["runs"]["test"]["subjects"]["notes"] if "inbox" in n
    ]
    assert set(rows) >= inboxes or len(redirected) == 2
    run = results["runs"]["test"]
    assert run["database"]["vendor"] == connection.vendor
    assert run["machine"]["cores"] > 0

    markdown = markdown_path.read_text()
    assert markdown.startswith("# Benchmarks\n\nHand-written method.\n")
    assert report.START in markdown and report.END in markdown
    assert "| `campaign_grid` | test |" in markdown
    assert "| `my_tasks_client_owner` | test |" in markdown
    assert "Kiwi TCMS v16.0" in markdown


def test_a_second_run_keeps_the_why_written_for_a_missed_target(tmp_path):
    row = {
        "name": "campaign_grid",
        "tier": "large",
        "queries": 10,
        "median_ms": 30.0,
        "floor_ms": 5.0,
        "ratio": 6.0,
        "peak_mb": None,
        "floor_queries": 6,
        "floor_peak_mb": None,
        "rows": 500,
        "kind": "page",
    }
    run = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 1, "python": "3.11"},
        "database": {"vendor": "postgresql", "version": "15", "name": "db"},
        "method": {"warmup": 2, "repeat": 15, "pdf_repeat": 5},
        "settings": {"debug": False},
        "dataset": {},
        "subjects": {},
    }
    run["machine"]["django"] = "5.2"
    results = {"schema": 1, "runs": {"large": run}, "results": [row]}
    path = tmp_path / "BENCH.md"
    report.write_markdown(path, results)
    path.write_text(
        path.read_text().replace(
            "| +200 % |  |", "| +200 % | one subquery per row for the result |"
        )
    )

    report.write_markdown(path, results)

    assert "| +200 % | one subquery per row for the result |" in path.read_text()
