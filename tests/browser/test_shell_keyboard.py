"""Tandem's shell from the keyboard and on a narrow screen (RGAA: every link and
control reachable by Tab with a visible focus, reflow down to 320 CSS px, a menu
that folds behind a disclosure button without trapping the focus)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

MENU = [
    "Mes tâches",
    "Demandes d'évolution",
    "Versions",
    "Recettes",
    "Incidents",
    "Annuaire",
    "Notifications",
]

# The element that has the focus: what it is, and how its focus shows (its outline,
# and the contrast of the outline's colour with what lies behind the element).
FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const rgb = (colour) => colour.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  let behind = element.parentElement;
  while (behind && rgb(getComputedStyle(behind).backgroundColor)[3] === 0) {
    behind = behind.parentElement;
  }
  const background = behind
    ? rgb(getComputedStyle(behind).backgroundColor) : [255, 255, 255];
  const [a, b] = [luminance(rgb(style.outlineColor)), luminance(background)];
  const box = element.getBoundingClientRect();
  return {
    tag: element.tagName.toLowerCase(),
    text: element.textContent.replace(/\\s+/g, " ").trim(),
    id: element.id,
    inNav: !!element.closest("nav[aria-label='Menu principal']"),
    inPanel: !!element.closest("#tandem-panel"),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    visible: box.width > 0 && box.height > 0 && box.top >= 0
      && box.bottom <= window.innerHeight,
  };
}"""
WIDTH = "() => document.documentElement.scrollWidth"


def _assert_focus_shows(focused: dict) -> None:
    assert focused["visible"], focused
    assert focused["outlineStyle"] not in ("none", "hidden"), focused
    assert focused["outlineWidth"] >= 2, focused
    assert focused["contrast"] >= 3, focused


def test_tab_reaches_the_skip_link_the_menu_and_logout_with_a_visible_focus(
    world, visit
):
    visitor = visit(world.user("cd23.porteur"))
    page = visitor.goto("/")

    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED)
    assert first["text"] == "Aller au contenu"
    _assert_focus_shows(first)
    # Without the focus, nothing shows the skip link nor any ring.
    page.evaluate("() => document.activeElement.blur()")
    assert page.evaluate(
        "() => getComputedStyle(document.querySelector('.tandem-skip-link'))"
        ".outlineStyle"
    ) in ("none", "hidden")

    page.keyboard.press("Tab")
    reached = []
    for _ in range(40):
        focused = page.evaluate(FOCUSED)
        reached.append(focused)
        _assert_focus_shows(focused)
        if focused["inNav"] and focused["text"].startswith("Notifications"):
            break
        page.keyboard.press("Tab")
    texts = [focused["text"] for focused in reached]
    assert texts[0] == "Tandem"
    assert "Se déconnecter" in texts
    assert "Double authentification" in texts and "Changer de mot de passe" in texts
    menu = [f["text"] for f in reached if f["inNav"]]
    assert [text.split(" ")[0] for text in menu] == [m.split(" ")[0] for m in MENU]
    assert menu[1] == "Demandes d'évolution"


def test_the_skip_link_moves_the_focus_to_the_content(world, visit):
    visitor = visit(world.user("cd23.porteur"))
    page = visitor.goto(reverse("evolutions:index"))

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('main')"), (
        "the next Tab goes on inside the content"
    )


@pytest.mark.parametrize("path", ["/", "/evolutions/"])
def test_no_sideways_scrolling_at_320_px(world, visit, path):
    visitor = visit(world.user("cd23.porteur"))
    visitor.page.set_viewport_size({"width": 320, "height": 720})
    page = visitor.goto(path)

    assert page.evaluate(WIDTH) <= 320
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    expect(page.get_by_role("navigation", name="Menu principal")).to_be_hidden()


def test_the_menu_button_opens_and_escape_closes_it_without_a_trap(world, visit):
    visitor = visit(world.user("cd23.porteur"))
    visitor.page.set_viewport_size({"width": 320, "height": 720})
    page = visitor.goto("/")
    button = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Menu principal")

    # Skip link, brand, then the button.
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(button).to_be_focused()
    _assert_focus_shows(page.evaluate(FOCUSED))
    expect(button).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    for name in MENU[:-1]:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert page.evaluate(WIDTH) <= 320

    # Tab walks the opened menu, then leaves it: the focus is not trapped.
    seen = []
    for _ in range(20):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if not focused["inPanel"]:
            break
        _assert_focus_shows(focused)
        seen.append(focused["text"])
    assert not focused["inPanel"]
    assert "Se déconnecter" in seen and "Mes tâches" in seen

    # Back in the menu, Escape closes it and gives the focus back to the button.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["inPanel"]
    page.keyboard.press("Escape")
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()

    # Space opens it too; Escape again.
    page.keyboard.press("Space")
    expect(nav).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(button).to_be_focused()


def test_login_errors_take_the_focus_and_name_the_page(db, visit):
    visitor = visit(None)
    page = visitor.goto(reverse("login"))
    expect(page.get_by_role("textbox", name="Nom d’utilisateur")).to_be_focused()

    visitor.follow(page.get_by_role("button", name="Se connecter").click)

    assert page.title() == "Erreur – Connexion – Tandem"
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    _assert_focus_shows(page.evaluate(FOCUSED))
    page.keyboard.press("Tab")
    expect(summary.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Nom d’utilisateur")).to_be_focused()
    expect(
        page.get_by_role("textbox", name="Nom d’utilisateur")
    ).to_have_accessible_description("Ce champ est obligatoire.")
