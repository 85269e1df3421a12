"""The grid sends results in batches (issue 18) and loses none: results typed just
before the page is closed are all saved, each once, when the grid opens again."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from recette.models import Execution
from recette.selectors import latest_results

pytestmark = pytest.mark.browser
R = Execution.Result

KEPT = """(prefix) => Object.keys(localStorage).filter((k) => k.startsWith(prefix))"""


def _reopen(visitor, path):
    """The same browser (its cookies and localStorage) on a new page."""
    page = visitor.page.context.new_page()
    page.set_default_timeout(15_000)
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and visitor.problems.append(f"{visitor.name} console: {message.text}")
        ),
    )
    page.on("pageerror", lambda error: visitor.problems.append(f"JavaScript: {error}"))
    visitor.page = page
    return visitor.goto(path)


def _type_four_results(page):
    """r, e, b, n confirmed with Entrée on the four cases, faster than a pause."""
    rows = page.locator("tbody tr[data-case]")
    expect(rows.nth(0)).to_be_focused()
    for letter in "rebn":
        page.keyboard.press(letter)
        page.keyboard.press("Enter")
    # Typed and waiting: shown on the row, marked busy until the server answers.
    expect(rows.nth(3).locator("[data-result-label]")).to_have_text(
        "Non applicable (en attente)"
    )
    expect(rows.nth(3)).to_have_attribute("aria-busy", "true")
    return rows


def _expect_all_saved_once(page, campaign):
    rows = page.locator("tbody tr[data-case]")
    expected = [R.PASSED, R.FAILED, R.BLOCKED, R.NOT_APPLICABLE]
    for n, result in enumerate(expected):
        expect(rows.nth(n)).to_have_attribute("data-result", result)
    expect(page.locator("tbody tr[aria-busy]")).to_have_count(0)
    expect(page.locator("#tandem-grid-figures")).to_have_text("4 cas exécutés sur 4.")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    assert latest_results(campaign) == {
        case.pk: result for case, result in zip(cases, expected, strict=True)
    }
    saved = Execution.objects.filter(campaign=campaign)
    assert saved.count() == 4
    assert len(set(saved.values_list("client_key", flat=True))) == 4


def test_results_typed_then_the_page_closed_at_once_are_saved_once(
    world, visit, campaign
):
    tester = visit(world.user("cd23.testeur"))
    path = reverse("recettes:grid", args=[campaign.pk])
    page = tester.goto(path)
    prefix = page.locator("[data-tandem-grid]").get_attribute("data-queue-key")

    _type_four_results(page)
    tester.leave()
    page.close()  # before the pause that sends them
    page = _reopen(tester, path)

    _expect_all_saved_once(page, campaign)
    for n, label in enumerate(["Réussi", "Échoué", "Bloqué", "Non applicable"]):
        expect(page.locator("[data-result-label]").nth(n)).to_have_text(label)
    assert page.evaluate(KEPT, prefix) == []


def test_results_kept_in_the_browser_when_the_server_is_out_of_reach(
    world, visit, campaign, monkeypatch
):
    """Nothing is saved before the page closes: the results wait in the browser,
    and the grid sends them when it opens again."""
    from recette import services

    tester = visit(world.user("cd23.testeur"))
    path = reverse("recettes:grid", args=[campaign.pk])
    page = tester.goto(path)
    prefix = page.locator("[data-tandem-grid]").get_attribute("data-queue-key")
    # The server fails every save (a 500), the sends at the page's closing
    # included: a browser route cannot hold a keepalive request sent at unload.
    saving = services.results_record

    def unreachable(**kwargs):
        raise ConnectionError("base de données injoignable")

    monkeypatch.setattr(services, "results_record", unreachable)

    _type_four_results(page)
    assert len(page.evaluate(KEPT, prefix)) == 4
    tester.leave()
    page.close()
    assert not Execution.objects.exists()
    monkeypatch.setattr(services, "results_record", saving)
    page = _reopen(tester, path)

    _expect_all_saved_once(page, campaign)
    expect(page.locator("#tandem-grid-status")).to_have_text(
        "Les résultats de votre dernière visite sont enregistrés."
    )
    assert page.evaluate(KEPT, prefix) == []
