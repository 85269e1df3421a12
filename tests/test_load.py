"""`make loadtest`'s pure parts: percentiles, CPU read from /proc lines, the step
summary and its tables, and each role's requests played through Django's test
client with CSRF checks on. No server, no network, no sleep: the load itself is
`make loadtest`'s business."""

import json
import random

from django.contrib.auth import get_user_model
from django.test import Client

from bench import load_plan, load_report
from bench.load import merge, percentile, summarise
from bench.load_proc import ProcStat, named_ticks, parse_stat, tree_ticks
from bench.load_users import (
    PASSWORD,
    HttpSession,
    Outcome,
    Response,
    log_in,
    parse_grid,
    simulated_user,
    timed_sender,
)
from recette.models import Campaign, Execution


class ClientSession:
    """The load test's session interface over Django's test client, which keeps
    the cookies itself; requests are https, as behind the production proxy."""

    origin = "https://testserver"

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)

    def request(self, method, path, body, headers):
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        answer = self.client.generic(
            method,
            path,
            data=body or b"",
            content_type=content_type,
            secure=True,
            headers=headers,
        )
        content = (
            b"".join(answer.streaming_content) if answer.streaming else answer.content
        )
        return Response(answer.status_code, content, answer.get("Location", ""))


def test_percentile_interpolates_between_the_nearest_ranks():
    assert percentile([], 95) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([40, 10, 30, 20], 50) == 25
    assert percentile(range(1, 101), 95) == 95.05
    assert percentile([1, 2, 3], 0) == 1 and percentile([1, 2, 3], 100) == 3


def test_parse_stat_reads_the_cpu_fields_after_a_command_name_with_spaces():
    line = (
        "4242 (gunicorn: worker (x)) S 4200 4200 4200 0 -1 4194560 1234 0 0 0 "
        "310 45 7 3 20 0 1 0 98765 123456789 4567 18446744073709551615"
    )
    stat = parse_stat(line)
    assert stat == ProcStat(4242, "gunicorn: worker (x)", 4200, 310, 45, 7, 3)
    assert stat.ticks == 365


def test_tree_ticks_count_the_descendants_and_the_reaped_children():
    table = {
        stat.pid: stat
        for stat in (
            ProcStat(100, "python", 1, 50, 10, 30, 5),  # master; 35 reaped
            ProcStat(101, "python", 100, 200, 20, 0, 0),
            ProcStat(102, "python", 100, 150, 15, 0, 0),
            ProcStat(103, "python", 102, 5, 1, 0, 0),  # a worker's child
            ProcStat(200, "postgres", 1, 80, 20, 400, 100),  # postmaster
            ProcStat(201, "postgres", 200, 60, 30, 0, 0),
        )
    }
    assert tree_ticks(table, 100) == 95 + 220 + 165 + 6
    assert tree_ticks(table, 999) == 0
    assert named_ticks(table, "postgres") == 600 + 90


def test_a_step_reports_cpu_per_request_and_its_first_errors():
    outcomes = [Outcome("grid", 200, 10.0 + n, True) for n in range(8)] + [
        Outcome("record", 500, 30.0, False, "POST /r/ → 500", results=3),
        Outcome("record", 200, 20.0, True, results=5),
    ]
    cpu = {
        "seconds": 5.0,
        "server_ms": 250.0,
        "postgres_ms": 120.0,
        "postgres_ours_ms": 60.0,
        "machine_busy_cores": 1.1,
        "driver_ms": 40.0,
    }
    step = summarise(outcomes, cpu, users=3)
    assert step["requests"] == 10 and step["req_per_s"] == 2.0
    assert step["cpu_per_request"] == {
        "server_ms": 25.0,
        "postgres_ms": 12.0,
        "postgres_ours_ms": 6.0,
    }
    assert step["errors"] == 1 and step["first_errors"] == ["POST /r/ → 500"]
    assert step["results_recorded"] == 5
    assert step["endpoints"]["grid"]["p50_ms"] == 13.5
    assert step["endpoints"]["record"] == {
        "requests": 2,
        "errors": 1,
        "p50_ms": 25.0,
        "p95_ms": 29.5,
        "p99_ms": 29.9,
    }


