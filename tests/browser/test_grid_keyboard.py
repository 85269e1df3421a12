"""Testers record results in the grid with the keyboard alone (RGAA: every function
reachable without a mouse), one case or several at once, with a comment; the
supplier types a case in with as many steps as it needs."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from recette.models import Execution
from recette.selectors import latest_results
from tests.recette.conftest import acceptance, draft_plan  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
R = Execution.Result


def test_tester_records_results_with_the_keyboard_alone(world, visit, campaign):
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


def test_tester_ticks_three_cases_records_one_result_and_a_comment(
    world, visit, campaign
):
    tester = visit(world.user("cd23.testeur"))
    page = tester.goto(reverse("recettes:grid", args=[campaign.pk]))
    rows = page.locator("tbody tr[data-case]")
    status = page.locator("#tandem-grid-status")
    keyboard = page.keyboard
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))

    # « s » ticks the case in hand (Espace too); the arrows move on.
    expect(rows.nth(0)).to_be_focused()
    keyboard.press("s")
    keyboard.press("ArrowDown")
    keyboard.press(" ")
    keyboard.press("ArrowDown")
    keyboard.press("s")
    expect(page.locator("#tandem-grid-selection")).to_have_text("3 cas cochés.")
    keyboard.press("r")
    expect(status).to_contain_text("« Réussi » pour les 3 cas cochés")
    keyboard.press("Enter")
    expect(status).to_have_text("« Réussi » enregistré pour 3 cas.")
    for n in range(3):
        expect(rows.nth(n)).to_have_attribute("data-result", R.PASSED)
        expect(rows.nth(n).locator("[data-select]")).not_to_be_checked()
    expect(rows.nth(3)).to_have_attribute("data-result", R.TO_RUN)
    expect(page.locator("#tandem-grid-figures")).to_have_text("3 cas exécutés sur 4.")

    # « c » opens the comment for the case in hand; Entrée comes back to the case,
    # then its result goes with the comment.
    keyboard.press("ArrowDown")
    expect(rows.nth(3)).to_be_focused()
    keyboard.press("c")
    comment = page.locator("#tandem-grid-comment")
    expect(comment).to_be_focused()
    expect(page.get_by_label("Commentaire pour CT-004")).to_be_visible()
    keyboard.type("Écran figé après validation")
    keyboard.press("Enter")
    expect(rows.nth(3)).to_be_focused()
    expect(status).to_contain_text("Commentaire prêt")
    keyboard.press("e")
    keyboard.press("Enter")
    expect(status).to_have_text("CT-004 : Échoué, avec le commentaire")
    expect(comment).to_have_value("")

    assert latest_results(campaign) == {
        cases[0].pk: R.PASSED,
        cases[1].pk: R.PASSED,
        cases[2].pk: R.PASSED,
        cases[3].pk: R.FAILED,
    }
    failed = Execution.objects.get(campaign=campaign, case=cases[3])
    assert failed.comment == "Écran figé après validation"
    assert Execution.objects.filter(campaign=campaign).count() == 4


def test_supplier_adds_a_seventh_step_to_a_case(world, visit, draft_plan):  # noqa: F811
    supplier = visit(world.user("cnaf.moe"))
    page = supplier.goto(
        reverse("recettes:case_new", args=[draft_plan.change_request_id])
    )
    page.locator("#id_reference").fill("CT-007")
    page.locator("#id_title").fill("Sept étapes")
    for n in range(1, 8):
        if n > 3:
            # The form comes back with one more step, the focus in it.
            supplier.follow(
                lambda: page.get_by_role("button", name="Ajouter une étape").click()
            )
            expect(page.get_by_label(f"Action {n}", exact=True)).to_be_focused()
            expect(page.locator("#id_title")).to_have_value("Sept étapes")
        page.get_by_label(f"Action {n}", exact=True).fill(f"Action {n}")
        page.get_by_label(f"Résultat attendu {n}", exact=True).fill(f"Attendu {n}")
    supplier.follow(lambda: page.get_by_role("button", name="Ajouter le cas").click())

    expect(page.locator(".tandem-messages")).to_contain_text("Cas CT-007 ajouté.")
    case = draft_plan.cases.get()
    assert list(case.steps.values_list("number", "action")) == [
        (n, f"Action {n}") for n in range(1, 8)
    ]
