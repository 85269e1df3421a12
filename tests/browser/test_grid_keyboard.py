"""Testers record results in the grid with the keyboard alone (RGAA: every function
reachable without a mouse)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from recette.models import Execution
from recette.selectors import latest_results
from tests.recette.test_pages import campaign  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
R = Execution.Result


def test_tester_records_results_with_the_keyboard_alone(world, visit, campaign):  # noqa: F811
    tester = visit(world.user("cd23.testeur"))
    page = tester.goto(reverse("recettes:grid", args=[campaign.pk]))
    rows = page.locator("tbody tr[data-case]")
    keyboard = page.keyboard

    # The focus starts on the first case: a letter chooses, Entrée saves, and the
    # focus moves on to the next case.
    expect(rows.nth(0)).to_be_focused()
    keyboard.press("r")
    expect(page.locator("#tandem-grid-status")).to_contain_text("Entrée")
    keyboard.press("Enter")
    expect(rows.nth(0)).to_have_attribute("data-result", R.PASSED)
    expect(page.locator("#tandem-grid-figures")).to_have_text("1 cas exécuté sur 4.")
    expect(rows.nth(1)).to_be_focused()
    keyboard.press("e")
    keyboard.press("Enter")
    expect(rows.nth(1)).to_have_attribute("data-result", R.FAILED)
    # Arrow keys move without recording; a letter without Entrée records nothing.
    keyboard.press("ArrowDown")
    expect(rows.nth(3)).to_be_focused()
    keyboard.press("b")
    keyboard.press("Enter")
    expect(rows.nth(3)).to_have_attribute("data-result", R.BLOCKED)
    # The last case keeps the focus; one up is the case skipped.
    expect(rows.nth(3)).to_be_focused()
    keyboard.press("ArrowUp")
    expect(rows.nth(2)).to_be_focused()
    keyboard.press("n")
    keyboard.press("ArrowDown")

    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    expected = {
        cases[0].pk: R.PASSED,
        cases[1].pk: R.FAILED,
        cases[2].pk: R.TO_RUN,
        cases[3].pk: R.BLOCKED,
    }
    assert latest_results(campaign) == expected
    # After a reload the grid shows what was saved, and the status line was read
    # out to screen readers as each result was saved.
    page.reload()
    tester.arrived()
    expect(rows.nth(1).locator("[data-result-label]")).to_have_text("Échoué")
    expect(page.locator("#tandem-grid-status")).to_have_attribute("aria-live", "polite")

    # A grid reached through Turbo (a filter link: same document, no reload) takes
    # keys too (the link is followed with Entrée).
    link = page.get_by_role("link", name="À exécuter")
    link.focus()
    tester.follow(lambda: keyboard.press("Enter"))
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_be_focused()
    keyboard.press("n")
    keyboard.press("Enter")
    expect(rows.nth(0)).to_have_attribute("data-result", R.NOT_APPLICABLE)
    assert latest_results(campaign)[cases[2].pk] == R.NOT_APPLICABLE

    # Entrée on a case without a chosen result opens its page.
    rows.nth(0).focus()
    tester.follow(lambda: keyboard.press("Enter"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(cases[2].reference)
