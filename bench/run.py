"""`make bench`: each page or service measured against its floor in the same run.

    .venv/bin/python -m bench.run [--repeat 15] [--pdf-repeat 5] [--posts-repeat N]
                                  [--warmup 2] [--manifest var/dataset-small.json]
                                  [--tier small] [--only name,name]

Pages go through Django's test client, logged in (force_login) as the real role
users, so the whole middleware stack runs; services are called directly. Each
measure: warm-up calls, one call under CaptureQueriesContext for the query count,
then N timed calls (perf_counter, no query capture), ours and the floor taking
turns, whose medians are reported. Writes bench/results.json and the generated part
of BENCHMARKS.md.
"""

import argparse
import gc
import json
import math
import os
import re
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
RESULTS_PER_REQUEST = 500


@dataclass
class Measure:
    """One row of results.json: ours and its floor, measured alike."""

    name: str
    kind: str  # page, read, write, pdf: which target applies
    what: str
    floor_what: str
    ours: Callable[[], object]
    floor: Callable[[], object]
    repeat: int
    rows: int | None = None
    memory: bool = False
    extra: dict | None = None  # more keys for results.json


def _elapsed(call: Callable[[], object]) -> float:
    """Seconds of one call; a call that times itself returns its own seconds."""
    started = time.perf_counter()
    result = call()
    total = time.perf_counter() - started
    return result if isinstance(result, float) else total


def query_count(call: Callable[[], object]) -> int:
    """Queries of one call of `call`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    # Read now: the next request empties the connection's query log.
    return len(captured.captured_queries)


def timed(*calls: Callable[[], object], warmup: int, repeat: int) -> list[tuple]:
    """(median ms, query count) of each call. The calls take turns within each
    repetition, so a load that comes and goes on the machine weighs on all alike."""
    for _ in range(warmup):
        for call in calls:
            call()
    queries = [query_count(call) for call in calls]
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, kept in zip(calls, samples, strict=True):
            gc.collect()
            kept.append(_elapsed(call))
    return [
        (statistics.median(kept) * 1000, count)
        for kept, count in zip(samples, queries, strict=True)
    ]


def peak_mb(call: Callable[[], object]) -> float:
    """Peak of the memory Python allocated during one call (tracemalloc), in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        call()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024 / 1024


def _page(client, url: str, *, data: dict | None = None) -> Callable[[], object]:
    def get():
        response = client.get(url, data or {})
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} → {response.status_code}")
        return response

    return get


def _download(client, url: str) -> Callable[[], object]:
    """GET a download and read it whole (a streamed body is written as it is
    read: reading it is the measure)."""

    def get():
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} → {response.status_code}")
        return b"".join(response.streaming_content)

    return get


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _json(client, url: str) -> dict:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} → {response.status_code}")
    return json.loads(response.content)


def _json_rows(client, url: str) -> int:
    return len(_json(client, url)["rows"])


def _mounted(name: str, view: Callable) -> str:
    """The URL of the bare view `view`, mounted under `name`."""
    from django.urls import reverse

    from bench import floors

    floors.VIEWS[name] = view
    return reverse("bench_floor", args=[name])


def _floor(name: str, view: Callable, client) -> tuple[Callable[[], object], int]:
    """The bare view mounted under its name, and how many rows it answers."""
    url = _mounted(name, view)
    return _page(client, url), _json_rows(client, url)


def _answers(client, url: str) -> bool:
    """Does `url` answer a page (200), rather than a redirect elsewhere?"""
    return client.get(url).status_code == 200


def _csrf_token(client, url: str) -> str:
    """The CSRF token the page at `url` gives its scripts (grid.js reads it from
    the grid's form)."""
    response = client.get(url)
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
    if response.status_code != 200 or found is None:
        raise RuntimeError(f"GET {url}: no CSRF token to post with")
    return found.group(1).decode()


