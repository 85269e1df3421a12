"""How every user reaches their work in the browser journey: from « Mes tâches »
(the home page), one click on the task's row opens it (taking it when it waits
for the user's role); after saving, the user lands on the object's page."""

import re

from playwright.sync_api import Locator, expect

from tests.browser.conftest import Visitor

# The row's main action: « Prendre et ouvrir » (a waiting task) or « Ouvrir » (one
# already the user's).
OPEN = re.compile(r"^(Prendre et ouvrir|Ouvrir)\b")


def home_row(visitor: Visitor, reference: str, step: str) -> Locator:
    """The row of `step` about `reference` in the visitor's « Mes tâches », which
    must be there: that is how users learn it is their turn."""
    page = visitor.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes tâches")
    row = page.get_by_role("row").filter(has_text=reference).filter(has_text=step)
    expect(row).to_have_count(1)
    return row


def open_from_home(visitor: Visitor, reference: str, step: str) -> None:
    """One click from « Mes tâches » to the task's form."""
    row = home_row(visitor, reference, step)
    visitor.follow(
        row.get_by_role("button", name=OPEN)
        .or_(row.get_by_role("link", name=OPEN))
        .first.click
    )
    expect(visitor.page).to_have_url(re.compile(r"/execute/$"))


def not_on_home(visitor: Visitor, reference: str, step: str | None = None) -> None:
    """Nothing about `reference` (or its `step`) waits for the visitor any more."""
    page = visitor.goto("/")
    rows = page.get_by_role("row").filter(has_text=reference)
    if step is not None:
        rows = rows.filter(has_text=step)
    expect(rows).to_have_count(0)