def test_the_session_keeps_and_forgets_cookies_as_the_server_says():
    session = HttpSession("127.0.0.1", 9)  # never connected
    session._keep("__Host-csrftoken=abc; Max-Age=31449600; Path=/; Secure")
    session._keep("__Host-sessionid=s1; HttpOnly; Path=/; SameSite=Lax; Secure")
    assert session.cookies == {"__Host-csrftoken": "abc", "__Host-sessionid": "s1"}
    session._keep(
        '__Host-sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/'
    )
    assert session.cookies == {"__Host-csrftoken": "abc"}
    assert session.origin == "https://127.0.0.1:9"


def test_a_refused_answer_counts_only_where_a_refusal_is_expected():
    outcomes = []

    class Answering:
        origin = "https://testserver"

        def __init__(self, status, location=""):
            self.answer = Response(status, b"", location)

        def request(self, method, path, body, headers):
            return self.answer

    timed_sender(Answering(404), outcomes)("refused", "GET", "/x/", expect=(404,))
    timed_sender(Answering(404), outcomes)("detail", "GET", "/x/")
    timed_sender(Answering(200), outcomes)("refused", "GET", "/x/", expect=(404,))
    timed_sender(Answering(302, "/accounts/login/?next=/"), outcomes)(
        "home", "GET", "/"
    )
    assert [o.ok for o in outcomes] == [True, False, False, False]
    assert "session lost" in outcomes[-1].error


def test_each_role_plays_its_requests_through_the_real_login_and_csrf(demo):
    rng = random.Random(7)  # noqa: S311 - repeatable, not secret
    campaigns = [
        row
        for row in load_plan.open_campaigns()
        if Campaign.objects.get(pk=row[0]).organisation.code == "23"
    ]
    accounts = [
        *load_plan.tester_accounts(1, campaigns),
        *load_plan.porteur_accounts(2, rng),
        *load_plan.dsi_accounts(2, rng, campaigns),
        *load_plan.refuser_accounts(1, rng),
    ]
    assert [a.role for a in accounts] == [
        "tester",
        "porteur",
        "porteur",
        "dsi",
        "dsi",
        "refuser",
    ]
    executions = Execution.objects.count()
    outcomes = []
    for index, account in enumerate(accounts):
        session = ClientSession()
        log_in(session, account.username, demo.password)
        user = simulated_user(account, seed=index, think=0.0, batch=5)
        send = timed_sender(session, outcomes)
        user.prepare(send)
        for _ in range(12):
            user.act(send)
    assert [o.error for o in outcomes if not o.ok] == []
    endpoints = {o.endpoint for o in outcomes}
    assert {"grid", "record", "my_tasks", "refused"} <= endpoints
    recorded = sum(o.results for o in outcomes)
    assert recorded > 0
    assert Execution.objects.count() == executions + recorded


def test_the_tester_posts_what_grid_js_posts(demo):
    campaign = Campaign.objects.filter(
        status=Campaign.Status.OPEN, organisation__code="23"
    ).first()
    session = ClientSession()
    log_in(session, "cd23.testeur", demo.password)
    page = session.request("GET", f"/recettes/campagnes/{campaign.pk}/", None, {})
    grid = parse_grid(page.body)
    assert grid.cases and grid.record_url.endswith(f"/{campaign.pk}/resultats/")
    assert "reussi" in grid.results
    (account,) = load_plan.tester_accounts(1, [(campaign.pk, campaign.organisation_id)])
    tester = simulated_user(account, seed=1, think=0.0, batch=3)
    tester.grid = grid
    request = tester.record_request()
    body = json.loads(request["body"])
    assert 1 <= len(body["results"]) <= 3
    assert set(body["results"][0]) == {"key", "case", "result", "comment"}
    assert isinstance(body["results"][0]["case"], str)
    assert request["headers"]["X-CSRFToken"] == grid.csrf


