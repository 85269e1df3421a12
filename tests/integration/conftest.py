"""Real services for the integration tests: Celery workers on Redis, an SMTP server."""

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


THREADS = 8
REPETITIONS = 20


def race(action, threads: int = THREADS) -> list:
    """Run `action` in `threads` threads, each on its own database connection,
    released together by a barrier; return each outcome (result or exception)."""
    barrier = threading.Barrier(threads)
    outcomes: list = [None] * threads

    def run(index):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = action()
        except Exception as exc:  # the outcome is what the tests assert on
            outcomes[index] = exc
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return outcomes


def wait_until(predicate, *, timeout: float, what: str):
    """Poll `predicate` until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"délai dépassé ({timeout:.0f} s) : {what}")
        pause.wait(0.1)


def test_database_url() -> str:
    """DATABASE_URL pointing at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def real_broker():
    """Send tasks to the real broker, on a queue of this test's own."""
    from tandem.celery import app

    previous = app.conf.task_always_eager, app.conf.task_default_queue
    queue = f"tandem-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    yield app
    app.conf.task_always_eager, app.conf.task_default_queue = previous


class Worker:
    """A real `celery worker` process (its own session, so SIGKILL takes it all)."""

    def __init__(
        self, app, tmp_path: Path, *, smtp_port: int = 25, beat=False, concurrency=2
    ):
        self.queue = app.conf.task_default_queue
        self.hostname = f"{self.queue}-{uuid.uuid4().hex[:4]}@%h"
        command = [
            sys.executable, "-m", "celery", "-A", "tandem", "worker",
            "--pool=prefork", f"--concurrency={concurrency}", "--queues", self.queue,
            "--loglevel=WARNING", "--without-mingle", "--without-gossip",
            "--hostname", self.hostname,
        ]  # fmt: skip
        if beat:
            command.append("--beat")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            start_new_session=True,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tandem.settings",
                "DATABASE_URL": test_database_url(),
                "CELERY_TASK_DEFAULT_QUEUE": self.queue,
                "TANDEM_VAR_DIR": str(tmp_path),
                "EMAIL_BACKEND": "smtp",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "EMAIL_TIMEOUT": "5",
                # Short enough for a test, yet longer than any send on a loaded
                # machine: a dead worker's rows come back in 15 s, retries after
                # 1 s then 2 s, the relay runs every second.
                "TANDEM_NOTIFICATION_LEASE_SECONDS": "15",
                "TANDEM_NOTIFICATION_RETRY_SECONDS": "1",
                "TANDEM_NOTIFICATION_RELAY_SECONDS": "1",
            },
        )

    def kill(self):
        """SIGKILL the worker and its pool: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        """Warm shutdown: the tasks being run are finished first."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(real_broker, tmp_path):
    workers = []

    def start(**kwargs) -> Worker:
        worker = Worker(real_broker, tmp_path, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


class SmtpRecorder:
    """An SMTP server on 127.0.0.1 that records what it accepted, by Message-ID.

    It can refuse the first attempts to an address (451), and hold the n-th message
    it receives until the test releases it, refusing everything from then on until
    `resume()` (a message in the middle of its DATA when the worker is killed).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.failures_left: dict[str, int] = {}
        self.hold_at: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.down = False
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        message_id = email.message_from_bytes(envelope.original_content)["Message-ID"]
        with self.lock:
            self.received += 1
            refuse = self.down
            for rcpt in envelope.rcpt_tos:
                if self.failures_left.get(rcpt, 0) > 0:
                    self.failures_left[rcpt] -= 1
                    refuse = True
            hold = not refuse and self.received == self.hold_at
            if hold:
                self.down = True
        if hold:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(
                None, self.release.wait, 60
            )
            refuse = True
        with self.lock:
            (self.refused if refuse else self.accepted).append(message_id)
        if refuse:
            return "451 4.3.0 Service momentanement indisponible"
        return "250 2.0.0 OK"

    def resume(self):
        with self.lock:
            self.down = False

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.accepted)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    recorder.port = controller.port
    yield recorder
    recorder.release.set()
    controller.stop()
