"""The change-request half of the end-to-end journey, walked in the browser.

Each user works in a Visitor of their own and reaches every task the way they
would: from « Mes tâches », one click on the row, then the task's form; saved, they
land on the request's page, told what comes next. At each
step the next user is shown to find the request waiting for them, and the other
Conseil départemental (57) to find nothing of it anywhere.
"""

import re
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from evolutions.models import ChangeRequest, Release
from recette.models import RecetteProcess
from tests.browser.conftest import Visitor
from tests.browser.mytasks import home_row, not_on_home, open_from_home
from tests.conftest import World
from tests.consistency import assert_consistent

S = ChangeRequest.Status

TITLE = "Motif de la déclaration de changement de situation"
# A file as the browser sends it, no disk needed: workflow.uploads accepts a PDF by
# its first bytes.
ATTACHMENT = {
    "name": "maquette-declaration.pdf",
    "mimeType": "application/pdf",
    "buffer": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
}


def login(visit: Callable[..., Visitor], username: str, password: str) -> Visitor:
    """An anonymous visitor sent to the login page by "/", who signs in there: the
    one journey that proves the real login form works (the others get a session
    made server-side)."""
    visitor = visit(None, name=username)
    page = visitor.goto("/")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    page.get_by_label("Nom d’utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    visitor.follow(page.get_by_role("button", name="Se connecter").click)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes tâches")
    return visitor


def act(
    visitor: Visitor,
    reference: str,
    task: str,
    fill: Callable[[Page], object],
    *,
    button: str,
    second_tab: bool = False,
    screenshot: str = "",
) -> None:
    """Do `task` about `reference` as a user would: open it from « Mes tâches »,
    let `fill` fill its form, send it by its `button` (named after the decision);
    then the request's page says what comes next, and the task has left the list.

    `second_tab`: the same form was also open in another tab of the browser; saved
    there afterwards, it says who handled the task and when, and links back."""
    open_from_home(visitor, reference, task)
    page = visitor.page
    expect(page.get_by_role("heading", level=1)).to_have_text(task)
    other = None
    if second_tab:
        other = page.context.new_page()
        other.goto(page.url)
        expect(other.get_by_role("heading", level=1)).to_have_text(task)
    fill(page)
    if screenshot:
        page.evaluate("() => window.scrollTo(0, 0)")  # the heading, the request
        visitor.screenshot(screenshot)
    visitor.follow(page.get_by_role("button", name=button, exact=True).click)
    if other is not None:
        fill(other)
        other.get_by_role("button", name=button, exact=True).click()
        expect(other.get_by_role("alert")).to_contain_text(
            re.compile(r"Cette tâche a déjà été traitée par .+ le .+ à ")
        )
        other.get_by_role("link", name=re.compile(reference)).click()
        expect(other).to_have_url(re.compile(r"/evolutions/[0-9]+/$"))
        other.close()
    # Saved: on the request's page (a form with errors would have stayed).
    expect(page).to_have_url(re.compile(r"/evolutions/[0-9]+/$"))
    expect(page.get_by_role("status")).to_contain_text(
        re.compile("Étapes? suivantes? :|Aucune autre étape")
    )
    not_on_home(visitor, reference, task)


def menu_on_a_phone(visitor: Visitor) -> None:
    """At 320 CSS px the menu folds behind « Menu »; opened, every entry shows,
    and Escape closes it, the focus back on the button."""
    page = visitor.page
    page.set_viewport_size({"width": 320, "height": 720})
    visitor.goto("/")
    button = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="Annuaire")).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Annuaire")).to_be_visible()
    visitor.screenshot("menu-320")
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    page.set_viewport_size({"width": 1280, "height": 860})


