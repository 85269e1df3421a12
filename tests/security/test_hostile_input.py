"""Bad input everywhere: hostile values posted to any form never make a server
error (the endpoints in `hostile/inventory.py`, the values in `hostile/strategies.py`).

Each example (8 per endpoint) is calm (every field of its type, hostile text in
it, so that it gets saved) or wild (garbage, lists for scalars, missing fields,
forged extra fields); after a success, the page it leads to is read too. It runs
in a savepoint rolled back afterwards, on client 23's requests standing at every
step of both processes, built once in a transaction rolled back at the module's
end. SQLite stores what PostgreSQL refuses, so each example also refuses a NUL
character in an SQL parameter and a text longer than its column. `HAZARDS` replay
by name the inputs that once made a 500.

Not covered: the Django admin's forms (reference data, administrators only); the
password reset confirmation (needs the e-mailed token); viewflow's single-task
assign and unassign (no field) and cancel, undo, revive (refused to everyone: see
the authorization matrix).
"""

import re
import traceback

import pytest
from django.db import DataError, connection, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolutions.models import Release
from tests.security.hostile.hazards import HAZARDS
from tests.security.hostile.inventory import (
    ENDPOINTS,
    SHELL_WITHOUT_FORM,
    VIEWFLOW_ACTIONS,
    WITHOUT_INPUT,
    Target,
)
from tests.security.hostile.stage import _example, _overlong_values, _refuse_nul
from tests.security.hostile.strategies import RAW_MARKUP, Context
from workflow.demo import demo_totp_code

# Per endpoint: the whole module stays well under a minute and a half.
EXAMPLES = 8
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written in the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- Sending and judging ---------------------------------------------------------


def _send(client: Client, target: Target, url: str, payload):
    if target.body == "json":
        return client.post(url, payload, content_type="application/json")
    if target.body == "query":
        return client.get(url, payload)
    return client.post(url, payload)


def _assert_answered(client: Client, response, what: str) -> None:
    """No server error, no markup sent back raw; the same for the page a success
    leads to, which shows what was just saved."""
    _assert_sound(response, what)
    location = response.get("Location", "") if response.status_code == 302 else ""
    if location.startswith("/") and not location.startswith("//"):
        _assert_sound(client.get(location), f"{what}, puis {location}")


def _assert_sound(response, what: str) -> None:
    if getattr(response, "streaming", False):
        # A streamed download (an export) would fail while it is read, after its
        # 200: it is read here.
        b"".join(response.streaming_content)
    if response.status_code >= 500:
        error = getattr(response, "exc_info", None)
        detail = (
            "".join(traceback.format_exception(*error))
            if error
            else response.content[:2000]
        )
        pytest.fail(f"{what} : erreur {response.status_code}\n{detail}")
    if "text/html" in response.get("Content-Type", ""):
        page = response.content.decode()
        raw = [markup for markup in RAW_MARKUP if markup in page]
        assert not raw, f"{what} : balisage renvoyé tel quel {raw}"


# --- PostgreSQL's refusals, on SQLite ------------------------------------------


def test_sqlite_refuses_here_what_postgresql_refuses(staged):
    """The checks of `_example` do bite: a NUL character, an overlong title."""
    release = Release.objects.order_by("pk").first()
    with transaction.atomic(), connection.execute_wrapper(_refuse_nul):
        with pytest.raises(DataError):
            Release.objects.filter(pk=release.pk).update(title="a\x00b")
        transaction.set_rollback(True)
    if connection.vendor == "sqlite":  # PostgreSQL refuses the update itself
        with transaction.atomic():
            Release.objects.filter(pk=release.pk).update(title="x" * 201)
            assert _overlong_values() == [f"Release {release.pk}"]
            transaction.set_rollback(True)


