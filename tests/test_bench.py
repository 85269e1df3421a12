"""`make bench` runs end to end on a tiny dataset and writes what the issue asks for.

Only the shape of the results is checked: timings belong to `make bench`, never to
the tests.
"""

import json
import math

import pytest
from django.db import connection
from django.test import RequestFactory

from bench import floors, report
from bench.run import bench
from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from recette.demo import recette_demo_load
from recette.models import Execution
from recette.services import campaigns

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
    "record_results_ui_path",
    "record_results_one_per_post",
    "bilan_pdf",
}
COLUMNS = {"name", "tier", "queries", "median_ms", "floor_ms", "ratio", "peak_mb"}


def test_bench_measures_every_page_and_service_against_its_floor(world, tmp_path):
    evolutions_demo_load()
    recette_demo_load()
    results_path, markdown_path = tmp_path / "results.json", tmp_path / "BENCH.md"
    markdown_path.write_text("# Benchmarks\n\nHand-written method.\n")
    executions = Execution.objects.count()

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
    # The results posted as the grid posts them: one request per batch of
    # GRID_BATCH_MAX (one per result before the grid batched), then one each.
    batch = getattr(campaigns, "GRID_BATCH_MAX", 1)
    ui_path, one_each = (
        rows["record_results_ui_path"],
        rows["record_results_one_per_post"],
    )
    assert ui_path["rows"] == one_each["rows"] == rows["record_500_results"]["rows"]
    assert ui_path["requests"] == math.ceil(ui_path["rows"] / batch)
    assert one_each["requests"] == one_each["rows"] > 1
    assert one_each["queries"] >= one_each["requests"] >= ui_path["requests"]
    assert ui_path["floor"] == rows["record_500_results_vs_update"]["floor"]
    # Rolled back, like every write measured.
    assert Execution.objects.count() == executions
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
    peer = markdown.split("### Tandem and Kiwi TCMS v16.0", 1)[1]
    assert "as the interface sends them" in peer
    assert "one request per result (a tester pausing after each)" in peer
    assert "in one request (a batch)" in peer
    assert "| ratio ≤ 20 | `record_results_ui_path` | test |" in markdown


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


@pytest.mark.parametrize("username", ["cnaf.contact", "cd23.porteur"])
def test_the_queue_floor_answers_the_queue_rows_in_the_queue_order(world, username):
    """Like for like: the floor reads the queue's own rule on the task rows (no
    join on viewflow's process table) and returns the page's tasks, newest first."""
    evolutions_demo_load()
    user = world.user(username)
    request = RequestFactory().get("/")
    request.user = user

    answer = json.loads(floors.queue_view(EvolutionFlow, user)(request).content)

    queue = EvolutionFlow.scope_tasks(EvolutionFlow.waiting_for(user), user)
    page = queue.order_by("-created")[: floors.TASK_PAGE_SIZE]
    assert [row[0] for row in answer["rows"]] == [task.pk for task in page]
    assert answer["rows"]


def test_results_posted_as_the_grid_does_go_by_batches_and_are_rolled_back(
    world, settings
):
    """The grid's path: a batch per request through the CSRF check, as grid.js
    sends it, every result saved, nothing kept afterwards."""
    from django.test import Client
    from django.urls import reverse

    from bench.run import _csrf_token, _grid_posts
    from bench.subjects import _open_campaign

    evolutions_demo_load()
    recette_demo_load()
    tester = world.user("cd23.testeur")
    campaign = _open_campaign(tester)
    case_pks = list(campaign.campaign_cases.values_list("case_id", flat=True)[:7])
    client = Client(enforce_csrf_checks=True)
    client.force_login(tester)
    csrf = _csrf_token(client, reverse("recettes:grid", args=[campaign.pk]))
    url = reverse("recettes:record", args=[campaign.pk])
    posted, post = [], client.post

    def counted(*args, **kwargs):
        response = post(*args, **kwargs)
        posted.append(len(json.loads(response.content)["saved"]))
        return response

    client.post = counted
    executions = Execution.objects.count()

    floors.rolled_back(_grid_posts(client, url, csrf, case_pks, 3))()

    assert posted == [3, 3, 1]
    assert Execution.objects.count() == executions
