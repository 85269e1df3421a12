"""The load test's simulated users: a session of our own (cookies, CSRF token,
the headers a browser behind the TLS proxy sends), what each role does, and the
accounts and objects they act on, read from the database before the run.

A user acts through `send`, a function that times one request and records its
outcome; the same profiles run over HTTP against gunicorn (HttpSession) and over
Django's test client in the tests (the test's own session class).
"""

import html
import http.client
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

LOGIN_PATH = "/accounts/login/"
# The demo accounts' (workflow.demo.DEMO_PASSWORD), given to the generated ones.
PASSWORD = "tandem-demo"  # noqa: S105 - demo accounts of a benchmark database
BURST = 5  # results a tester types before pausing, at most
FULL_BATCH = 0.05  # how often a POST carries a full batch

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_RECORD_URL = re.compile(r'data-record-url="([^"]+)"')
_KEYS = re.compile(r'data-keys="([^"]+)"')
_CASE = re.compile(r'<tr data-case="(\d+)"')


@dataclass
class Response:
    status: int
    body: bytes
    location: str = ""


@dataclass
class Outcome:
    """One request as the driver saw it: `status` 0 when it raised."""

    endpoint: str
    status: int
    ms: float
    ok: bool
    error: str = ""
    results: int = 0  # results carried by a grid POST


class HttpSession:
    """One browser: its own connection and cookie jar. gunicorn's sync workers
    close the connection after each answer; http.client opens the next one."""

    def __init__(self, host: str, port: int, *, timeout: float = 120):
        self.host = f"{host}:{port}"
        # What the TLS proxy in front of gunicorn would make of it (README,
        # "Running in production"): the request is https for Django.
        self.origin = f"https://{self.host}"
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None, headers: dict):
        headers = {
            **headers,
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "User-Agent": "tandem-load",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=headers)
            answer = self.connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            raise
        for line in answer.headers.get_all("Set-Cookie") or ():
            self._keep(line)
        if answer.will_close:
            self.connection.close()
        return Response(answer.status, content, answer.headers.get("Location", ""))

    def _keep(self, line: str) -> None:
        for name, morsel in SimpleCookie(line).items():
            if morsel.value and morsel["max-age"] not in ("0",):
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)

    def close(self) -> None:
        self.connection.close()


def form_token(page: bytes) -> str:
    """The CSRF token of a page's form ({% csrf_token %})."""
    found = _CSRF_INPUT.search(page.decode("utf-8", "replace"))
    if not found:
        raise ValueError("no CSRF token in the page")
    return found.group(1)


@dataclass
class Grid:
    """What grid.js reads of the campaign grid."""

    record_url: str
    csrf: str
    results: list[str]  # the result values the keys give
    cases: list[str]  # data-case of each row, as grid.js sends it (a string)


def parse_grid(page: bytes) -> Grid:
    text = page.decode("utf-8", "replace")
    record_url, keys = _RECORD_URL.search(text), _KEYS.search(text)
    if not record_url or not keys:
        raise ValueError("the grid offers no recording (campaign closed?)")
    return Grid(
        record_url=html.unescape(record_url.group(1)),
        csrf=form_token(page),
        results=sorted(set(json.loads(html.unescape(keys.group(1))).values())),
        cases=_CASE.findall(text),
    )


Send = Callable[..., Response | None]


def timed_sender(session, outcomes: list, *, clock=time.perf_counter) -> Send:
    """`send(endpoint, method, path, body=None, headers=None, expect=None)`: one
    request through `session`, timed to its last byte, its Outcome appended to
    `outcomes`. A failure is an exception, a status of 400 or more not in
    `expect`, or a redirect to the login page (the session was lost)."""

    def send(endpoint, method, path, body=None, headers=None, expect=(), results=0):
        headers = dict(headers or {})
        if method == "POST":
            headers.setdefault("Origin", session.origin)
            headers.setdefault("Referer", session.origin + path)
        started = clock()
        try:
            answer = session.request(method, path, body, headers)
        except Exception as error:  # every failure is counted, none stops the user
            ms = (clock() - started) * 1000
            outcomes.append(Outcome(endpoint, 0, ms, False, repr(error)[:200]))
            return None
        ms = (clock() - started) * 1000
        error = ""
        if answer.status >= 400 and answer.status not in expect:
            error = f"{method} {path} → {answer.status}"
        elif answer.status < 400 and expect:
            error = f"{method} {path} → {answer.status}, expected {expect}"
        elif 300 <= answer.status < 400 and LOGIN_PATH in answer.location:
            error = f"{method} {path} → login page (session lost)"
        outcomes.append(
            Outcome(endpoint, answer.status, ms, not error, error, results=results)
        )
        return answer

    return send


def log_in(session, username: str, password: str = PASSWORD) -> None:
    """Through the real login form: its page (CSRF cookie and token), then the
    POST. Raises when the account is refused."""
    page = session.request("GET", LOGIN_PATH, None, {})
    token = form_token(page.body)
    body = urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password}
    ).encode()
    answer = session.request(
        "POST",
        LOGIN_PATH,
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": session.origin,
            "Referer": session.origin + LOGIN_PATH,
        },
    )
    if answer.status != 302 or LOGIN_PATH in answer.location:
        raise RuntimeError(f"login refused for {username} ({answer.status})")


# --- What each role does -----------------------------------------------------


