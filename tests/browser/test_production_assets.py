"""Under the production switch, gunicorn serves every page's CSS and JavaScript.

A fresh installation in a folder of its own, prepared as the README's production
section says (migrate, collectstatic) plus the demo accounts, then the Procfile's own
`web` command under DEBUG=0, on a free port of 127.0.0.1. The only departure from
production is TLS: there is no proxy in front, so SECURE_SSL_REDIRECT=0; the cookies
stay Secure and `__Host-`, which Chromium accepts from http://127.0.0.1 (a
"potentially trustworthy" origin).
"""

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflow.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HASHED = re.compile(r"/static/.+\.[0-9a-f]{12}\.(css|js)$")
# The font families the page's style sheets made the browser load.
SKIP_LINK_POSITION = (
    "getComputedStyle(document.querySelector('.tandem-skip-link')).position"
)
SHELL_SCRIPT_RAN = "document.documentElement.classList.contains('tandem-js')"
TEN_YEARS = 10 * 365 * 24 * 3600
# Pages of Tandem's shell (tandem/page.html: its own CSS and script, system fonts);
# no page users reach is drawn in viewflow's frame any more.
PAGES = ["/", "/evolutions/", "/evolutions/versions/", "/recettes/", "/notifications/"]
START_DEADLINE_SECONDS = 60


# One installation, one key (the audit journal's key derives from it).
SECRET_KEY = secrets.token_urlsafe(50)


def _environ(var_dir: Path, *, debug: bool) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        and not k.startswith("SECURE_")
    }
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "tandem.settings",
        "DEBUG": "1" if debug else "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "TANDEM_VAR_DIR": str(var_dir),
    }


def _manage(var_dir: Path, *args: str, debug: bool) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_environ(var_dir, debug=debug),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _procfile_web_command() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("Procfile sans commande web")


@pytest.fixture
def production_server(tmp_path):
    """The Procfile's gunicorn under DEBUG=0 on a fresh installation; its address."""
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    # The demo accounts exist only while DEBUG is on: created first, like a
    # reference load, then everything else runs under the production switch.
    _manage(var_dir, "migrate", "--noinput", debug=True)
    _manage(var_dir, "setup_demo", debug=True)
    _manage(var_dir, "collectstatic", "--noinput", debug=False)
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["bash", "-c", f"exec {_procfile_web_command()}"],
            cwd=ROOT,
            # Port 0: the system picks a free one, which gunicorn logs.
            env={**_environ(var_dir, debug=False), "PORT": "0"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        listening = None
        while listening is None:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            listening = re.search(
                r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text()
            )
            time.sleep(0.05)  # poll the log until gunicorn says where it listens
        yield listening.group(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


class AssetRecorder:
    """Every answer a page received, by address."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.static = base_url + "/static/"
        self.answers = {}
        page.on("response", lambda answer: self.answers.setdefault(answer.url, answer))

    def check_page(self, path: str) -> None:
        """Every style sheet and script of the page: 200, hashed, cached for years;
        the style sheet applies and the script ran."""
        page = self.page
        page.wait_for_load_state("load")
        linked = page.eval_on_selector_all(
            "link[rel=stylesheet], script[src]", "els => els.map(e => e.href || e.src)"
        )
        assert any(url.endswith(".css") for url in linked), path
        assert any(url.endswith(".js") for url in linked), path
        for url in linked:
            answer = self.answers.get(url)
            assert answer is not None, f"{path} : {url} non chargé"
            assert answer.status == 200, f"{path} : {url} {answer.status}"
            if not url.startswith(self.static):  # a view: the JavaScript catalogue
                continue
            assert HASHED.search(url), f"{path} : {url} sans empreinte"
            cache = answer.headers["cache-control"]
            assert f"max-age={TEN_YEARS}" in cache and "immutable" in cache, url
        assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
        # The shell's style sheet applies (the skip link is out of sight until it
        # has the focus) and its script ran (it marks the document).
        assert page.evaluate(SKIP_LINK_POSITION) == "absolute", path
        assert page.evaluate(SHELL_SCRIPT_RAN), path


def test_every_page_gets_its_hashed_long_cached_css_and_javascript(
    chromium, production_server
):
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    assets = AssetRecorder(page, production_server)

    page.goto(production_server + "/accounts/login/")
    assets.check_page("/accounts/login/")
    page.fill("input[name=username]", "cd23.porteur")
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "__Host-sessionid" in {cookie["name"] for cookie in context.cookies()}

    for path in PAGES:
        response = page.goto(production_server + path)
        assert response.status == 200, path
        assert page.url == production_server + path  # logged in, not sent back
        assets.check_page(path)
        if path == "/" and os.environ.get("TANDEM_PRODUCTION_SCREENSHOT"):
            page.screenshot(path=os.environ["TANDEM_PRODUCTION_SCREENSHOT"])
    context.close()