def sees_nothing(visitor: Visitor, change_request: ChangeRequest) -> None:
    """Another client finds the request nowhere: list, search, tasks, detail.
    Checked after every step, as each one gives the request new data and tasks."""
    reference = change_request.reference
    page = visitor.goto("/evolutions/")
    page.get_by_role("textbox", name="Recherche", exact=True).fill(reference)
    visitor.follow(page.get_by_role("button", name="Filtrer").click)
    assert f"q={reference}" in page.url
    expect(page.locator("main")).to_contain_text("Aucune demande ne correspond.")
    # The header's search box, over every kind, finds nothing of it either.
    page.locator("header").get_by_role("searchbox").fill(reference)
    visitor.follow(
        page.locator("header").get_by_role("button", name="Rechercher").click
    )
    assert "/recherche/" in page.url
    expect(page.locator("main")).to_contain_text(f"Aucun résultat pour « {reference} »")
    expect(page.locator("main a", has_text=reference)).to_have_count(0)
    for path in ("/evolutions/", "/"):
        page = visitor.goto(path)
        expect(page.locator("main")).not_to_contain_text(reference)
        expect(page.locator("main")).not_to_contain_text(change_request.title)
    # Asked with the browser context's own session, not shown: Chromium logs every
    # page answering 404 as a console error.
    response = page.request.get(f"{visitor.base_url}/evolutions/{change_request.pk}/")
    assert response.status == 404


def expression_of_needs(visitor: Visitor) -> ChangeRequest:
    """The request owner writes the needs expression, attaches a file to the
    draft (the one place a client adds documents), and submits it."""
    page = visitor.goto("/evolutions/")
    visitor.follow(
        page.get_by_role("link", name="Nouvelle expression de besoin").click,
    )
    page.get_by_role("textbox", name="Intitulé").fill(TITLE)
    page.get_by_label("Nature").select_option(label="Réglementaire")
    page.get_by_label("DSG").check()
    page.get_by_label("GRO").check()
    page.get_by_label("Description du besoin").fill(
        "Ajouter le motif du changement de situation à la déclaration."
    )
    page.get_by_label("Bénéfice attendu").fill("Moins de rappels aux allocataires.")
    wished = timezone.localdate() + timedelta(days=120)
    page.get_by_label("Date souhaitée").fill(wished.isoformat())
    visitor.follow(page.get_by_role("button", name="Enregistrer le brouillon").click)
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    change_request = ChangeRequest.objects.get(
        pk=re.search(r"/evolutions/([0-9]+)/$", page.url)[1]
    )

    page.get_by_label("Fichier").set_input_files(ATTACHMENT)
    visitor.follow(page.get_by_role("button", name="Joindre").click)
    expect(page.get_by_role("link", name=ATTACHMENT["name"])).to_be_visible()

    visitor.follow(page.get_by_role("button", name="Soumettre à la CNAF").click)
    expect(page.locator("main")).to_contain_text("Soumise")
    return change_request


def status(change_request: ChangeRequest) -> str:
    """The request's status as stored now (the service, not the page, decides)."""
    return ChangeRequest.objects.values_list("status", flat=True).get(
        pk=change_request.pk
    )


# What each task's form is filled with: a function of the page, given to `act`.


def specification(version: str) -> Callable[[Page], None]:
    def fill(page: Page) -> None:
        page.get_by_label("Résumé du cahier des charges").fill(
            f"Cahier des charges {version} : un champ motif, liste fermée de codes."
        )
        page.get_by_label("Cahier des charges (document)").set_input_files(
            {**ATTACHMENT, "name": f"cahier-des-charges-{version}.pdf"}
        )

    return fill


def quote(page: Page) -> None:
    valid_until = timezone.localdate() + timedelta(days=30)
    page.get_by_label("Charge (jours-homme)").fill("12.5")
    page.get_by_label("Montant (euros HT)").fill("8750.00")
    page.get_by_label("Valable jusqu'au").fill(valid_until.isoformat())


def comment(text: str) -> Callable[[Page], None]:
    def fill(page: Page) -> None:
        page.get_by_role("textbox", name="Commentaire").fill(text)

    return fill