@dataclass
class Account:
    """An account and the objects its simulated users act on."""

    username: str
    role: str  # tester, porteur, dsi, refuser
    campaign: int | None = None  # tester: where it records
    requests: list[int] = field(default_factory=list)  # visible (refuser: not)
    campaigns: list[int] = field(default_factory=list)  # dsi: dashboards
    acceptances: list[int] = field(default_factory=list)  # dsi: acceptance pages
    reports: list[int] = field(default_factory=list)  # dsi: bilan PDFs


class SimulatedUser:
    """One person at a browser, with seeded choices and think times."""

    def __init__(self, account: Account, *, seed: int, think: float):
        self.account, self.think = account, think
        self.rng = random.Random(seed)  # noqa: S311 - repeatable runs, not secrets

    def think_time(self) -> float:
        """Seconds until the next action: around `think`, never zero."""
        return self.think * self.rng.uniform(0.5, 1.5)

    def prepare(self, send: Send) -> None:
        """What the user does once, before being measured."""

    def act(self, send: Send) -> None:
        raise NotImplementedError


class Tester(SimulatedUser):
    """Opens the campaign's grid, then records results as grid.js posts them
    (JSON, the CSRF token in X-CSRFToken, a key per result), up to `batch`
    (GRID_BATCH_MAX) per POST, going down the grid; opens the grid again after a
    few POSTs."""

    def __init__(self, account, *, seed, think, batch: int, reload_grid: bool = True):
        super().__init__(account, seed=seed, think=think)
        self.batch, self.reload_grid = batch, reload_grid
        self.grid: Grid | None = None
        self.position, self.records_left = 0, 0

    @property
    def grid_path(self) -> str:
        return f"/recettes/campagnes/{self.account.campaign}/"

    def open_grid(self, send: Send) -> None:
        answer = send("grid", "GET", self.grid_path)
        if answer is None or answer.status != 200:
            return
        self.grid = parse_grid(answer.body)
        self.position = self.rng.randrange(max(1, len(self.grid.cases)))
        self.records_left = self.rng.randint(10, 30)

    def prepare(self, send: Send) -> None:
        if not self.reload_grid:
            self.open_grid(send)

    def act(self, send: Send) -> None:
        if self.grid is None or (self.reload_grid and self.records_left <= 0):
            self.open_grid(send)
            return
        send(**self.record_request())
        self.records_left -= 1

    def record_request(self) -> dict:
        """The next POST of grid.js: `results` of consecutive cases, each with a
        result (mostly passed) and the comment typed (none)."""
        grid = self.grid
        # A few results typed, then a pause: grid.js sends them together. Now
        # and then a full batch (a result for ticked cases, or a long run).
        burst = self.rng.randint(1, min(self.batch, BURST))
        count = self.batch if self.rng.random() < FULL_BATCH else burst
        count = min(count, len(grid.cases))
        cases = [
            grid.cases[(self.position + n) % len(grid.cases)] for n in range(count)
        ]
        self.position = (self.position + count) % len(grid.cases)
        passed = "reussi" if "reussi" in grid.results else grid.results[0]
        others = [value for value in grid.results if value != passed]
        results = [
            {
                # grid.js's key of each result typed (a result sent twice is
                # saved once): unique, so never seeded.
                "key": str(uuid.uuid4()),
                "case": case,
                "result": passed
                if self.rng.random() < 0.8 or not others
                else self.rng.choice(others),
                "comment": "",
            }
            for case in cases
        ]
        return {
            "endpoint": "record",
            "method": "POST",
            "path": grid.record_url,
            "body": json.dumps({"results": results}).encode(),
            "headers": {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "X-CSRFToken": grid.csrf,
            },
            "results": len(results),
        }


class Porteur(SimulatedUser):
    """A request owner or order owner: « Mes tâches », the change-request list,
    a change request's page."""

    def act(self, send: Send) -> None:
        draw = self.rng.random()
        if draw < 0.4 or not self.account.requests:
            send("my_tasks", "GET", "/")
        elif draw < 0.7:
            send("request_list", "GET", "/evolutions/")
        else:
            pk = self.rng.choice(self.account.requests)
            send("request_detail", "GET", f"/evolutions/{pk}/")


class Dsi(SimulatedUser):
    """A DSI: campaign dashboards, « Mes tâches », an acceptance's page, and the
    bilan PDF now and then."""

    def act(self, send: Send) -> None:
        draw = self.rng.random()
        account = self.account
        if draw < 0.1 and account.reports:
            pk = self.rng.choice(account.reports)
            send("report_pdf", "GET", f"/recettes/{pk}/bilan.pdf")
        elif draw < 0.55 and account.campaigns:
            pk = self.rng.choice(account.campaigns)
            send("dashboard", "GET", f"/recettes/campagnes/{pk}/tableau-de-bord/")
        elif draw < 0.75 and account.acceptances:
            pk = self.rng.choice(account.acceptances)
            send("acceptance", "GET", f"/recettes/{pk}/")
        else:
            send("my_tasks", "GET", "/")


class Refuser(SimulatedUser):
    """A client user asking for another organisation's change request: refused
    (404), and journalled as a refused access."""

    def act(self, send: Send) -> None:
        pk = self.rng.choice(self.account.requests)
        send("refused", "GET", f"/evolutions/{pk}/", expect=(403, 404))


PROFILES = {"tester": Tester, "porteur": Porteur, "dsi": Dsi, "refuser": Refuser}


def simulated_user(account: Account, *, seed: int, think: float, batch: int = 1):
    if account.role == "tester":
        return Tester(account, seed=seed, think=think, batch=batch)
    return PROFILES[account.role](account, seed=seed, think=think)
