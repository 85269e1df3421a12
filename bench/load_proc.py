"""The load test's processes: gunicorn started and stopped under the production
settings, and the CPU time of gunicorn and PostgreSQL read from /proc.

CPU is counted in clock ticks (utime + stime, and cutime + cstime: the time of
children already reaped, so that a worker or a backend that ends during a step
still counts). A process tree's total at the end of a step minus its total at
the start is the CPU it spent in the step, whatever processes came and went.
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """What the load test reads of /proc/<pid>/stat."""

    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def ticks(self) -> int:
        """CPU of the process and of its reaped children, in clock ticks."""
        return self.utime + self.stime + self.cutime + self.cstime


def parse_stat(line: str) -> ProcStat:
    """One /proc/<pid>/stat line. The command name is in parentheses and may hold
    spaces and parentheses itself: the fields start after the last ")"."""
    head, _, rest = line.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = rest.split()
    # fields[0] is field 3 of proc(5) (state): utime is field 14, cstime 17.
    return ProcStat(
        pid=int(pid),
        comm=comm,
        ppid=int(fields[1]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def processes(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    """Every process readable now, by pid (one that ends while read is skipped)."""
    found = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            found[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
    return found


def tree_ticks(table: dict[int, ProcStat], root: int) -> int:
    """CPU ticks of `root` and every living descendant (reaped ones are in their
    parent's cutime and cstime)."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if pid in table:
            total += table[pid].ticks
            pending.extend(children.get(pid, ()))
    return total


def named_ticks(table: dict[int, ProcStat], comm: str) -> int:
    """CPU ticks of every process called `comm` (PostgreSQL: the postmaster, whose
    cutime holds the backends that ended, and every living backend)."""
    return sum(stat.ticks for stat in table.values() if stat.comm == comm)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def database_backends(table: dict[int, ProcStat], database: str) -> dict[int, int]:
    """CPU ticks of the PostgreSQL backends connected to `database`, by pid (their
    title reads "postgres: user database host(port) state")."""
    marker = f" {database} "
    return {
        pid: stat.utime + stat.stime
        for pid, stat in table.items()
        if stat.comm == "postgres" and marker in _cmdline(pid)
    }


def machine_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the machine since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


class CpuWindow:
    """CPU spent during a step by gunicorn, PostgreSQL and the machine.

    The backends of our database are also read every `every` seconds while the
    step runs: a backend that ends (Django closes connections older than
    CONN_MAX_AGE) still counts up to its last reading.
    """

    def __init__(self, *, server_root: int, database: str, every: float = 0.25):
        self.server_root, self.database, self.every = server_root, database, every

    def start(self) -> None:
        table = processes()
        self._server = tree_ticks(table, self.server_root)
        self._postgres = named_ticks(table, "postgres")
        self._backends_first = database_backends(table, self.database)
        self._backends_last = dict(self._backends_first)
        self._machine = machine_ticks()
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self._backends_last.update(database_backends(processes(), self.database))

    def stop(self) -> dict:
        """Milliseconds of CPU since start(): gunicorn (master, workers and their
        children), every postgres process, the backends of our database alone,
        and the machine's busy cores on average."""
        seconds = time.perf_counter() - self._started
        self._stop.set()
        self._sampler.join()
        table = processes()
        self._backends_last.update(database_backends(table, self.database))
        busy, total = machine_ticks()
        ms = 1000 / TICKS_PER_SECOND
        ours = sum(
            ticks - self._backends_first.get(pid, 0)
            for pid, ticks in self._backends_last.items()
        )
        busy_delta, total_delta = busy - self._machine[0], total - self._machine[1]
        cores = os.cpu_count() or 1
        return {
            "seconds": round(seconds, 2),
            "server_ms": (tree_ticks(table, self.server_root) - self._server) * ms,
            "postgres_ms": (named_ticks(table, "postgres") - self._postgres) * ms,
            "postgres_ours_ms": ours * ms,
            "machine_busy_cores": round(busy_delta / total_delta * cores, 2)
            if total_delta
            else 0.0,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(
    *, var_dir: Path, audit_key: str, media: dict[str, str]
) -> dict[str, str]:
    """Production settings (README, "Running in production") for gunicorn on
    127.0.0.1 behind no proxy: the driver sends what the TLS proxy would
    (X-Forwarded-Proto: https), so the https redirect, HSTS and the Secure
    __Host- cookies stay as in production. The audit key is the one the dataset
    was sealed with, so that verify_audit still passes on the database; the
    stored documents are the installation's (`media`: MEDIA_ROOT and
    PRIVATE_MEDIA_ROOT)."""
    secret = os.environ.get("SECRET_KEY", "")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tandem.settings",
        "DEBUG": "0",
        "SECRET_KEY": secret if len(secret) >= 50 else secrets.token_urlsafe(64),
        "TANDEM_AUDIT_KEY": audit_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "EMAIL_BACKEND": "memory",
        "TANDEM_VAR_DIR": str(var_dir),
        **media,
    }


class Server:
    """gunicorn serving tandem.wsgi on a free port of 127.0.0.1."""

    def __init__(self, *, root: Path, env: dict, workers: int, log: Path):
        self.root, self.env, self.workers, self.log = root, env, workers, log
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def collect_static(self) -> None:
        """The hashed static files the production pages link (incremental)."""
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=self.root,
            env=self.env,
            check=True,
        )

    def start(self, ready: "callable", timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "tandem.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "10",
                    "--log-level",
                    "warning",
                ],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start: see {self.log}")
            with contextlib.suppress(OSError):
                if ready():
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"gunicorn did not answer within {timeout} s: see {self.log}"
        )

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class LockWatch:
    """Which locks the requests of our database wait for: pg_stat_activity read
    every `every` seconds while a step runs, from a connection to the server's
    `postgres` database (not counted with ours)."""

    QUERY = (
        "SELECT wait_event FROM pg_stat_activity WHERE datname = %s "
        "AND state = 'active' AND wait_event_type = 'Lock'"
    )

    def __init__(self, connection_settings: dict, every: float = 0.1):
        self.settings, self.every = connection_settings, every

    def start(self) -> None:
        import psycopg

        self._connection = psycopg.connect(
            host=self.settings["HOST"] or None,
            port=self.settings["PORT"] or None,
            user=self.settings["USER"] or None,
            password=self.settings["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )
        self._samples, self._waiting = 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        with self._connection.cursor() as cursor:
            while not self._stop.wait(self.every):
                cursor.execute(self.QUERY, [self.settings["NAME"]])
                self._samples += 1
                for event in {row[0] for row in cursor.fetchall()}:
                    self._waiting[event] = self._waiting.get(event, 0) + 1

    def stop(self) -> dict:
        """Per lock kind (advisory, tuple, transactionid…), the share of the
        readings in which at least one backend of ours waited for one."""
        self._stop.set()
        self._thread.join()
        self._connection.close()
        samples = self._samples or 1
        return {
            "samples": self._samples,
            "waiting": {
                event: round(count / samples, 3)
                for event, count in sorted(self._waiting.items())
            },
        }