def _grid_posts(
    client, url: str, csrf: str, case_pks: list[int], per_post: int
) -> Callable[[], object]:
    """Results posted to the grid's JSON endpoint as recette/static/recette/grid.js
    sends them: `per_post` results a request, each with its client key (a fresh
    UUID: `key`, which the server ignored before the grid sent it), the case as
    the row's data attribute (a string) and an empty comment; JSON both ways, the
    CSRF token in its header, one request after the other."""

    def post_all():
        for start in range(0, len(case_pks), per_post):
            body = json.dumps(
                {
                    "results": [
                        {
                            "key": str(uuid.uuid4()),
                            "case": str(pk),
                            "result": "reussi",
                            "comment": "",
                        }
                        for pk in case_pks[start : start + per_post]
                    ]
                }
            )
            response = client.post(
                url,
                body,
                content_type="application/json",
                headers={"accept": "application/json", "x-csrftoken": csrf},
            )
            if response.status_code != 200:
                raise RuntimeError(f"POST {url} → {response.status_code}")

    return post_all


def measures(
    subjects, *, repeat: int, pdf_repeat: int, posts_repeat: int | None = None
) -> list[Measure]:
    """Everything the issue names, each with its floor."""
    from django.core.paginator import Paginator
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from bench import floors
    from evolutions.models import ChangeRequest
    from evolutions.selectors import change_requests_visible_to
    from recette import pdf_data
    from recette.models import AcceptanceReport, Defect, Execution
    from recette.selectors import report_figures
    from recette.services import campaigns

    flow = subjects.flow_class
    analyst, owner, tester = subjects.analyst, subjects.owner, subjects.tester
    order_owner = subjects.order_owner
    as_analyst, as_owner, as_tester, as_order_owner = (
        _client_for(user) for user in (analyst, owner, tester, order_owner)
    )
    result: list[Measure] = []

    def page(name, what, floor_what, client, url, view, *, data=None, extra=None):
        floor, rows = _floor(name, view, client)
        ours = _page(client, url, data=data)
        result.append(
            Measure(
                name, "page", what, floor_what, ours, floor, repeat, rows, extra=extra
            )
        )

    # The shell alone: an empty page in tandem/page.html (bench/pages.py), against
    # the two counts it shows, then against an empty answer.
    shell = _page(as_analyst, reverse("bench_shell"))
    result.append(
        Measure(
            "shell",
            "shell",
            f"an empty page in Tandem's shell (tandem/page.html) for "
            f"{analyst.username}",
            "the unread-notification count and the user's membership (the menu's "
            "directory entry), two queries",
            shell,
            _page(as_analyst, _mounted("shell", floors.shell_view)),
            repeat,
        )
    )
    result.append(
        Measure(
            "shell_vs_bare",
            "shell",
            "the same request as shell",
            "an empty HttpResponse: the request handling and middleware alone",
            shell,
            _page(as_analyst, _mounted("bare", floors.bare_view)),
            repeat,
        )
    )

    # « Mes tâches », the home page: every task the user may do now, in every flow.
    for role, user, client in (
        ("order_owner", order_owner, as_order_owner),
        ("client_owner", owner, as_owner),
    ):
        name = f"my_tasks_{role}"
        floor_url = _mounted(name, floors.my_tasks_view(user))
        answer = _json(client, floor_url)
        home = _page(client, reverse("index"))
        result.append(
            Measure(
                name,
                "page",
                f"« Mes tâches » (/) for {user.username}, {answer['count']} tasks",
                "the user's assigned and waiting human tasks of every flow with "
                "their subject's reference and title and their organisation, one "
                "statement (all read, the 50 oldest answered with the count)",
                home,
                _page(client, floor_url),
                repeat,
                len(answer["rows"]),
                extra={"tasks": answer["count"]},
            )
        )
        bare_tasks = f"{name}_vs_task_table"
        task_table = floors.my_tasks_task_table_view(user)
        result.append(
            Measure(
                bare_tasks,
                "comparison",
                f"the same request as {name}",
                "the same tasks from viewflow's task table alone (no subject, no "
                "organisation), one query",
                home,
                _page(client, _mounted(bare_tasks, task_table)),
                repeat,
                len(answer["rows"]),
            )
        )

    for role, user, client in (
        ("supplier_analyst", analyst, as_analyst),
        ("client_owner", owner, as_owner),
    ):
        # The flow's task pages' namespace (ScopedFlowMixin.url_name).
        app = flow.url_name
        if not _answers(client, reverse(f"{app}:inbox")):
            # viewflow's lists lead to « Mes tâches » (workflow.flowviews).
            subjects.notes.append(
                f"viewflow's inbox and queue of {flow.__name__} redirect: "
                f"not measured for {user.username}"
            )
            continue
        page(
            f"inbox_{role}",
            f"viewflow inbox of {flow.__name__} for {user.username}",
            "tasks assigned to the user, one page, one query",
            client,
            reverse(f"{app}:inbox"),
            floors.inbox_view(flow),
        )
        page(
            f"queue_{role}",
            f"viewflow queue of {flow.__name__} for {user.username}",
            "unassigned tasks under the user's permissions, one page, one query",
            client,
            reverse(f"{app}:queue"),
            floors.queue_view(flow, user),
        )

    filters = subjects.list_filters
    matching = change_requests_visible_to(analyst).filter(**filters).count()
    pages = Paginator(range(matching), floors.LIST_PAGE_SIZE).num_pages
    for wanted in (1, 50):
        served = min(wanted, pages)
        if served != wanted:
            subjects.notes.append(
                f"filtered list: {matching} requests, page {served} instead of {wanted}"
            )
        page(
            f"change_request_list_page_{wanted}",
            f"/evolutions/?{urlencode(filters)} page {served} "
            f"({matching} requests) for {analyst.username}",
            "the same 25 rows (visible, filtered, ordered), one query, no count",
            as_analyst,
            reverse("evolutions:index"),
            floors.change_request_list_view(analyst, filters, served),
            data={**filters, "page": served},
            extra={"page": served},
        )

    history = subjects.history_request
    page(
        "change_request_detail",
        f"request {history.pk} ({history.reference}) for {analyst.username}",
        "the request's row and its history rows, two queries",
        as_analyst,
        reverse("evolutions:detail", args=[history.pk]),
        floors.change_request_detail_view(history.pk),
    )

    campaign = subjects.campaign
    page(
        "campaign_grid",
        f"grid of campaign {campaign.pk} ({campaign.campaign_cases.count()} cases) "
        f"for {tester.username}",
        "the cases with tester and latest result, one query",
        as_tester,
        reverse("recettes:grid", args=[campaign.pk]),
        floors.campaign_grid_view(campaign.pk),
    )
    page(
        "campaign_dashboard",
        f"dashboard of campaign {campaign.pk} for {owner.username}",
        "cases counted by tester and latest result, one aggregate query",
        as_owner,
        reverse("recettes:dashboard", args=[campaign.pk]),
        floors.campaign_dashboard_view(campaign.pk),
    )

    # Issue 17: a campaign's results exported (CSV), one line per case with its
    # latest execution, from a campaign of 5,000 executions.
    exported = subjects.export_campaign
    export_floor = _mounted(
        "campaign_results_export", floors.campaign_results_view(exported.pk)
    )
    export_executions = exported.executions.count()
    result.append(
        Measure(
            "campaign_results_export",
            "page",
            f"/recettes/campagnes/{exported.pk}/resultats.csv "
            f"({exported.campaign_cases.count()} cases, {export_executions} "
            f"executions) for {owner.username}, read whole",
            "the cases in order with reference, title, tester, and their latest "
            "execution's result, recorder, date and comment: one statement written "
            "once (the latest execution joined by its id), answered as JSON",
            _download(
                as_owner, reverse("recettes:campaign_export_csv", args=[exported.pk])
            ),
            _page(as_owner, export_floor),
            repeat,
            _json_rows(as_owner, export_floor),
            memory=True,
            extra={"executions": export_executions},
        )
    )

    report_request = ChangeRequest.objects.get(pk=subjects.report_request.pk)
    result.append(
        Measure(
            "report_figures",
            "read",
            f"recette.selectors.report_figures(request {report_request.pk})",
            "executions by campaign and result, defects by severity and status: "
            "two aggregates",
            lambda: report_figures(report_request),
            floors.report_figures(report_request.pk),
            repeat,
            Execution.objects.filter(campaign__change_request=report_request).count(),
        )
    )

    # The defect linked to the most executions (read once, before the measures).
    defect = (
        Defect.objects.annotate(linked=Count("executions"))
        .order_by("-linked", "pk")
        .first()
    )
    if defect is None:
        subjects.notes.append("no defect in the dataset: defect page not measured")
    else:
        page(
            "defect_page",
            f"defect page {defect.reference} of request {defect.change_request_id} "
            f"({defect.linked} executions) for {order_owner.username}",
            "the defect with its request, campaign, case and author, its executions, "
            "their evidence, its files, messages and history: six queries",
            as_order_owner,
            reverse("recettes:defect", args=[defect.pk]),
            floors.defect_page_view(defect.pk),
        )

    case_pks = list(
        campaign.campaign_cases.order_by("case__position").values_list(
            "case_id", flat=True
        )[:RESULTS_PER_REQUEST]
    )
    payload = json.dumps(
        {"results": [{"case": pk, "result": "reussi"} for pk in case_pks]}
    )
    record_url = reverse("recettes:record", args=[campaign.pk])

    def record():
        response = as_tester.post(record_url, payload, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"POST {record_url} → {response.status_code}")
        return response

    ours = floors.rolled_back(record)
    result.append(
        Measure(
            "record_500_results",
            "write",
            f"POST {len(case_pks)} results in one request as {tester.username}",
            f"Execution.objects.bulk_create of the same {len(case_pks)} rows in "
            "one transaction",
            ours,
            floors.record_bulk_create(campaign, case_pks, tester),
            repeat,
            len(case_pks),
        )
    )
    result.append(
        Measure(
            "record_500_results_vs_update",
            "peer",
            "the same request as record_500_results",
            f"one UPDATE of {len(case_pks)} execution rows (the peer's floor)",
            ours,
            floors.record_one_update(campaign, case_pks, tester),
            repeat,
            len(case_pks),
        )
    )

    # The same results as the grid sends them (issue 18): the peer's figure is its
    # interface's path, so ours is too. grid.js sends what is typed in batches of
    # up to GRID_BATCH_MAX results (one a request before it batched); a tester who
    # pauses after every result sends one a request.
    as_grid_tester = Client(enforce_csrf_checks=True)
    as_grid_tester.force_login(tester)
    csrf = _csrf_token(as_grid_tester, reverse("recettes:grid", args=[campaign.pk]))
    per_post = max(1, int(getattr(campaigns, "GRID_BATCH_MAX", 1)))
    one_per_post = floors.rolled_back(
        _grid_posts(as_grid_tester, record_url, csrf, case_pks, 1)
    )
    ui_path = (
        one_per_post
        if per_post == 1
        else floors.rolled_back(
            _grid_posts(as_grid_tester, record_url, csrf, case_pks, per_post)
        )
    )
    for name, kind, call, batch, what in (
        (
            "record_results_ui_path",
            "ui_path",
            ui_path,
            per_post,
            f"up to {per_post} a request (grid.js, GRID_BATCH_MAX)",
        ),
        (
            "record_results_one_per_post",
            "peer",
            one_per_post,
            1,
            "one a request (a tester pausing after every result)",
        ),
    ):
        requests = math.ceil(len(case_pks) / batch)
        result.append(
            Measure(
                name,
                kind,
                f"{len(case_pks)} results posted to the grid's JSON endpoint as "
                f"grid.js sends them, {what}: {requests} requests as "
                f"{tester.username}, one after the other",
                f"one UPDATE of {len(case_pks)} execution rows (the peer's floor)",
                call,
                floors.record_one_update(campaign, case_pks, tester),
                posts_repeat or repeat,
                len(case_pks),
                extra={"requests": requests, "per_request": batch},
            )
        )

    report = getattr(report_request, "acceptance_report", None) or AcceptanceReport(
        change_request=report_request, organisation=report_request.organisation
    )
    result.append(
        Measure(
            "bilan_pdf",
            "pdf",
            f"recette.pdf_data.report_pdf (request {report_request.pk})",
            "one aggregate, one query, SimpleDocTemplate with two bare Tables of "
            "the same rows and columns",
            lambda: pdf_data.report_pdf(report),
            floors.bilan_table(report_request.pk),
            pdf_repeat,
            report_request.defects.count(),
            memory=True,
        )
    )
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def run_measures(items: list[Measure], *, tier: str, warmup: int, log) -> list:
    rows = []
    # A request measured already (against another floor) is not measured again.
    measured: dict[int, tuple] = {}
    for item in items:
        log(f"{item.name} …")
        key = id(item.ours)
        if key in measured:
            [(floor_ms, floor_queries)] = timed(
                item.floor, warmup=warmup, repeat=item.repeat
            )
        else:
            measured[key], (floor_ms, floor_queries) = timed(
                item.ours, item.floor, warmup=warmup, repeat=item.repeat
            )
        median_ms, queries = measured[key]
        median_ms, floor_ms = _round(median_ms), _round(floor_ms, 3)
        row = {
            "name": item.name,
            "tier": tier,
            "queries": queries,
            "median_ms": median_ms,
            "floor_ms": floor_ms,
            "ratio": _round(median_ms / floor_ms) if floor_ms else None,
            "peak_mb": None,
            "floor_queries": floor_queries,
            "floor_peak_mb": None,
            "rows": item.rows,
            "kind": item.kind,
            "repeat": item.repeat,
            "what": item.what,
            "floor": item.floor_what,
            **(item.extra or {}),
        }
        if item.memory:
            row["peak_mb"] = _round(peak_mb(item.ours))
            row["floor_peak_mb"] = _round(peak_mb(item.floor))
        log(
            f"  {row['median_ms']} ms ({queries} requêtes), plancher "
            f"{row['floor_ms']} ms ({floor_queries}) → ×{row['ratio']}"
        )
        rows.append(row)
    return rows


