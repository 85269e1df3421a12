"""Machinery of the authorization matrix: every URL pattern Django resolves, the
URL of a pattern for given arguments, what a response amounts to (200, a redirect
to the login page, 403…), and the run of all the cells.

The expectations themselves are declared in test_authorization_matrix.py.
"""

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

# What a response amounts to, besides its status code.
LOGIN = "login"  # 302 to the login page
ADMIN_LOGIN = "admin-login"  # 302 to the Django admin's login page
REDIRECT = "redirect"  # 302 anywhere else

Outcome = int | str

_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Pattern:
    """One URL pattern: its full route (as Django's ResolverMatch.route spells it)
    and its namespaced name (None for the few unnamed ones)."""

    route: str
    name: str | None

    @property
    def label(self) -> str:
        return f"/{self.route} ({self.name or 'sans nom'})"

    def url(self, kwargs: Mapping[str, object]) -> str:
        """The path of this pattern for `kwargs`; it must resolve to the pattern."""
        path = _REGEX_GROUP.sub(lambda m: str(kwargs[m["name"]]), self.route)
        path = _PARAMETER.sub(lambda m: str(kwargs[m["name"]]), path)
        path = "/" + path.removeprefix("^").removesuffix("\\Z").removesuffix("$")
        if resolve(path).route != self.route:
            raise AssertionError(f"{path} ne mène pas au motif {self.label}")
        return path


def _inner_route(prefix: str, route: str) -> str:
    # As django.urls.resolvers._join_route: the inner "^" goes.
    return route.removeprefix("^") if prefix else route


def url_patterns() -> list[Pattern]:
    """Every pattern of the URLconf, included ones recursively, in resolver order."""

    def walk(patterns, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Pattern]:
        for entry in patterns:
            route = prefix + _inner_route(prefix, str(entry.pattern))
            if isinstance(entry, URLResolver):
                inner = (
                    (*namespaces, entry.namespace) if entry.namespace else namespaces
                )
                yield from walk(entry.url_patterns, route, inner)
            elif isinstance(entry, URLPattern):
                name = ":".join((*namespaces, entry.name)) if entry.name else None
                yield Pattern(route, name)

    return list(walk(get_resolver().url_patterns, "", ()))


@dataclass(frozen=True)
class Row:
    """How to reach one pattern and what each user must get there.

    `kwargs` builds the URL's arguments from client A's objects; `prepare` puts
    those objects in the state the row is about (e.g. a task assigned to its
    owner) before the row is requested. `post_only`: the users expected to be
    refused (4xx, or a redirect to a login page) send a POST with an empty body;
    the others a GET, which such a view answers with 405. `of_client_a`: the URL
    names an object of client A, so client B must get 404 (or a login page).
    """

    expect: Mapping[str, Outcome]
    kwargs: Callable[[object], Mapping[str, object]] | None = None
    post_only: bool = False
    prepare: Callable[[object], None] | None = None
    of_client_a: bool | None = None

    @property
    def names_client_a_object(self) -> bool:
        if self.of_client_a is not None:
            return self.of_client_a
        return self.kwargs is not None


@dataclass
class Cell:
    pattern: Pattern
    user: str
    expected: Outcome
    method: str = "GET"
    url: str = ""
    actual: Outcome | None = None
    leak: str = ""

    @property
    def mismatch(self) -> bool:
        return self.actual != self.expected


