"""Browser tests: Debian's Chromium driven by Playwright against a live server.

They run when Chromium (`TANDEM_CHROMIUM`, default /usr/bin/chromium) and axe-core
(`TANDEM_AXE`, fetched by `make browser-deps`) are present, and are skipped
otherwise; CI installs both and fails when one was skipped. Each user works in a
browser context of their own. Every page a test visits goes through axe-core (no
serious or critical WCAG 2.1 A/AA violation) and no page may log a console error
or a Content-Security-Policy violation.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = Path(os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(
    os.environ.get(
        "TANDEM_AXE",
        Path(__file__).resolve().parents[2] / "var/vendor/axe-core-4.14.1/axe.min.js",
    )
)
SCREENSHOTS = os.environ.get("TANDEM_SCREENSHOTS", "")

# What the RGAA asks for: WCAG 2.1 levels A and AA.
AXE_RUN = """async () => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    resultTypes: ["violations"],
  });
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      rule: v.id, impact: v.impact, help: v.help,
      where: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
}"""

# A page is checked as the user sees it: Turbo has drawn it (it marks the document
# busy until then), its animations are over (a message half faded in has colours
# that mean nothing) and viewflow's message bar is fully open.
SETTLED = """async () => {
  const idle = () => document.documentElement.getAttribute("aria-busy") !== "true";
  while (!idle()) await new Promise((done) => requestAnimationFrame(done));
  await new Promise((done) => setTimeout(done));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const ending = document.getAnimations().filter(
    (animation) => animation.effect?.getComputedTiming().endTime !== Infinity
  );
  await Promise.allSettled(ending.map((animation) => animation.finished));
}"""
MESSAGE_BAR_STILL = """() => {
  const bar = document.querySelector("vf-snackbar");
  if (!bar || !bar.textContent.trim()) return true;
  return bar.classList.contains("mdc-snackbar--open")
    && !bar.classList.contains("mdc-snackbar--opening");
}"""

# Recorded in every document, read back before leaving it.
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (event) => {
  window.__tandemCsp = window.__tandemCsp || [];
  window.__tandemCsp.push(`${event.violatedDirective} ${event.blockedURI}`);
});"""


def _missing() -> str:
    if not CHROMIUM.exists():
        return f"Chromium absent ({CHROMIUM}) : apt-get install chromium"
    if not AXE.exists():
        return f"axe-core absent ({AXE}) : make browser-deps"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright absent : make install"
    return ""


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if not reason:
        return
    skip = pytest.mark.skip(reason=f"test navigateur : {reason}")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def chromium():
    """A headless Chromium for one test (a second or so to start)."""
    from playwright.sync_api import sync_playwright

    # Playwright's synchronous API keeps an event loop in the test's thread, where
    # Django refuses database calls unless told that they are meant: told for this
    # test only (the variable must not reach other tests, nor the processes they
    # start, where `check --deploy` rightly refuses it).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Visitor:
    """One user in their own browser context, every page checked."""

    name: str
    page: object
    base_url: str
    checked: set = field(default_factory=set)
    problems: list = field(default_factory=list)

    def goto(self, path: str):
        self.leave()
        self.page.goto(self.base_url + path)
        self.arrived()
        return self.page

    def follow(self, action):
        """Run `action` (a click that leaves the page) and check the next page.

        Turbo swaps the body of the same document and changes the address before
        it draws the new page: the old body is marked, and the next page has come
        once that body is gone (a full load replaces it too)."""
        self.leave()
        self.page.evaluate(
            "() => { window.__tandemCsp = []; document.body.dataset.tandemLeft = 1; }"
        )
        action()
        self.page.wait_for_function(
            "() => document.body && !document.body.dataset.tandemLeft"
        )
        self.arrived()
        return self.page

    def arrived(self) -> None:
        """Check the page now shown (once per address and title)."""
        self.page.wait_for_load_state("load")
        self.page.evaluate(SETTLED)
        self.page.wait_for_function(MESSAGE_BAR_STILL)
        key = (self.page.url.split("?")[0], self.page.title())
        if key in self.checked:
            return
        self.checked.add(key)
        for violation in self.page.evaluate(AXE_RUN):
            self.problems.append(
                f"{self.name} {self.page.url} axe {violation['impact']} "
                f"{violation['rule']} ({violation['help']}): {violation['where']}"
            )

    def leave(self) -> None:
        """Collect (once) the CSP violations of the document being left."""
        try:
            found = self.page.evaluate(
                "() => { const f = window.__tandemCsp || [];"
                " window.__tandemCsp = []; return f; }"
            )
        except Exception:  # no document yet: nothing to collect
            found = []
        self.problems += [f"{self.name} {self.page.url} CSP {v}" for v in found]

    def screenshot(self, name: str) -> None:
        """docs/screenshots/<name>.png when `make screenshots` asks for them."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=False)


@pytest.fixture
def visit(chromium, live_server):
    """`visit(user)`: a Visitor logged in as `user` (a session made server-side),
    or anonymous with `visit(None)`. At the end, nothing any page logged as an
    error, no CSP violation and no serious accessibility violation."""
    visitors: list[Visitor] = []

    def open_as(user, *, name: str | None = None) -> Visitor:
        context = chromium.new_context(
            locale="fr-FR",
            viewport={"width": 1280, "height": 860},
            timezone_id="Europe/Paris",
        )
        context.add_init_script(path=str(AXE))
        context.add_init_script(script=CSP_LISTENER)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": cookie.value,
                        "url": live_server.url,
                    }
                ]
            )
        page = context.new_page()
        page.set_default_timeout(15_000)
        visitor = Visitor(
            name=name or (user.get_username() if user else "anonyme"),
            page=page,
            base_url=live_server.url,
        )
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and visitor.problems.append(
                    f"{visitor.name} {page.url} console: {message.text}"
                )
            ),
        )
        page.on(
            "pageerror",
            lambda error: visitor.problems.append(
                f"{visitor.name} {page.url} JavaScript: {error}"
            ),
        )
        visitors.append(visitor)
        return visitor

    yield open_as
    for visitor in visitors:
        visitor.leave()
    problems = [problem for visitor in visitors for problem in visitor.problems]
    for visitor in visitors:
        visitor.page.context.close()
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
