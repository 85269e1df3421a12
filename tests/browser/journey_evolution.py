"""The change-request half of the end-to-end journey, walked in the browser.

Each user works in a Visitor of their own and reaches every task the way they
would: from their inbox or queue, by the row's link, then the task's form. At each
step the next user is shown to find the request waiting for them, and the other
Conseil départemental (57) to find nothing of it anywhere.
"""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Page, expect

from evolutions.models import ChangeRequest, Release
from tests.browser.conftest import Visitor

S = ChangeRequest.Status

TITLE = "Motif de la déclaration de changement de situation"
# The smallest file workflow.uploads accepts as a PDF: its signature and an end.
TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def navigate(visitor: Visitor, action: Callable[[], object]) -> Page:
    """Run `action` (a click that leaves the page) and wait for the next page.

    Turbo swaps the body of the same document, and it changes the address before
    the new page is drawn: so the old body is marked, and the page counts as
    arrived once that body is gone (a full load replaces it too). The CSP
    violations of the page left are collected first, as `goto` does.
    """
    page = visitor.page
    visitor.leave()
    page.evaluate(
        "() => { window.__tandemCsp = []; document.body.dataset.tandemLeft = '1'; }"
    )
    action()
    page.wait_for_function("() => document.body && !document.body.dataset.tandemLeft")
    visitor.arrived()
    return page


def login(visit, username: str, password: str) -> Visitor:
    """An anonymous visitor sent to the login page, who signs in there."""
    visitor = visit(None, name=username)
    page = visitor.goto("/")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    page.get_by_label("Nom d’utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    navigate(visitor, page.get_by_role("button", name="Se connecter").click)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bonjour")
    return visitor


def waiting_task(visitor: Visitor, box: str, reference: str, task: str):
    """The row of `box` ("inbox" or "queue") for `task` about `reference`."""
    page = visitor.goto(f"/evolution/{box}/")
    row = page.get_by_role("row").filter(has_text=reference).filter(has_text=task)
    expect(row).to_have_count(1)
    return row


def act(
    visitor: Visitor,
    box: str,
    reference: str,
    task: str,
    fill: Callable[[Page], object],
) -> None:
    """Do `task` about `reference`: open it from the inbox or the queue (taking it
    first in the latter case), let `fill` fill its form, then save it."""
    row = waiting_task(visitor, box, reference, task)
    page = navigate(visitor, row.get_by_role("link").first.click)
    if box == "queue":
        navigate(visitor, page.get_by_role("button", name="Assign").click)
    expect(page.get_by_role("heading", level=1)).to_have_text(task)
    fill(page)
    navigate(visitor, page.get_by_role("button", name="Enregistrer").click)
    expect(page.get_by_role("heading", level=1)).not_to_have_text(task)


def sees_nothing(visitor: Visitor, change_request: ChangeRequest) -> None:
    """Another client finds the request nowhere: lists, search, detail, tasks."""
    reference = change_request.reference
    for path in (
        "/evolutions/",
        f"/evolutions/?q={reference}",
        "/evolution/inbox/",
        "/evolution/queue/",
    ):
        page = visitor.goto(path)
        expect(page.locator("main")).not_to_contain_text(reference)
        expect(page.locator("main")).not_to_contain_text(change_request.title)
    response = visitor.page.goto(
        f"{visitor.base_url}/evolutions/{change_request.pk}/"
    )
    assert response.status == 404
    visitor.arrived()


def expression_of_needs(visitor: Visitor, attachment: Path) -> ChangeRequest:
    """The request owner writes the needs expression, attaches a file, submits."""
    page = visitor.goto("/evolutions/")
    navigate(
        visitor,
        page.get_by_role("link", name="Nouvelle expression de besoin").click,
    )
    page.get_by_label("Intitulé").fill(TITLE)
    page.get_by_label("Nature").select_option(label="Réglementaire")
    page.get_by_label("DSG").check()
    page.get_by_label("GRO").check()
    page.get_by_label("Description du besoin").fill(
        "Ajouter le motif du changement de situation à la déclaration."
    )
    page.get_by_label("Bénéfice attendu").fill("Moins de rappels aux allocataires.")
    wished = timezone.localdate() + timedelta(days=120)
    page.get_by_label("Date souhaitée").fill(wished.isoformat())
    navigate(
        visitor, page.get_by_role("button", name="Enregistrer le brouillon").click
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    change_request = ChangeRequest.objects.get(title=TITLE)

    page.get_by_label("Fichier").set_input_files(attachment)
    navigate(visitor, page.get_by_role("button", name="Joindre").click)
    expect(page.get_by_role("link", name=attachment.name)).to_be_visible()

    navigate(visitor, page.get_by_role("button", name="Soumettre à la CNAF").click)
    expect(page.locator("main")).to_contain_text("Soumise")
    return change_request


def evolution_journey(
    world, visit, *, release: Release, tmp_path: Path | None = None
) -> tuple[ChangeRequest, dict[str, Visitor]]:
    """From the needs expression to "manufacture done", through the browser."""
    raise NotImplementedError