def bench(
    *,
    repeat: int = 15,
    pdf_repeat: int = 5,
    posts_repeat: int | None = None,
    warmup: int = 2,
    manifest: str | None = None,
    tier: str | None = None,
    only: set[str] | None = None,
    results_path: Path = RESULTS,
    markdown_path: Path | None = MARKDOWN,
    log=print,
) -> dict:
    """Measure everything (or the measures named in `only`) and write results.json
    (and BENCHMARKS.md's table). The tier's rows are those of this run: with
    `only`, write elsewhere (`results_path`, no markdown) while trying a change."""
    from django.conf import settings
    from django.test.utils import override_settings
    from django.utils import translation

    from bench import report, subjects

    chosen = subjects.load(manifests=subjects.find_manifests(manifest), tier=tier)
    log(f"jeu de données : {chosen.tier} ({chosen.source})")
    # The floors' route lives in bench.urls, which the bench settings mount; run
    # from other settings (the tests), it is mounted for the time of the run.
    urls = (
        override_settings(ROOT_URLCONF="bench.urls")
        if settings.ROOT_URLCONF != "bench.urls"
        else nullcontext()
    )
    with urls, translation.override(settings.LANGUAGE_CODE):
        items = measures(
            chosen, repeat=repeat, pdf_repeat=pdf_repeat, posts_repeat=posts_repeat
        )
        if only:
            unknown = only - {item.name for item in items}
            if unknown:
                raise ValueError(f"no such measure: {', '.join(sorted(unknown))}")
            items = [item for item in items if item.name in only]
        rows = run_measures(items, tier=chosen.tier, warmup=warmup, log=log)
    run = report.run_info(
        tier=chosen.tier,
        subjects=chosen.describe(),
        repeat=repeat,
        pdf_repeat=pdf_repeat,
        warmup=warmup,
        posts_repeat=posts_repeat or repeat,
    )
    results = report.merge(results_path, run, rows)
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if markdown_path is not None:
        report.write_markdown(markdown_path, results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="pages, services")
    parser.add_argument("--pdf-repeat", type=int, default=5, help="bilan PDF")
    parser.add_argument(
        "--posts-repeat",
        type=int,
        help="results posted as the grid does, each call up to 500 requests "
        "(default: --repeat)",
    )
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--manifest", help="generate_dataset's manifest (JSON)")
    parser.add_argument("--tier", help="tier to record (default: the manifest's)")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--markdown", default=str(MARKDOWN))
    parser.add_argument(
        "--only",
        help="measure only these (comma-separated names); with --output elsewhere "
        "and --markdown '' while trying a change",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    bench(
        repeat=args.repeat,
        pdf_repeat=args.pdf_repeat,
        posts_repeat=args.posts_repeat,
        warmup=args.warmup,
        manifest=args.manifest,
        tier=args.tier,
        only=set(args.only.split(",")) if args.only else None,
        results_path=Path(args.output),
        markdown_path=Path(args.markdown) if args.markdown else None,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