# --- Hostile values, to every endpoint of the inventory -----------------------------


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
@HYPOTHESIS
@given(data=st.data())
def test_hostile_values_never_make_a_server_error(staged, name, data):
    with _example():
        if name not in staged.strategies:
            staged.strategies[name] = ENDPOINTS[name](staged)
        target = staged.strategies[name]
        url, username = data.draw(st.sampled_from(target.routes), label="route")
        client = Client(raise_request_exception=False)
        context = Context()
        if username is not None:
            user = staged.user(username)
            client.force_login(user)
            if user.totpdevice_set.filter(confirmed=True).exists():
                context.totp_code = demo_totp_code(user)
        payload = data.draw(target.payload(context), label="envoi")
        response = _send(client, target, url, payload)
        _assert_answered(client, response, f"{name} ({username})")


def _url_names(patterns=None, namespace: str = "") -> set[str]:
    """Every named URL pattern, with its namespaces ("recettes:grid")."""
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            )
            names |= _url_names(pattern.url_patterns, inner)
        elif pattern.name:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_every_form_endpoint_is_in_the_inventory():
    """A new page or task is fuzzed, or declared without input, by name."""
    ours = re.compile(
        r"^(evolutions|recettes|incidents|annuaire|taches-evolutions|taches-recettes"
        r"|taches-incidents):|^[^:]+$"
    )
    names = {name for name in _url_names() if ours.match(name)}
    left = {
        name
        for name in names - set(ENDPOINTS) - WITHOUT_INPUT - SHELL_WITHOUT_FORM
        if not VIEWFLOW_ACTIONS.match(name)
    }
    assert not left, f"pages sans entrée dans l'inventaire : {sorted(left)}"
    gone = set(ENDPOINTS) - names
    assert not gone, f"ne sont plus des URL : {sorted(gone)}"


# --- Ids no column can hold --------------------------------------------------------


OVERSIZED_ID = "9" * 25
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
_SAMPLE = {
    "str": "x",
    "slug": "x",
    "path": "x",
    "uuid": "0" * 8 + "-0000" * 3 + "-" + "0" * 12,
}


def _int_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URL resolver with an `<int:...>` part (ours, viewflow's,
    the admin's), each int replaced by a 25-digit number, the other parts by a
    value their converter accepts."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # a regular expression: no int converter
            continue
        if isinstance(pattern, URLResolver):
            routes += _int_routes(pattern.url_patterns, prefix + route)
        elif "<int:" in prefix + route:
            routes.append(
                "/"
                + _CONVERTER.sub(
                    lambda part: (
                        OVERSIZED_ID
                        if part["kind"] == "int"
                        else _SAMPLE.get(part["kind"] or "str", "x")
                    ),
                    prefix + route,
                )
            )
    return routes


def test_an_oversized_id_is_not_found_on_every_route(staged):
    routes = _int_routes()
    assert len(routes) > 50
    assert f"/taches-evolutions/{OVERSIZED_ID}/" in routes
    assert f"/taches-evolutions/{OVERSIZED_ID}/chart/" in routes
    assert any(route.startswith("/admin/") for route in routes)
    supplier = Client(raise_request_exception=False)
    supplier.force_login(staged.user("cnaf.contact"))
    anonymous = Client(raise_request_exception=False)
    answers = {
        (who, route, method): getattr(client, method)(route).status_code
        for who, client in (("cnaf.contact", supplier), ("anonyme", anonymous))
        for route in routes
        for method in ("get", "post")
    }
    wrong = {key: status for key, status in answers.items() if status != 404}
    assert not wrong, wrong


# --- Hazards known by name -------------------------------------------------------


@pytest.mark.parametrize("hazard", sorted(HAZARDS))
def test_known_hazards_never_make_a_server_error(staged, hazard):
    name, build, expected = HAZARDS[hazard]
    with _example():
        target = ENDPOINTS[name](staged)
        url, username = target.routes[0]
        client = Client(raise_request_exception=False)
        if username is not None:
            client.force_login(staged.user(username))
        response = _send(client, target, url, build(staged))
        _assert_answered(client, response, f"{hazard} ({name})")
        assert response.status_code == expected, response.content[:3000]
