"""Every page a demo user can reach by following links answers without a server
error, in French and in English, under the Content-Security-Policy."""

import re
from urllib.parse import urljoin, urlsplit

import pytest

from contacts.models import Role
from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load
from tests.workflow.test_middleware import csp_nonce, scripts_without_nonce
from workflow.demo import DEMO_ACCOUNTS

LINK = re.compile(r'href="([^"#]+)"')
SKIPPED = ("/static/", "/admin/", "/accounts/logout", "/jsi18n/", "/i18n/")
MAX_PAGES = 150


def _crawl(client, nonces: dict[str, str]) -> dict[str, int]:
    """Status of each page reached; `nonces` gets each HTML page's script nonce."""
    seen: dict[str, int] = {}
    queue = ["/"]
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response.status_code
        if "text/html" not in response.get("Content-Type", ""):
            continue
        nonce = nonces[url] = csp_nonce(response)
        inline = scripts_without_nonce(response.content.decode(), nonce)
        assert not inline, (url, inline)
        if response.status_code != 200:
            continue
        for href in LINK.findall(response.content.decode()):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            if any(parts.path.startswith(prefix) for prefix in SKIPPED):
                continue
            if target not in seen:
                queue.append(target)
    return seen


@pytest.mark.parametrize(
    "username",
    [
        "cd23.porteur",
        "cd57.testeur",
        "cd23.dsi",
        "cnaf.commande",
        "cnaf.moe",
        "cnaf.admin",
    ],
)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_page_reachable_by_a_demo_user_fails(
    world, client, settings, tmp_path, username, language
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    client.force_login(world.user(username))
    client.cookies["django_language"] = language

    nonces: dict[str, str] = {}
    seen = _crawl(client, nonces)

    assert len(seen) > 10
    assert len(set(nonces.values())) == len(nonces) > 10
    errors = {url: code for url, code in seen.items() if code >= 500}
    assert not errors, errors
    assert all(code in (200, 302, 403, 404) for code in seen.values()), seen


def test_demo_accounts_cover_every_role():
    assert {account.role for account in DEMO_ACCOUNTS} == set(Role)
