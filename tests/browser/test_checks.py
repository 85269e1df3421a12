"""The checks every browser test relies on catch what they are meant to catch."""

import pytest

pytestmark = pytest.mark.browser


def test_page_checks_report_accessibility_console_and_csp_problems(world, visit):
    visitor = visit(world.user("cd23.porteur"))
    page = visitor.goto("/evolutions/")
    assert visitor.problems == []

    # A button without a name (axe: critical), an inline script the policy
    # blocks, and an error logged by a script of the page.
    page.evaluate(
        """() => {
      document.querySelector("main, body").append(document.createElement("button"));
      const inline = document.createElement("script");
      inline.textContent = "window.tandemInline = true;";
      document.body.append(inline);
      console.error("erreur de démonstration");
    }"""
    )
    visitor.checked.clear()
    visitor.arrived()
    visitor.leave()

    found = "\n".join(visitor.problems)
    assert "axe critical button-name" in found
    assert "CSP script-src" in found
    assert "console: erreur de démonstration" in found
    assert page.evaluate("() => window.tandemInline") is None
    # Reported, and cleared here so that the fixture's own check passes.
    visitor.problems.clear()