def evolution_journey(
    world: World, visit: Callable[..., Visitor], *, release: Release
) -> tuple[ChangeRequest, dict[str, Visitor]]:
    """From the needs expression to "manufacture done", through the browser.

    The specification is sent back once, so that the loop a client most often
    takes is walked too. Returns the request, read again, and the visitors by
    username ("cd23.porteur" logged in through the login form; "cnaf.contact",
    "cnaf.commande", "cnaf.moe", and "cd57.porteur" who must see nothing), for the
    acceptance half to go on with.
    """
    porteur = login(visit, "cd23.porteur", world.password)
    contact, commande, moe, outsider = (
        visit(world.user(name))
        for name in ("cnaf.contact", "cnaf.commande", "cnaf.moe", "cd57.porteur")
    )
    visitors = {
        visitor.name: visitor for visitor in (porteur, contact, commande, moe, outsider)
    }

    menu_on_a_phone(porteur)
    cr = expression_of_needs(porteur)
    ref = cr.reference

    def then(expected: str) -> None:
        """The step left the request in `expected`; client 57 still sees nothing."""
        assert status(cr) == expected
        assert_consistent(cr)
        sees_nothing(outsider, cr)

    then(S.SUBMITTED)
    order_owner = world.user("cnaf.commande").get_full_name()

    def acknowledge(page: Page) -> None:
        page.get_by_role("combobox", name="Porteur de la commande").select_option(
            label=order_owner
        )

    act(
        contact,
        ref,
        "Prendre en compte la demande",
        acknowledge,
        button="Prendre en compte et nommer le porteur de la commande",
    )
    then(S.IN_STUDY)

    # The specification goes back once with a comment, then is validated.
    home_row(commande, ref, "Rédiger le cahier des charges")
    commande.screenshot("my-tasks-order-owner")
    write = "Transmettre le cahier des charges au client"
    act(
        commande,
        ref,
        "Rédiger le cahier des charges",
        specification("v1"),
        button=write,
    )
    then(S.SPEC_REVIEW)
    home_row(porteur, ref, "Valider le cahier des charges")
    porteur.screenshot("my-tasks-porteur")
    act(
        porteur,
        ref,
        "Valider le cahier des charges",
        comment("Précisez les codes motifs attendus."),
        button="Renvoyer le cahier des charges avec des commentaires",
    )
    then(S.IN_STUDY)
    act(
        commande,
        ref,
        "Rédiger le cahier des charges",
        specification("v2"),
        button=write,
    )
    then(S.SPEC_REVIEW)
    act(
        porteur,
        ref,
        "Valider le cahier des charges",
        comment(""),
        button="Valider le cahier des charges",
    )
    then(S.QUOTE_PREPARATION)

    act(
        commande,
        ref,
        "Établir le devis",
        quote,
        button="Envoyer le devis",
        screenshot="task-page",
    )
    then(S.QUOTE_REVIEW)
    act(
        porteur,
        ref,
        "Accepter ou refuser le devis",
        comment(""),
        button="Accepter le devis",
    )
    then(S.PLANNING)

    def propose(page: Page) -> None:
        page.get_by_label("Version").select_option(label=release.number)

    act(
        commande,
        ref,
        "Proposer une version",
        propose,
        button="Proposer cette version au client",
    )
    then(S.RELEASE_PROPOSED)
    act(
        porteur,
        ref,
        "Confirmer la planification",
        comment(""),
        button="Confirmer cette version",
    )
    then(S.PLANNED)

    act(
        moe,
        ref,
        "Lancer la fabrication",
        comment("C'est parti."),
        button="Lancer la fabrication",
        second_tab=True,
    )
    then(S.IN_MANUFACTURE)
    act(
        moe,
        ref,
        "Terminer la fabrication",
        comment(""),
        button="Terminer la fabrication et ouvrir la recette",
    )
    then(S.IN_ACCEPTANCE)
    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.release == release
    assert RecetteProcess.objects.filter(change_request=cr).exists()

    page = porteur.goto(f"/evolutions/{cr.pk}/")
    expect(page.locator("main")).to_contain_text("En recette")
    expect(page.get_by_role("link", name=ATTACHMENT["name"])).to_be_visible()
    expect(page.get_by_role("link", name="cahier-des-charges-v2.pdf")).to_be_visible()
    history = page.get_by_role("region", name="Historique", exact=True)
    expect(history).to_contain_text("En recette")
    page.evaluate("() => window.scrollTo(0, 0)")  # the heading, status, documents
    porteur.screenshot("change-request-detail")
    return cr, visitors
