"""The generated "Load test" tables of BENCHMARKS.md, from bench/load.json."""

from pathlib import Path

START = "<!-- load:start — `make loadtest` rewrites what follows, up to load:end -->"
END = "<!-- load:end -->"


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _ms(value) -> str:
    return "—" if value is None else f"{value:g}"


def _run_line(run: dict, *, per: str = "step") -> str:
    machine, database, method = run["machine"], run["database"], run["method"]
    seconds = method["step_seconds"] if per == "step" else method["phase_seconds"]
    served = method.get("served", "this checkout")
    dataset = run["dataset"]
    return (
        f"Run of {run['date']} on {machine['cpu']}, {machine['cores']} cores "
        f"(load average before {machine['load_average_before'][0]}), Python "
        f"{machine['python']}, Django {machine['django']}, gunicorn "
        f"{machine['gunicorn']} ({method['workers']} sync workers, DEBUG=0), "
        f"PostgreSQL {database['version']} (`{database['name']}`), dataset "
        f"`{dataset['tier']}` ({dataset['change_requests']} change requests, "
        f"{dataset['open_campaigns']} open campaigns, {dataset['executions']} "
        f"executions); code served: {served}; {seconds:g} s per {per}, think time "
        f"{method['think_seconds']:g} s ±50 %, seed {method['seed']}, up to "
        f"{run.get('batch', method['grid_batch_max'])} result(s) per grid POST."
    )


def _cpu_cells(step: dict) -> list[str]:
    per = step["cpu_per_request"]
    return [
        _ms(per["server_ms"]),
        f"{_ms(per['postgres_ms'])} ({_ms(per['postgres_ours_ms'])})",
        _ms(step["cpu"]["machine_busy_cores"]),
    ]


def _locks(step: dict) -> str:
    """The lock kinds our backends waited for, by share of pg_stat_activity
    readings (one every 0.1 s) in which at least one did."""
    waits = step.get("lock_waits")
    if not waits:
        return "—"
    shares = [
        f"{event} {share * 100:.0f} %"
        for event, share in sorted(waits["waiting"].items(), key=lambda kv: -kv[1])
        if share >= 0.005
    ]
    return ", ".join(shares) or "none"


def _errors(phases) -> list[str]:
    lines = []
    for phase in phases:
        if phase["first_errors"]:
            label = phase.get("name") or f"{phase['users']} users"
            shown = "; ".join(f"`{e}`" for e in phase["first_errors"])
            lines.append(f"- {label}: {phase['errors']} errors, first: {shown}")
    return lines


def _mixed(run: dict) -> list[str]:
    steps = run["steps"]
    lines = [_run_line(run), ""]
    lines += _table(
        (
            "users",
            "req/s",
            "requests",
            "errors",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "gunicorn CPU ms/req",
            "PostgreSQL CPU ms/req (our database)",
            "cores busy",
            "lock waits",
        ),
        [
            (
                step["users"],
                _ms(step["req_per_s"]),
                step["requests"],
                step["errors"],
                _ms(step["all"]["p50_ms"]),
                _ms(step["all"]["p95_ms"]),
                _ms(step["all"]["p99_ms"]),
                *_cpu_cells(step),
                _locks(step),
            )
            for step in steps
        ],
    )
    endpoints = sorted({name for step in steps for name in step["endpoints"]})
    lines += ["", "p50 / p95 / p99 ms (requests) per endpoint:", ""]
    lines += _table(
        ("endpoint", *(f"{step['users']} users" for step in steps)),
        [
            (
                f"`{name}`",
                *(
                    "{} / {} / {} ({})".format(
                        _ms(cell["p50_ms"]),
                        _ms(cell["p95_ms"]),
                        _ms(cell["p99_ms"]),
                        cell["requests"],
                    )
                    if (cell := step["endpoints"].get(name))
                    else "—"
                    for step in steps
                ),
            )
            for name in endpoints
        ],
    )
    errors = _errors(steps)
    return lines + (["", *errors] if errors else [])


def _verdict(target: dict) -> str:
    if target["measured"] is None:
        return f"{target['what']}: not measured (target ≤ ×{target['limit']:g})"
    met = "met" if target["met"] else "**missed**"
    return (
        f"{target['what']}: ×{target['measured']:g} (target ≤ "
        f"×{target['limit']:g}): {met}."
    )


def _contention(run: dict) -> list[str]:
    phases = run["phases"]
    lines = [_run_line(run, per="phase"), ""]
    lines += _table(
        (
            "testers",
            "campaigns",
            "POSTs",
            "results",
            "req/s",
            "record p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "gunicorn CPU ms/req",
            "PostgreSQL CPU ms/req (our database)",
            "cores busy",
            "lock waits",
        ),
        [
            (
                f"{phase['users']}, {phase['name']}",
                phase["campaigns"],
                (record := phase["endpoints"].get("record", {})).get("requests", 0),
                phase["results_recorded"],
                _ms(phase["req_per_s"]),
                _ms(record.get("p50_ms")),
                _ms(record.get("p95_ms")),
                _ms(record.get("p99_ms")),
                phase["errors"],
                *_cpu_cells(phase),
                _locks(phase),
            )
            for phase in phases
        ],
    )
    lines += ["", _verdict(run["target"])]
    errors = _errors(phases)
    return lines + (["", *errors] if errors else [])


def _stall(run: dict) -> list[str]:
    phases = run["phases"]
    lines = [_run_line(run, per="phase"), ""]
    lines += _table(
        (
            "phase",
            "users",
            "refusals",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "bilans submitted (p50 / p95 ms each)",
            "gunicorn CPU ms/req",
            "cores busy",
            "lock waits",
        ),
        [
            (
                phase["name"],
                phase["users"],
                (refused := phase["endpoints"].get("refused", {})).get("requests", 0),
                _ms(refused.get("p50_ms")),
                _ms(refused.get("p95_ms")),
                _ms(refused.get("p99_ms")),
                phase["errors"],
                f"{phase['submits']} ({_ms(phase['submit_p50_ms'])} / "
                f"{_ms(phase['submit_p95_ms'])})"
                if "submits" in phase
                else "—",
                _ms(phase["cpu_per_request"]["server_ms"]),
                _ms(phase["cpu"]["machine_busy_cores"]),
                _locks(phase),
            )
            for phase in phases
        ],
    )
    lines += ["", _verdict(run["target"])]
    errors = _errors(phases)
    return lines + (["", *errors] if errors else [])


SECTIONS = (
    ("mixed", "Mixed profile", _mixed),
    ("contention", "Contention: one campaign or spread", _contention),
    ("stall", "Refusals while bilans are submitted", _stall),
)


def generated_markdown(results: dict) -> str:
    lines: list[str] = []
    for key, title, section in SECTIONS:
        lines += [f"### {title}", ""]
        run = results["scenarios"].get(key)
        if run is None:
            lines.append(f"Not run yet: `make loadtest LOAD_ARGS='--scenario {key}'`.")
        else:
            lines += section(run)
        lines.append("")
    return "\n".join(lines).rstrip()


def write_markdown(path: Path, results: dict) -> None:
    """Rewrite the part between the load markers, keep the rest of the file."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    generated = f"{START}\n\n{generated_markdown(results)}\n\n"
    if START in text and END in text:
        before = text.split(START, 1)[0]
        after = text.split(END, 1)[1]
        text = f"{before}{generated}{END}{after}"
    else:
        text = f"{text.rstrip()}\n\n{generated}{END}\n"
    path.write_text(text)