def test_generated_accounts_get_the_demo_password_and_nobody_else(world):
    users = get_user_model().objects
    generated = users.create_user("gen.cd23.testeur9")
    generated.set_unusable_password()
    generated.save()
    assert load_plan.prepare_passwords(["gen.cd23.testeur9", "cd23.testeur"]) == 1
    assert users.get(username="gen.cd23.testeur9").check_password(PASSWORD)
    assert load_plan.prepare_passwords(["gen.cd23.testeur9"]) == 0


def test_the_tables_are_rewritten_between_their_own_markers(tmp_path):
    cpu = {
        "seconds": 2.0,
        "server_ms": 40.0,
        "postgres_ms": 20.0,
        "postgres_ours_ms": 10.0,
        "machine_busy_cores": 0.5,
        "driver_ms": 5.0,
        "lock_waits": {"samples": 20, "waiting": {"advisory": 0.4, "tuple": 0.0}},
    }
    step = summarise([Outcome("my_tasks", 200, 12.0, True)] * 4, cpu, users=2)
    info = {
        "date": "2026-12-04T00:00:00+00:00",
        "machine": {
            "cpu": "CPU",
            "cores": 2,
            "python": "3.11",
            "django": "5.2",
            "gunicorn": "23",
            "load_average_before": [0.1, 0.1, 0.1],
        },
        "database": {"version": "15", "name": "tandem_load"},
        "dataset": {
            "tier": "small",
            "users": 1,
            "change_requests": 1,
            "open_campaigns": 1,
            "executions": 1,
        },
        "method": {
            "workers": 5,
            "step_seconds": 2,
            "phase_seconds": 2,
            "think_seconds": 1.0,
            "seed": 42,
            "warmup_seconds": 0,
            "grid_batch_max": 1,
        },
    }
    results = merge(tmp_path / "absent.json", {"mixed": {**info, "steps": [step]}})
    markdown = tmp_path / "BENCH.md"
    markdown.write_text(
        "# Benchmarks\n\n<!-- bench:start -->\nkept\n<!-- bench:end -->\n"
    )
    load_report.write_markdown(markdown, results)
    load_report.write_markdown(markdown, results)
    text = markdown.read_text()
    assert text.count(load_report.START) == 1 and "kept\n<!-- bench:end -->" in text
    assert (
        "| 2 | 2 | 4 | 0 | 12 | 12 | 12 | 10 | 5 (2.5) | 0.5 | advisory 40 % |" in text
    )
    assert "| `my_tasks` | 12 / 12 / 12 (4) |" in text
    assert "--scenario contention" in text  # not run yet


def test_both_contention_phases_post_as_many_results_per_post(demo):
    from types import SimpleNamespace

    from bench.load import _plan, contention_users

    options = SimpleNamespace(
        seed=1, contention_users=6, steps=[2], stall_users=1, think=0.0
    )
    plan = _plan(options, {}, batch=50)
    sizes = [
        Campaign.objects.get(pk=account.campaign).campaign_cases.count()
        for account in plan["one campaign"] + plan["spread"]
    ]
    assert plan["contention batch"] == max(1, min(sizes)) < 50
    # A smaller grid in play caps both phases' POSTs, a bigger grid's included.
    plan["contention batch"] = 2
    for name in ("one campaign", "spread"):
        tester = contention_users(plan, name, options, offset=0)[0]
        assert (tester.batch, tester.reload_grid) == (2, False)
        session = ClientSession()
        log_in(session, tester.account.username, demo.password)
        tester.prepare(timed_sender(session, []))
        assert len(tester.grid.cases) > 2
        posted = {
            len(json.loads(tester.record_request()["body"])["results"])
            for _ in range(40)
        }
        assert posted == {1, 2}
