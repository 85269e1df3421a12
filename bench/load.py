"""`make loadtest`: Tandem served by gunicorn as in production, under simulated
users, step by step; reports req/s, latency percentiles per endpoint, errors and
the CPU milliseconds gunicorn and PostgreSQL spend per request.

    .venv/bin/python -m bench.load [--scenario all|mixed|contention|stall]
        [--steps 10,25,50,100] [--step-seconds 30] [--phase-seconds 20]
        [--workers 2×cores+1] [--think 1.0] [--seed 42] [--warmup 5]
        [--manifest var/dataset-small.json] [--contention-users 50]
        [--stall-users 10] [--server-root DIR] [--no-write]

Scenarios (BENCHMARKS.md, "Load test"):
- mixed: testers (the campaign grid, then results posted as grid.js posts them),
  request and order owners (« Mes tâches », the change-request list and pages)
  and DSIs (dashboards, acceptance pages, now and then the bilan PDF), 5:3:2, at
  each number of users of --steps;
- contention: N testers recording in one campaign, then N spread over every open
  campaign (target: one campaign's p95 within 1.5× the spread one's);
- stall: client users asking for another organisation's change request (404,
  journalled), alone, then while another process submits a bilan again and again
  (target: p95 during within 2× the median alone).

The server runs on DATABASE_URL (PostgreSQL, on this machine: its processes'
CPU is read from /proc), with the production settings (DEBUG=0); the driver is
this process, threads with a connection each; its own CPU is not counted.
Writes bench/load.json and the "Load test" tables of BENCHMARKS.md.
"""

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.load_proc import CpuWindow, LockWatch, Server, server_environment
from bench.load_users import (
    LOGIN_PATH,
    HttpSession,
    Outcome,
    log_in,
    simulated_user,
    timed_sender,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "load.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
SCENARIOS = ("mixed", "contention", "stall")
CONTENTION_LIMIT = 1.5  # one campaign's record p95, to the spread one's
STALL_LIMIT = 2.0  # refusals' p95 while bilans are submitted, to their median alone
FIRST_ERRORS = 5


def percentile(values, q: float) -> float | None:
    """The q-th percentile (0–100) of `values`, interpolated between the two
    nearest ranks (numpy's default); None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def latency(outcomes) -> dict:
    """Count, errors and p50/p95/p99 in ms of some outcomes."""
    times = [o.ms for o in outcomes]
    return {
        "requests": len(times),
        "errors": sum(not o.ok for o in outcomes),
        "p50_ms": _rounded(percentile(times, 50)),
        "p95_ms": _rounded(percentile(times, 95)),
        "p99_ms": _rounded(percentile(times, 99)),
    }


def summarise(outcomes, cpu: dict, *, users: int) -> dict:
    """One step: its throughput, latencies per endpoint, errors, and CPU per
    request (gunicorn; every postgres process; the backends of our database)."""
    count = len(outcomes)
    endpoints = sorted({o.endpoint for o in outcomes})
    failed = [o for o in outcomes if not o.ok]
    per_request = {
        key: _rounded(cpu[key] / count, 2) if count else None
        for key in ("server_ms", "postgres_ms", "postgres_ours_ms")
    }
    return {
        "users": users,
        "seconds": cpu["seconds"],
        "requests": count,
        "req_per_s": _rounded(count / cpu["seconds"], 1) if cpu["seconds"] else None,
        "results_recorded": sum(o.results for o in outcomes if o.ok),
        "all": latency(outcomes),
        "endpoints": {
            name: latency([o for o in outcomes if o.endpoint == name])
            for name in endpoints
        },
        "errors": len(failed),
        "first_errors": [o.error for o in failed[:FIRST_ERRORS]],
        "cpu": {
            key: _rounded(value, 1) for key, value in cpu.items() if key != "lock_waits"
        },
        "lock_waits": cpu.get("lock_waits"),
        "cpu_per_request": per_request,
    }


class Crowd:
    """The simulated users, each logged in once with a session of its own."""

    def __init__(self, server: Server, *, log, locks: LockWatch | None = None):
        self.server, self.log, self.locks = server, log, locks
        self.users: list = []
        self.sessions: list[HttpSession] = []

    def join(self, users: list) -> None:
        """Log the new users in, a few at a time (not measured)."""
        sessions = [HttpSession("127.0.0.1", self.server.port) for _ in users]
        with ThreadPoolExecutor(max_workers=self.server.workers * 2) as pool:
            list(
                pool.map(
                    lambda pair: log_in(pair[1], pair[0].account.username),
                    zip(users, sessions, strict=True),
                )
            )
        self.users += users
        self.sessions += sessions
        self.log(f"  {len(users)} users logged in ({len(self.users)} in all)")

    def prepare(self, indexes) -> None:
        outcomes: list = []
        for index in indexes:
            self.users[index].prepare(timed_sender(self.sessions[index], outcomes))
        failed = [o.error for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"preparation failed: {failed[:3]}")

    def run(self, indexes, seconds: float, cpu: CpuWindow | None) -> tuple:
        """The users of `indexes` acting for `seconds`: their outcomes, and the
        CPU spent meanwhile (every request has ended when it is read)."""
        stop = threading.Event()
        lists = {index: [] for index in indexes}

        def act(index):
            user = self.users[index]
            send = timed_sender(self.sessions[index], lists[index])
            # A first pause spreads the users' first requests.
            if stop.wait(user.rng.uniform(0, user.think)):
                return
            while not stop.is_set():
                try:
                    user.act(send)
                except Exception as error:  # a page the user could not read
                    lists[index].append(Outcome("page", 0, 0.0, False, repr(error)))
                if stop.wait(user.think_time()):
                    return

        threads = [threading.Thread(target=act, args=(i,)) for i in indexes]
        driver = resource.getrusage(resource.RUSAGE_SELF)
        if cpu:
            cpu.start()
            if self.locks:
                self.locks.start()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        used = cpu.stop() if cpu else {"seconds": seconds}
        if cpu and self.locks:
            used["lock_waits"] = self.locks.stop()
        after = resource.getrusage(resource.RUSAGE_SELF)
        used["driver_ms"] = (
            after.ru_utime + after.ru_stime - driver.ru_utime - driver.ru_stime
        ) * 1000
        return [o for index in indexes for o in lists[index]], used


def _users(accounts, *, seed: int, think: float, batch: int, offset: int = 0):
    return [
        simulated_user(account, seed=seed * 1000 + offset + i, think=think, batch=batch)
        for i, account in enumerate(accounts)
    ]


def _grid_batch() -> int:
    """Results grid.js sends in one POST at most (GRID_BATCH_MAX, once the grid
    batches; one result per POST before)."""
    from recette.services import campaigns

    return max(1, int(getattr(campaigns, "GRID_BATCH_MAX", 1)))


def scenario_mixed(crowd: Crowd, options, plan, cpu: CpuWindow) -> dict:
    steps = options.steps
    accounts = plan["mixed"]
    users = _users(
        accounts, seed=options.seed, think=options.think, batch=plan["batch"]
    )
    results = []
    for n in steps:
        crowd.log(f"mixed: {n} users")
        missing = users[len(crowd.users) : n]
        if missing:
            crowd.join(missing)
        if not results and options.warmup:
            crowd.run(range(n), options.warmup, None)
        outcomes, used = crowd.run(range(n), options.step_seconds, cpu)
        step = summarise(outcomes, used, users=n)
        crowd.log(_step_line(step))
        results.append(step)
    return {"steps": results, "accounts": len({a.username for a in accounts})}


def contention_users(plan, name: str, options, *, offset: int) -> list:
    """The testers of one contention phase: the grid opened once, then only
    results, as many per POST in both phases (plan["contention batch"])."""
    users = _users(
        plan[name],
        seed=options.seed,
        think=options.think,
        batch=plan["contention batch"],
        offset=offset,
    )
    for user in users:
        user.reload_grid = False
    return users


def scenario_contention(crowd: Crowd, options, plan, cpu: CpuWindow) -> dict:
    n = options.contention_users
    phases = []
    for name in ("one campaign", "spread"):
        accounts = plan[name]
        campaigns = len({a.campaign for a in accounts})
        crowd.log(f"contention: {n} testers, {name} ({campaigns} campaigns)")
        users = contention_users(plan, name, options, offset=len(crowd.users))
        first = len(crowd.users)
        crowd.join(users)
        indexes = range(first, first + n)
        crowd.prepare(indexes)
        outcomes, used = crowd.run(indexes, options.phase_seconds, cpu)
        step = summarise(outcomes, used, users=n)
        step.update(name=name, campaigns=campaigns)
        crowd.log(_step_line(step))
        phases.append(step)
    one, spread = (phase["endpoints"].get("record", {}) for phase in phases)
    ratio = (
        round(one["p95_ms"] / spread["p95_ms"], 2)
        if one.get("p95_ms") and spread.get("p95_ms")
        else None
    )
    return {
        "phases": phases,
        "batch": plan["contention batch"],
        "target": {
            "what": "record p95, one campaign ÷ spread",
            "limit": CONTENTION_LIMIT,
            "measured": ratio,
            "met": ratio is not None and ratio <= CONTENTION_LIMIT,
        },
    }


def scenario_stall(crowd: Crowd, options, plan, cpu: CpuWindow, env: dict) -> dict:
    accounts = plan["refusers"]
    users = _users(
        accounts,
        seed=options.seed,
        think=options.think,
        batch=1,
        offset=len(crowd.users),
    )
    first = len(crowd.users)
    crowd.join(users)
    indexes = range(first, first + len(users))
    phases = []
    crowd.log(f"stall: {len(users)} users refused, alone")
    outcomes, used = crowd.run(indexes, options.phase_seconds, cpu)
    phases.append({**summarise(outcomes, used, users=len(users)), "name": "alone"})
    crowd.log(_step_line(phases[-1]))
    report = plan["report"]
    if report is None:
        crowd.log("stall: no draft bilan report_submit accepts; not measured during")
        submitted = None
    else:
        crowd.log(f"stall: the same, while bilan {report[0]} is submitted repeatedly")
        # Run as a script from the served code, so that it submits with that code.
        submitter = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                str(ROOT / "bench" / "load_submit.py"),
                "--report",
                str(report[0]),
                "--username",
                report[1],
                "--seconds",
                str(options.phase_seconds + 0.5),
            ],
            cwd=crowd.server.root,
            env={**env, "PYTHONPATH": str(crowd.server.root)},
            stdout=subprocess.PIPE,
            text=True,
        )
        # Django's start-up in the submitter, before the measured window.
        if submitter.stdout.readline().strip() != "ready":
            raise RuntimeError("the submitting process did not start")
        outcomes, used = crowd.run(indexes, options.phase_seconds, cpu)
        out, _ = submitter.communicate(timeout=120)
        submitted = json.loads(out.strip().splitlines()[-1])
        phases.append(
            {
                **summarise(outcomes, used, users=len(users)),
                "name": "during bilan submissions",
                "submits": submitted["submits"],
                "submit_p50_ms": _rounded(percentile(submitted["ms"], 50)),
                "submit_p95_ms": _rounded(percentile(submitted["ms"], 95)),
            }
        )
        crowd.log(_step_line(phases[-1]))
    alone = phases[0]["endpoints"].get("refused", {})
    during = phases[-1]["endpoints"].get("refused", {}) if submitted else {}
    ratio = (
        round(during["p95_ms"] / alone["p50_ms"], 2)
        if during.get("p95_ms") and alone.get("p50_ms")
        else None
    )
    return {
        "phases": phases,
        "report": report[0] if report else None,
        "target": {
            "what": "refusal p95 during submissions ÷ median alone",
            "limit": STALL_LIMIT,
            "measured": ratio,
            "met": ratio is not None and ratio <= STALL_LIMIT,
        },
    }


def _step_line(step: dict) -> str:
    per = step["cpu_per_request"]
    return (
        f"  {step['requests']} requests, {step['req_per_s']} req/s, "
        f"p95 {step['all']['p95_ms']} ms, {step['errors']} errors; CPU ms/request: "
        f"gunicorn {per['server_ms']}, PostgreSQL {per['postgres_ms']} "
        f"(our database {per['postgres_ours_ms']}); "
        f"{step['cpu']['machine_busy_cores']} cores busy; lock waits: "
        f"{(step['lock_waits'] or {}).get('waiting')}"
    )


def _manifest(explicit: str | None) -> dict:
    """The dataset's manifest, when one describes this database: its campaign of
    500 cases and its bilan of 2,000 executions are used first."""
    from django.conf import settings

    from recette.models import Campaign

    candidates = (
        [Path(explicit)]
        if explicit
        else sorted(
            Path(settings.VAR_DIR).glob("dataset*.json"),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    )
    for path in candidates:
        data = json.loads(path.read_text())
        campaign = Campaign.objects.filter(pk=data.get("campaign_500") or 0).first()
        if campaign and campaign.campaign_cases.count() == data.get(
            "campaign_500_cases"
        ):
            return {**data, "path": str(path)}
    return {}


def _run_info(options, *, workers: int, manifest: dict, batch: int) -> dict:
    from importlib.metadata import version

    import django
    from django.contrib.auth import get_user_model
    from django.db import connection

    from evolutions.models import ChangeRequest
    from recette.models import Campaign, Execution

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        database_version = cursor.fetchone()[0]
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in info if "model name" in ln), cpu
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "python": sys.version.split()[0],
            "django": django.get_version(),
            "gunicorn": version("gunicorn"),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "database": {
            "version": database_version,
            "name": connection.settings_dict["NAME"],
        },
        "dataset": {
            "tier": manifest.get("tier", "unknown"),
            "users": get_user_model().objects.count(),
            "change_requests": ChangeRequest.objects.count(),
            "open_campaigns": Campaign.objects.filter(
                status=Campaign.Status.OPEN
            ).count(),
            "executions": Execution.objects.count(),
        },
        "method": {
            "workers": workers,
            "step_seconds": options.step_seconds,
            "phase_seconds": options.phase_seconds,
            "think_seconds": options.think,
            "seed": options.seed,
            "warmup_seconds": options.warmup,
            "grid_batch_max": batch,
            "served": options.server_root or "this checkout",
        },
    }


def _plan(options, manifest: dict, batch: int) -> dict:
    """Every scenario's accounts and objects, chosen before the server starts."""
    from bench import load_plan

    def seeded():
        return random.Random(options.seed)  # noqa: S311 - repeatable, not secret

    first = manifest.get("campaign_500")
    campaigns = load_plan.open_campaigns(first)
    n = options.contention_users
    one, spread = (
        load_plan.tester_accounts(n, campaigns[:1]),
        load_plan.tester_accounts(n, campaigns),
    )
    return {
        "batch": batch,
        # Like for like: the same results per POST in both phases.
        "contention batch": min(batch, load_plan.smallest_grid(one + spread)),
        "mixed": load_plan.mixed_accounts(max(options.steps), seeded(), first),
        "one campaign": one,
        "spread": spread,
        "refusers": load_plan.refuser_accounts(options.stall_users, seeded()),
        "report": load_plan.submittable_report(manifest.get("report_2000")),
    }


def load_test(options, *, log=print) -> dict:
    """Run the chosen scenarios; returns what load.json records of them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections

    from bench import load_plan

    if connection.vendor != "postgresql":
        raise SystemExit(
            "make loadtest needs PostgreSQL on this machine (DATABASE_URL)"
        )
    scenarios = SCENARIOS if options.scenario == "all" else (options.scenario,)
    manifest = _manifest(options.manifest)
    batch = _grid_batch()
    plan = _plan(options, manifest, batch)
    workers = options.workers or 2 * (os.cpu_count() or 1) + 1
    info = _run_info(options, workers=workers, manifest=manifest, batch=batch)
    names = {
        account.username
        for key in ("mixed", "one campaign", "spread", "refusers")
        for account in plan[key]
    }
    given = load_plan.prepare_passwords(names)
    if given:
        log(f"{given} generated accounts given the demo password")
    database = connection.settings_dict["NAME"]
    database_settings = dict(connection.settings_dict)
    env = server_environment(
        var_dir=Path(settings.VAR_DIR) / "load",
        audit_key=settings.TANDEM_AUDIT_KEY,
        media={
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
        },
    )
    # Statistics as autovacuum keeps them in production (it may be off on the
    # bench machine): the rows of earlier runs, client keys among them, would
    # otherwise be planned on the dataset's first statistics.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connections.close_all()  # no idle backend of ours during the run
    served = Path(options.server_root or ROOT).resolve()
    server = Server(
        root=served,
        env=env,
        workers=workers,
        log=Path(env["TANDEM_VAR_DIR"]) / "gunicorn.log",
    )
    log(f"collectstatic, then gunicorn: {workers} workers on port {server.port}")
    server.collect_static()

    def ready() -> bool:
        probe = HttpSession("127.0.0.1", server.port, timeout=5)
        try:
            return probe.request("GET", LOGIN_PATH, None, {}).status == 200
        finally:
            probe.close()

    server.start(ready)
    results = {}
    try:
        cpu = CpuWindow(server_root=server.pid, database=database)
        crowd = Crowd(server, log=log, locks=LockWatch(database_settings))
        for name in scenarios:
            started = time.monotonic()
            if name == "mixed":
                outcome = scenario_mixed(crowd, options, plan, cpu)
            elif name == "contention":
                outcome = scenario_contention(crowd, options, plan, cpu)
            else:
                outcome = scenario_stall(crowd, options, plan, cpu, env)
            results[name] = {
                **info,
                **outcome,
                "wall_seconds": round(time.monotonic() - started, 1),
            }
        for session in crowd.sessions:
            session.close()
    finally:
        server.stop()
    return results


def merge(path: Path, runs: dict) -> dict:
    """This run's scenarios, plus the others of the previous file."""
    previous = json.loads(path.read_text()) if path.exists() else {}
    return {"schema": 1, "scenarios": {**previous.get("scenarios", {}), **runs}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    parser.add_argument(
        "--steps",
        default="10,25,50,100",
        type=lambda v: [int(n) for n in v.split(",") if n.strip()],
        help="simulated users at each step of the mixed profile",
    )
    parser.add_argument("--step-seconds", type=float, default=30)
    parser.add_argument(
        "--phase-seconds",
        type=float,
        default=20,
        help="seconds of each phase of the contention and stall scenarios",
    )
    parser.add_argument("--warmup", type=float, default=5, help="seconds, unmeasured")
    parser.add_argument("--workers", type=int, help="gunicorn workers (2×cores+1)")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--manifest", help="generate_dataset's manifest (JSON)")
    parser.add_argument("--contention-users", type=int, default=50)
    parser.add_argument("--stall-users", type=int, default=10)
    parser.add_argument(
        "--server-root",
        help="serve another copy of Tandem (e.g. `git archive` of an earlier "
        "commit) on the same database, for a before/after",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only: no load.json, no tables"
    )
    options = parser.parse_args()
    runs = load_test(options)
    if options.no_write:
        print(json.dumps(runs, indent=1))
        return
    from bench import load_report

    results = merge(RESULTS, runs)
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    load_report.write_markdown(MARKDOWN, results)
    print(f"Written: {RESULTS.relative_to(ROOT)}, {MARKDOWN.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
