"""Every page each demo user reaches by following links, seen in Chromium at 320
CSS px: no serious or critical axe violation (the `visit` fixture), no sideways
scroll, a title of its own, no English word, and valid HTML for the Nu checker.

One page per kind of address is visited (numbers in a path, the order of a query
do not make a new kind), so the crawl covers every page without reading each of
the demo's hundreds of objects.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load
from tests.browser.test_shell_keyboard import FOCUSED
from workflow.demo import DEMO_ACCOUNTS

pytestmark = pytest.mark.browser

VNU = Path(
    os.environ.get(
        "TANDEM_VNU",
        Path(__file__).resolve().parents[2] / "var/vendor/vnu-jar-26.9.27/vnu.jar",
    )
)
# Not pages: files, the admin (Django's own), logging out, translations catalogue.
SKIPPED = ("/static/", "/admin/", "/accounts/logout", "/jsi18n/", "/i18n/")
MAX_PAGES = 60
NARROW = {"width": 320, "height": 720}

# Words of English that are not French (the UI is French; names and codes pass).
ENGLISH = frozenset(
    """the and of to with from your you this that is are was were not for by
    Unassigned Assigned assigned unassigned Artifact Brief Process process summary
    Summary flow Flow graph task tasks Task Tasks Open Cancel Save Submit
    Search Filter Next Previous Delete Edit Login Logout Log Password password
    User Username Home Dashboard Inbox Queue Archive Done Created created Status
    Owner Details Yes Welcome Settings Profile Add Remove Select Choose Upload
    Download Back View Show Hide Loading Error Warning Success Unknown None True
    False null undefined Forbidden Not found required field Please Enter valid
    Title Sign Page""".split()  # noqa: SIM905 - a list of words reads better so
)
# "Page" is French too; it is told apart by what follows it.
FRENCH_TOO = {"Page"}
WORD = re.compile(r"[A-Za-zÀ-ÿ]+")


def _kind(url: str) -> str:
    parts = urlsplit(url)
    query = sorted(name for name, _value in parse_qsl(parts.query) if name != "page")
    return re.sub(r"[0-9]+", "N", parts.path) + "?" + "&".join(query)


def _links(page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href]'),"
        " (a) => a.getAttribute('href'))"
    )


def _english(text: str) -> set[str]:
    return {
        word
        for word in WORD.findall(text)
        if word in ENGLISH and word not in FRENCH_TOO
    }


def _crawl(visitor, saved: Path) -> dict:
    """Visit every kind of page reachable from « Mes tâches »; what each showed."""
    page = visitor.page
    page.set_viewport_size(NARROW)
    found, kinds, queue = {}, set(), ["/"]
    while queue and len(found) < MAX_PAGES:
        url = queue.pop(0)
        kind = _kind(url)
        if kind in kinds:
            continue
        kinds.add(kind)
        answer = page.request.get(visitor.base_url + url, max_redirects=0)
        if answer.status != 200 or "text/html" not in answer.headers.get(
            "content-type", ""
        ):
            continue
        html = answer.text()
        name = f"page-{len(found):03d}.html"
        (saved / name).write_text(html, encoding="utf-8")
        visitor.goto(url)
        found[url] = {
            "keyboard": _shell_by_keyboard(page),
            "file": name,
            "title": page.title(),
            "english": sorted(_english(page.evaluate("() => document.body.innerText"))),
            "english_title": sorted(_english(page.title())),
            "width": page.evaluate("() => document.documentElement.scrollWidth"),
        }
        for href in _links(page):
            target = urljoin(url, href)
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(SKIPPED):
                continue
            relative = parts.path + (f"?{parts.query}" if parts.query else "")
            if _kind(relative) not in kinds:
                queue.append(relative)
    return found


SHELL_CONTROLS = """() => Array.from(
  document.querySelectorAll(
    ".tandem-skip-link, header a, header button, header select,"
    + " footer a, footer button, footer select"
  ),
  (el) => el.textContent.replace(/\\s+/g, " ").trim() || el.id
)"""


def _shell_by_keyboard(page) -> list[str]:
    """The shell's links and controls, the menu opened: each reached by Tab from
    the top of the page (the footer's from its end, by Shift+Tab) and showing its
    focus (an outline of 2 px or more, at 3:1 at least). What went wrong."""
    menu = page.locator("[data-tandem-menu-button]")
    if menu.count() and menu.is_visible():
        menu.click()
    wanted = set(page.evaluate(SHELL_CONTROLS))
    reached, problems = set(), []

    def walk(key: str, limit: int, inside: str) -> None:
        for _ in range(limit):
            page.keyboard.press(key)
            focused = page.evaluate(FOCUSED)
            where = page.evaluate(
                f"() => !!document.activeElement.closest('{inside}')"
                " || document.activeElement.matches('.tandem-skip-link')"
            )
            if not where:
                return
            name = focused["text"] or focused["id"]
            reached.add(name)
            if focused["outlineStyle"] in ("none", "hidden") or not (
                focused["outlineWidth"] >= 2 and focused["contrast"] >= 3
            ):
                problems.append(f"focus invisible sur « {name} »")

    # From the very top (a focusable mark before everything, then Tab).
    page.evaluate(
        "() => { const first = document.createElement('span');"
        " first.tabIndex = 0; first.id = 'tandem-crawl-start';"
        " document.body.prepend(first); first.focus(); }"
    )
    walk("Tab", 25, "header")
    page.evaluate(
        "() => { const last = document.createElement('span');"
        " last.tabIndex = 0; last.id = 'tandem-crawl-end';"
        " document.body.append(last); last.focus(); }"
    )
    walk("Shift+Tab", 6, "footer")
    missing = wanted - reached
    if missing:
        problems.append(f"hors d'atteinte au clavier : {sorted(missing)}")
    return problems


def _nu_errors(folder: Path) -> list[str]:
    """The Nu HTML checker's errors on every file of `folder`."""
    run = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    messages = json.loads(run.stderr or "{}").get("messages", [])
    return [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')}"
        for m in messages
        if m.get("type") == "error"
    ]


@pytest.mark.parametrize("username", sorted({a.username for a in DEMO_ACCOUNTS}))
def test_every_page_a_demo_user_reaches_is_french_reflows_and_is_valid(
    world, visit, settings, tmp_path, username
):
    if not VNU.exists() or shutil.which("java") is None:
        pytest.skip(
            f"vérificateur Nu absent ({VNU}) ou Java absent : make browser-deps"
        )
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    saved = tmp_path / "pages"
    saved.mkdir()
    visitor = visit(world.user(username))

    found = _crawl(visitor, saved)

    assert len(found) >= 5, found
    problems = []
    for url, seen in found.items():
        if seen["width"] > NARROW["width"]:
            problems.append(f"{url}: {seen['width']} px de large à 320 px")
        if seen["english"] or seen["english_title"]:
            problems.append(f"{url}: anglais {seen['english'] + seen['english_title']}")
        problems += [f"{url}: {problem}" for problem in seen["keyboard"]]
        if not seen["title"].endswith(" – Tandem"):
            problems.append(f"{url}: titre « {seen['title']} »")
    by_title: dict[str, set[str]] = {}
    for url, seen in found.items():
        by_title.setdefault(seen["title"], set()).add(_kind(url).split("?")[0])
    problems += [
        f"titre partagé par {sorted(kinds)} : « {title} »"
        for title, kinds in by_title.items()
        if len(kinds) > 1
    ]
    urls = {seen["file"]: url for url, seen in found.items()}
    problems += [
        f"Nu : {urls.get(name, name)}:{error}"
        for name, error in (e.split(":", 1) for e in _nu_errors(saved))
    ]
    assert not problems, "\n".join(problems)
