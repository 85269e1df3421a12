"""A live Tandem installation for the scale-out test: its own PostgreSQL database,
application servers, Celery workers and beat as separate processes, and an HTTP
client that talks to the servers in turn.

Nothing here is a Django test client: every request crosses a real socket to a
gunicorn process, and every background job goes through Redis to a worker process.
"""

import contextlib
import email
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.mail.backends.filebased import EmailBackend

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll(predicate, *, timeout: float, what: str, detail=None, every: float = 0.1):
    """Poll `predicate` until it returns something true; return it, or raise
    AssertionError naming `what` (and what `detail()` says) after `timeout` s."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            more = f"\n{detail()}" if detail else ""
            raise AssertionError(f"délai dépassé ({timeout:.0f} s) : {what}{more}")
        pause.wait(every)


# --- the database -----------------------------------------------------------------


class FreshDatabase:
    """A PostgreSQL database of its own on the server of DATABASE_URL, dropped at the
    end (connections of processes still attached are closed by force)."""

    def __init__(self, server_url: str):
        import psycopg

        self.name = f"tandem_scale_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(server_url)
        self.url = urlunsplit(parts._replace(path="/" + self.name))
        self._admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- processes --------------------------------------------------------------------


class Service:
    """One process of the installation, in its own session (a signal to the group
    reaches gunicorn's or Celery's children too), its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, logs: Path):
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self):
        """SIGKILL the whole group: no shutdown, no acknowledgement, no cleanup."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30):
        """Warm shutdown (SIGTERM to the group), SIGKILL if it takes too long."""
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                self.kill()
        # A child left behind by a killed parent still belongs to the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`manage.py <args>` against the installation; output captured."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- e-mail -----------------------------------------------------------------------

GATE_VARIABLE = "TANDEM_SCALE_MAIL_GATE"


class GatedFileBackend(EmailBackend):
    """Django's file backend, with a gate a test can close on one worker.

    When the directory named by TANDEM_SCALE_MAIL_GATE holds a file `armed` whose
    number is at most the count of files already written, the first process to
    get there takes the gate (renames `armed`: atomic, one process only), writes
    the message's Message-ID into a file `held` and waits (up to 2 minutes)
    before writing the message: the test kills that worker there, the message
    claimed and not written. The kill can therefore not fall between a message
    written and its row marked sent, the one window the outbox owns up to
    (workflow/notifications.py).
    """

    def send_messages(self, email_messages):
        gate = os.environ.get(GATE_VARIABLE)
        if gate and email_messages:
            self._wait_at_gate(Path(gate), email_messages[0].extra_headers)
        return super().send_messages(email_messages)

    def _wait_at_gate(self, gate: Path, headers: dict):
        armed = gate / "armed"
        try:
            threshold = int(armed.read_text())
        except (OSError, ValueError):
            return
        if sum(1 for _ in Path(self.file_path).iterdir()) < threshold:
            return
        try:
            armed.rename(gate / "taken")
        except OSError:  # another process took it
            return
        (gate / "taken").write_text(headers.get("Message-ID", ""))
        (gate / "taken").rename(gate / "held")
        threading.Event().wait(120)


def mailbox(folder: Path) -> Counter:
    """(Message-ID, recipient) of every message the file backend wrote, counted."""
    separator = "\n" + "-" * 79 + "\n"
    found: Counter = Counter()
    for path in folder.iterdir():
        for raw in path.read_bytes().decode("utf-8", "replace").split(separator):
            if not raw.strip():
                continue
            message = email.message_from_string(raw)
            found[(message["Message-ID"], message["To"])] += 1
    return found


# --- HTTP -------------------------------------------------------------------------


@dataclass
class Response:
    status_code: int
    content: bytes
    headers: dict
    server: str

    @property
    def url(self) -> str:
        return self.headers.get("Location", "")

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class LiveClient:
    """get/post like Django's test client, over real HTTP, each request to the next
    server in turn. The cookies (session, CSRF) are the browser's: one jar for
    127.0.0.1 whatever the port, as behind a load balancer."""

    def __init__(self, servers: list[str]):
        self.servers = servers
        self.turn = 0
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.served: Counter = Counter()

    def _next_server(self) -> str:
        server = self.servers[self.turn % len(self.servers)]
        self.turn += 1
        return server

    def _csrf_token(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken":
                return cookie.value
        return ""

    def request(self, method: str, path: str, *, body=None, headers=None) -> Response:
        server = self._next_server()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            server + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=60) as answer:
                response = Response(
                    answer.status, answer.read(), dict(answer.headers), server
                )
        except urllib.error.HTTPError as error:
            response = Response(error.code, error.read(), dict(error.headers), server)
        self.served[server] += 1
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data=None, *, files=None, json_body=None) -> Response:
        if not self._csrf_token():
            self.get("/accounts/login/")  # sets the csrftoken cookie
        headers = {"X-CSRFToken": self._csrf_token()}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif files:
            body, headers["Content-Type"] = _multipart(data or {}, files)
        else:
            body = urllib.parse.urlencode(data or {}, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.request("POST", path, body=body, headers=headers)

    def login(self, username: str, password: str):
        self.jar.clear()
        self.get("/accounts/login/")
        response = self.post(
            "/accounts/login/", {"username": username, "password": password}
        )
        assert response.status_code == 302, (username, response.text()[:2000])


def _multipart(data: dict, files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, values in data.items():
        for value in values if isinstance(values, list | tuple) else [values]:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                f"\r\n\r\n{value}\r\n".encode()
            )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream'
            "\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