def outcome_of(response) -> Outcome:
    """The status code, or which kind of redirect the response is."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return response.status_code
    target = urlsplit(response["Location"]).path
    if target == resolve_url(settings.LOGIN_URL):
        return LOGIN
    if target == reverse("admin:login"):
        return ADMIN_LOGIN
    return REDIRECT


def _refused(outcome: Outcome) -> bool:
    return outcome in (LOGIN, ADMIN_LOGIN) or (
        isinstance(outcome, int) and 400 <= outcome < 500 and outcome != 405
    )


def leak_of(cell: Cell, row: Row, client_b: frozenset[str]) -> str:
    """Why the cell shows client B something of client A ("" when it does not)."""
    if cell.user not in client_b or not row.names_client_a_object:
        return ""
    actual = cell.actual
    if isinstance(actual, int) and 200 <= actual < 300:
        return f"{actual} : l'objet du client A est servi"
    if actual == REDIRECT:
        return "redirection ailleurs que vers la connexion"
    # 405 comes before any lookup; any other 4xx means the object was found.
    revealing = isinstance(actual, int) and 400 <= actual < 500
    if cell.expected == 404 and revealing and actual not in (404, 405):
        return f"{actual} au lieu de 404 : l'existence de l'objet est révélée"
    return ""


@dataclass
class MatrixRun:
    cells: list[Cell] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.mismatch]

    @property
    def leaks(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.leak]


def run_matrix(
    rows: Mapping[Pattern, Row],
    users: Mapping[str, object],
    objects,
    client_b: frozenset[str],
    content_leak: Callable[[Cell, bytes], str] | None = None,
    content_checked: frozenset[str] | None = None,
) -> MatrixRun:
    """Request every (pattern, user) cell; nothing a cell does is kept.

    `users` maps a label to a user (None: anonymous); `content_checked`: the users
    whose pages `content_leak` reads (client B's by default). Each request runs in a
    savepoint rolled back afterwards, so that a refusal that fails to refuse
    cannot change what the next cells see.
    """
    clients = {}
    for label, user in users.items():
        clients[label] = Client(raise_request_exception=False)
        if user is not None:
            clients[label].force_login(user)
    run = MatrixRun()
    with _quiet():
        _run_rows(
            run,
            rows,
            users,
            clients,
            objects,
            client_b,
            content_leak,
            client_b if content_checked is None else content_checked,
        )
    return run


# Thousands of refusals are what the matrix is about: their log lines are noise.
_NOISY_LOGGERS = ("django.request", "django.security", "axes", "workflow")


@contextmanager
def _quiet():
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _run_rows(
    run, rows, users, clients, objects, client_b, content_leak, content_checked
) -> None:
    for pattern, row in rows.items():
        if row.prepare is not None:
            row.prepare(objects)
        url = pattern.url(row.kwargs(objects) if row.kwargs else {})
        for label in users:
            expected = row.expect[label]
            cell = Cell(pattern, label, expected, url=url)
            if row.post_only and _refused(expected):
                cell.method = "POST"
            with transaction.atomic():
                client = clients[label]
                if cell.method == "POST":
                    response = client.post(url)
                else:
                    response = client.get(url)
                transaction.set_rollback(True)
            cell.actual = outcome_of(response)
            cell.leak = leak_of(cell, row, client_b)
            checked = cell.user in content_checked
            if not cell.leak and content_leak is not None and checked:
                cell.leak = content_leak(cell, _text_of(response))
            _close(response)
            run.cells.append(cell)


def _close(response) -> None:
    """Close a response (downloads keep their file open until then) without the
    request_finished signal closing the test's database connection, as Django's
    test client itself does (on PostgreSQL that connection holds the test's
    transaction)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _text_of(response) -> bytes:
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False):
        # CSV exports are streamed: what they send is read too.
        if content_type.startswith("text/csv"):
            return b"".join(response.streaming_content)
        return b""
    if content_type.startswith(("text/html", "application/json", "text/csv")):
        return response.content
    return b""


def table(cells: list[Cell]) -> str:
    """The cells as an aligned text table."""
    lines = [("motif", "utilisateur", "méthode", "attendu", "obtenu", "fuite")]
    lines += [
        (c.pattern.label, c.user, c.method, str(c.expected), str(c.actual), c.leak)
        for c in cells
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join(
        "  ".join(
            value.ljust(width) for value, width in zip(line, widths, strict=False)
        )
        + ("  " + line[5] if line[5] else "")
        for line in lines
    )
