"""The acceptance half of a change request, walked in the browser by each actor.

Plain functions, no test: a browser test composes them after the evolution half
(which leaves the request "en recette" with its RecetteFlow started). Each step is
done by the user the flow gives it to, from « Mes tâches », through the pages
a person would use; the other client's people are checked to see none of it.
"""

import re
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone
from openpyxl import Workbook
from playwright.sync_api import Locator, Page, expect

from contacts.models import Membership, Role
from evolutions.models import ChangeRequest
from recette.models import AcceptancePlan, Campaign, Defect, Execution
from tests.browser.conftest import Visitor
from tests.browser.mytasks import home_row, not_on_home, open_from_home
from tests.conftest import World, totp_code
from tests.consistency import assert_consistent

R = Execution.Result
# The grid's keys (recette.pages.RESULT_KEYS): a letter chooses, Entrée saves.
KEYS = {R.PASSED: "r", R.FAILED: "e", R.BLOCKED: "b"}
OUTSIDERS = ("cd57.testeur", "cd57.porteur")
RESERVE = "Former les agents au nouvel export avant la mise en production."
DELIVERED = "Livraison enregistrée : la campagne est ouverte."
# No message, or its snackbar fully open (MDC: --opening for 150 ms, then --open).
# Reference, title, priority, steps (action, expected result).
CASES = (
    (
        "CT-1",
        "Saisie d'une déclaration",
        "haute",
        (
            ("Saisir une déclaration", "Déclaration enregistrée"),
            ("Valider", "Accusé de réception"),
        ),
    ),
    ("CT-2", "Export", "moyenne", (("Exporter", "Fichier produit"),)),
    ("CT-3", "Purge", "basse", (("Purger", "Rien ne reste"),)),
    ("CT-4", "Droits", "haute", (("Se connecter sans droit", "Accès refusé"),)),
)


def acceptance_journey(
    world: World,
    visit: Callable[..., Visitor],
    change_request: ChangeRequest,
    visitors: dict[str, Visitor],
    tmp_path: Path,
) -> ChangeRequest:
    """From the acceptance plan to "en production", through the browser.

    `change_request` is "en recette" with its RecetteFlow started; `visitors`
    (username → Visitor) is reused and completed, so that a composed journey keeps
    one browser context per person. Returns the request as saved at the end.
    """

    def who(username: str) -> Visitor:
        if username not in visitors:
            visitors[username] = visit(world.user(username))
        return visitors[username]

    # As saved now: the evolution half may have changed it (its order owner).
    cr = ChangeRequest.objects.select_related("order_owner").get(pk=change_request.pk)
    ref = cr.reference

    # 1. The supplier's owner of the request (the only one the flow lets prepare
    # the plan) imports the cases from a spreadsheet, previewed then confirmed,
    # and submits the plan with its workload and dates.
    prepare_plan(who(cr.order_owner.get_username()), cr, _cases_workbook(tmp_path))
    outsiders_see_nothing(who, cr, step=1)

    # 2. The client's owner validates it, seeing what he validates: its cases,
    # its schedule and the cahier de recette.
    porteur = who("cd23.porteur")
    open_task(porteur, ref, "Valider le plan de recette")
    for reference, title, _priority, _steps in CASES:
        expect(_row(porteur.page, reference)).to_contain_text(title)
    expect(
        porteur.page.get_by_role("link", name="Cahier de recette v1 (PDF)")
    ).to_be_visible()
    submit_task(
        porteur, "Votre décision sur le plan est enregistrée.", "Valider le plan"
    )
    assert _plan_status(cr) == AcceptancePlan.Status.VALIDATED
    outsiders_see_nothing(who, cr, step=2)

    # 3. The project team qualifies the build, then delivers it: campaign 1 opens.
    moe = who("cnaf.moe")
    open_task(moe, ref, "Qualifier l'évolution")
    moe.page.get_by_label("Qualification réussie", exact=True).check()
    submit_task(
        moe, "La qualification est enregistrée.", "Enregistrer la qualification"
    )
    open_task(moe, ref, "Livrer en recette")
    submit_task(moe, DELIVERED, "Enregistrer la livraison")
    first = Campaign.objects.get(change_request=cr, number=1)
    outsiders_see_nothing(who, cr, step=3, campaign=first)

    # 4. The client's owner, whose queue now holds the campaign, gives two cases
    # to each of two testers; both record results from the keyboard; the failed
    # case gets a blocking defect.
    expect_task(porteur, ref, "Mener la campagne de tests")
    testeur, second = who("cd23.testeur"), who(_second_tester(world, cr))
    tester_name = world.user("cd23.testeur").get_full_name()
    second_name = world.user(second.name).get_full_name()
    assign_cases(porteur, first, tester_name, ("CT-1", "CT-2"))
    assign_cases(porteur, first, second_name, ("CT-3", "CT-4"))
    open_grid(testeur, cr, first)
    record(testeur, {"CT-1": R.PASSED, "CT-2": R.FAILED})
    open_grid(second, cr, first)
    record(second, {"CT-3": R.BLOCKED, "CT-4": R.PASSED})
    second.screenshot("result-grid")
    defect = raise_blocking_defect(
        testeur, cr, first, "CT-2", "Export vide", _screenshot(tmp_path)
    )
    # By assigned tester: to run, passed, failed, blocked, not applicable.
    open_dashboard(
        porteur,
        first,
        {tester_name: (0, 1, 1, 0, 0), second_name: (0, 1, 0, 1, 0)},
        blocking=1,
    )
    porteur.screenshot("campaign-dashboard")
    outsiders_see_nothing(who, cr, step=4, campaign=first)

    # The project team reads it and asks; the tester answers in the thread.
    discuss_defect(moe, cr, defect, "Sur quel navigateur ?")
    discuss_defect(testeur, cr, defect, "Firefox, poste standard.")
    assert defect.comments.count() == 2

    # 5. Fixes asked; the corrective delivery claims the fix and opens a re-test
    # of what failed or was blocked; it passes, the tester verifies the defect and
    # the owner moves on to the report.
    open_task(porteur, ref, "Mener la campagne de tests")
    porteur.page.get_by_label("Livraison corrective demandée", exact=True).check()
    submit_task(porteur, "La campagne est close.", "Clore la campagne")
    open_task(moe, ref, "Livrer en recette")
    moe.page.get_by_label(str(defect), exact=True).check()
    submit_task(moe, DELIVERED, "Enregistrer la livraison")
    retest = Campaign.objects.get(change_request=cr, number=2)
    assert retest.kind == Campaign.Kind.RETEST
    assert {c.case.reference for c in retest.campaign_cases.all()} == {"CT-2", "CT-3"}
    open_grid(testeur, cr, retest)
    record(testeur, {"CT-2": R.PASSED})
    open_grid(second, cr, retest)
    record(second, {"CT-3": R.PASSED})
    verify_defect(testeur, cr, defect)
    open_task(porteur, ref, "Mener la campagne de tests")
    porteur.page.get_by_label("Passage au bilan", exact=True).check()
    submit_task(porteur, "La campagne est close.", "Clore la campagne")
    outsiders_see_nothing(who, cr, step=5, campaign=retest)

    # 6. The client's owner writes the report: favourable, with a reserve.
    open_task(porteur, ref, "Rédiger le bilan de recette")
    porteur.page.get_by_label("Favorable avec réserves", exact=True).check()
    porteur.page.get_by_role("textbox", name="Réserves").fill(RESERVE)
    submit_task(
        porteur,
        "Le bilan est déposé : l'accord de mise en production attend les deux DSI.",
        "Déposer le bilan",
    )
    outsiders_see_nothing(who, cr, step=6)

    # 7. Both IT directors sign, each with their password and a fresh code; the
    # first signature alone changes nothing.
    sign(who("cnaf.dsi"), world, cr, "Signer l'accord (DSI de la CNAF)")
    assert _status(cr) == ChangeRequest.Status.IN_ACCEPTANCE
    dsi = who("cd23.dsi")
    sign(dsi, world, cr, "Signer l'accord (DSI du Conseil départemental)")
    assert _status(cr) == ChangeRequest.Status.IN_PRODUCTION
    in_production(dsi, cr)
    outsiders_see_nothing(who, cr, step=7, campaign=retest)
    return ChangeRequest.objects.get(pk=cr.pk)


# --- Steps -----------------------------------------------------------------------


def _second_tester(world: World, change_request: ChangeRequest) -> str:
    """A second tester of the request's organisation (the demo has one per
    client), as the administrator records them: an account and its role."""
    user = get_user_model().objects.create_user(
        username="cd23.testeur2",
        password=world.password,
        first_name="Léa",
        last_name="Martin",
        email="cd23.testeur2@demo.tandem.invalid",
    )
    Membership.objects.create(
        user=user, organisation=change_request.organisation, role=Role.TESTEUR
    )
    return user.get_username()


def prepare_plan(
    visitor: Visitor, change_request: ChangeRequest, workbook: Path
) -> None:
    """Open the task (which opens the plan), import the cases, submit the plan."""
    ref, page = change_request.reference, visitor.page
    open_task(visitor, ref, "Préparer le plan de recette")
    visitor.goto(f"/recettes/{change_request.pk}/")
    _follow(visitor, page.get_by_role("link", name="Importer des cas"), r"/import/$")
    page.get_by_label("Fichier des cas de test (CSV ou XLSX)").set_input_files(workbook)
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_text(f"{len(CASES)} cas lus")).to_be_visible()
    visitor.arrived()
    _follow(
        visitor,
        page.get_by_role("button", name="Confirmer l'import"),
        rf"/recettes/{change_request.pk}/#cas-du-plan$",
    )
    expect(page.get_by_text(f"{len(CASES)} cas de test importés")).to_be_visible()
    for reference, title, _priority, _steps in CASES:
        expect(_row(page, reference)).to_contain_text(title)

    open_task(visitor, ref, "Préparer le plan de recette")
    today = timezone.localdate().isoformat()
    page.get_by_label("Charge (jours-homme)").fill("4")
    page.get_by_label("Début de la recette").fill(today)
    page.get_by_label("Fin de la recette").fill(today)
    submit_task(
        visitor,
        "Le plan de recette a été soumis au client.",
        "Soumettre le plan au client",
    )
    assert _plan_status(change_request) == AcceptancePlan.Status.SUBMITTED


def assign_cases(
    visitor: Visitor, campaign: Campaign, tester: str, references: tuple[str, ...]
) -> None:
    """The client's owner gives cases to a tester from the grid's assignment page."""
    page = visitor.page
    visitor.goto(f"/recettes/campagnes/{campaign.pk}/")
    _follow(visitor, page.get_by_role("link", name="Attribuer des cas"), "affectation")
    page.get_by_label("Testeur").select_option(label=tester)
    titles = {reference: title for reference, title, _priority, _steps in CASES}
    for reference in references:
        page.get_by_label(f"{reference} – {titles[reference]}", exact=True).check()
    _follow(
        visitor,
        page.get_by_role("button", name="Attribuer", exact=True),
        rf"/campagnes/{campaign.pk}/$",
    )
    for reference in references:
        expect(_row(page, reference)).to_contain_text(tester)


def open_grid(
    visitor: Visitor, change_request: ChangeRequest, campaign: Campaign
) -> None:
    """From the request's acceptance page to the campaign's grid, by its link."""
    page = visitor.page
    visitor.goto(f"/recettes/{change_request.pk}/")
    link = page.get_by_role(
        "link", name=f"{campaign.get_kind_display()} {campaign.number}", exact=True
    )
    _follow(visitor, link, rf"/campagnes/{campaign.pk}/$")
    expect(page.locator("#tandem-grid-help")).to_be_visible()


def record(visitor: Visitor, results: dict[str, str]) -> None:
    """Record results from the keyboard, as a tester does: focus the case's row,
    type the result's letter, confirm with Entrée; wait until the row shows it
    saved (the grid saves each result at once)."""
    page = visitor.page
    for reference, result in results.items():
        row = page.locator(f"tr[data-reference='{reference}']")
        row.focus()
        expect(row).to_be_focused()
        row.press(KEYS[result])
        expect(page.locator("#tandem-grid-status")).to_contain_text(
            "Entrée pour enregistrer"
        )
        row.press("Enter")
        expect(row).to_have_attribute("data-result", result)
        label = R(result).label
        expect(row.locator("[data-result-label]")).to_have_text(str(label))
        expect(page.locator("#tandem-grid-status")).to_have_text(
            f"{reference} : {label}"
        )


def open_dashboard(
    visitor: Visitor,
    campaign: Campaign,
    by_tester: dict[str, tuple[int, ...]],
    blocking: int,
) -> None:
    """From the grid to the campaign's dashboard, all cases run; `by_tester`: the
    counts of a tester's row (or "Non attribué"), in the order of the results."""
    page = visitor.page
    _follow(
        visitor,
        page.get_by_role("link", name="Tableau de bord", exact=True),
        rf"/campagnes/{campaign.pk}/tableau-de-bord/$",
    )
    planned = campaign.campaign_cases.count()
    expect(page.get_by_text(f"{planned} cas exécutés sur {planned}.")).to_be_visible()
    for name, counts in by_tester.items():
        cells = _row(page, name).locator("td")
        expect(cells).to_have_text([name, *(str(n) for n in counts)])
    expect(page.get_by_text(f"Bloquante : {blocking}")).to_be_visible()


def raise_blocking_defect(
    visitor: Visitor,
    change_request: ChangeRequest,
    campaign: Campaign,
    reference: str,
    title: str,
    screenshot: Path,
) -> Defect:
    """From the grid, « a » on the failed case's row: the form comes with the
    campaign, the case and its failure; the tester adds a title, the severity and
    a screenshot, and lands on the defect's page."""
    page = visitor.page
    row = page.locator(f"tr[data-reference='{reference}']")
    row.focus()
    with page.expect_navigation():
        row.press("a")
    expect(page).to_have_url(re.compile(r"/anomalies/nouvelle/\?campagne="))
    visitor.arrived()
    expect(page.get_by_label("Cas de test")).to_have_value(
        str(campaign.campaign_cases.get(case__reference=reference).case_id)
    )
    expect(
        page.get_by_label(f"{reference} – Échoué (campagne {campaign.number})")
    ).to_be_checked()
    page.get_by_role("textbox", name="Intitulé").fill(title)
    page.get_by_label("Bloquante", exact=True).check()
    page.get_by_label("Résultat observé").fill("Le fichier exporté est vide.")
    page.get_by_label("Captures et fichiers").set_input_files(screenshot)
    page.get_by_role("button", name="Enregistrer l'anomalie").click()
    expect(page).to_have_url(re.compile(r"/recettes/anomalies/\d+/$"))
    visitor.arrived()
    defect = Defect.objects.get(change_request=change_request, title=title)
    expect(
        page.get_by_text(f"Anomalie {defect.reference} enregistrée.")
    ).to_be_visible()
    assert defect.severity == Defect.Severity.BLOCKING
    assert (defect.campaign, defect.case.reference) == (campaign, reference)
    assert [e.case.reference for e in defect.executions.all()] == [reference]
    assert [a.original_name for a in defect.attachments.all()] == [screenshot.name]
    expect(page.get_by_role("link", name=screenshot.name)).to_be_visible()
    return defect


def open_defect(visitor: Visitor, change_request: ChangeRequest, defect: Defect):
    """From the acceptance page to the defect's page, by its reference."""
    page = visitor.page
    visitor.goto(f"/recettes/{change_request.pk}/")
    _follow(
        visitor,
        page.get_by_role("link", name=defect.reference, exact=True),
        rf"/recettes/anomalies/{defect.pk}/$",
    )


def discuss_defect(
    visitor: Visitor, change_request: ChangeRequest, defect: Defect, message: str
) -> None:
    """Read the defect (what was observed, its screenshot) and write in its
    thread."""
    page = visitor.page
    open_defect(visitor, change_request, defect)
    expect(page.get_by_text("Le fichier exporté est vide.")).to_be_visible()
    expect(page.get_by_role("link", name="capture-export.png")).to_be_visible()
    page.get_by_label("Votre message").fill(message)
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.get_by_text("Message ajouté.")).to_be_visible()
    visitor.arrived()
    expect(page.locator(".tandem-thread")).to_contain_text(message)


def verify_defect(
    visitor: Visitor, change_request: ChangeRequest, defect: Defect
) -> None:
    """The tester confirms the fix from the defect's page: the move says what it
    means, then is confirmed."""
    page = visitor.page
    open_defect(visitor, change_request, defect)
    _follow(
        visitor,
        page.get_by_role("link", name="Confirmer la correction"),
        rf"/anomalies/{defect.pk}/verifier/$",
    )
    expect(page.get_by_text("Vous avez vérifié")).to_be_visible()
    _follow(
        visitor,
        page.get_by_role("button", name="Confirmer la correction"),
        rf"/recettes/anomalies/{defect.pk}/$",
    )
    expect(page.get_by_text(f"{defect.reference} : Vérifiée.")).to_be_visible()
    assert Defect.objects.get(pk=defect.pk).status == Defect.Status.VERIFIED


def sign(
    visitor: Visitor, world: World, change_request: ChangeRequest, title: str
) -> None:
    """An IT director signs the agreement: password again and an authenticator
    code."""
    page = visitor.page
    open_task(visitor, change_request.reference, title)
    expect(
        page.get_by_role("heading", name="Accord de mise en production")
    ).to_be_visible()
    # What is signed: the verdict, its reserves, the bilan and its fingerprint.
    report = change_request.acceptance_report
    main = page.locator("main")
    expect(main).to_contain_text("Favorable avec réserves")
    expect(main).to_contain_text(RESERVE)
    expect(main).to_contain_text(report.document_sha256)
    expect(
        page.get_by_role("link", name=f"Bilan v{report.version} (PDF)")
    ).to_be_visible()
    page.get_by_label("Votre mot de passe (confirmation de signature)").fill(
        world.password
    )
    page.get_by_label("Code à 6 chiffres de votre application d'authentification").fill(
        totp_code(world.user(visitor.name))
    )
    submit_task(
        visitor,
        "Votre décision sur l'accord est enregistrée.",
        "Signer l'accord de mise en production",
    )


def in_production(visitor: Visitor, change_request: ChangeRequest) -> None:
    """What the last signer sees: the request in production, the agreement signed
    by both with a second factor (the screenshot), no task left."""
    page, ref = visitor.page, change_request.reference
    visitor.goto("/recettes/")
    expect(_row(page, ref)).to_contain_text("En production")
    visitor.goto(f"/recettes/{change_request.pk}/")
    agreement = page.locator("section").filter(
        has=page.get_by_role("heading", name="Accord de mise en production")
    )
    expect(agreement).to_contain_text("Signé par les deux DSI")
    expect(agreement.get_by_role("listitem")).to_have_count(2)
    expect(agreement.get_by_role("listitem").first).to_contain_text("code TOTP")
    agreement.scroll_into_view_if_needed()
    visitor.screenshot("go-live-agreement")
    not_on_home(visitor, ref)


# --- Tasks ---------------------------------------------------------------------


def expect_task(visitor: Visitor, reference: str, title: str) -> Locator:
    """The task waits in the user's « Mes tâches »."""
    return home_row(visitor, reference, title)


def open_task(visitor: Visitor, reference: str, title: str) -> None:
    """Open the task from « Mes tâches » (taking it when it waits for the role)."""
    open_from_home(visitor, reference, title)
    expect(visitor.page.get_by_role("heading", name="Votre action")).to_be_visible()


def submit_task(visitor: Visitor, message: str, button: str) -> None:
    """Send the task's form by its `button` (named after the decision) and wait
    for the page it leads to."""
    page = visitor.page
    url = page.url
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(lambda now: now != url)
    expect(page.get_by_text(message)).to_be_visible()
    visitor.arrived()


def outsiders_see_nothing(
    who: Callable[[str], Visitor],
    change_request: ChangeRequest,
    *,
    step: int,
    campaign: Campaign | None = None,
) -> None:
    """The other client's people (one per step, in turn) find none of it: not in
    the list, nor in their inbox or queue; its pages answer 404. Checked after
    every step, with the request's own consistency."""
    assert_consistent(change_request)
    outsider = who(OUTSIDERS[step % 2])
    reference = change_request.reference
    for path in ("/recettes/", "/"):
        page = outsider.goto(path)
        expect(page.locator("body")).not_to_contain_text(reference)
    paths = [f"/recettes/{change_request.pk}/"]
    paths += [
        f"/recettes/anomalies/{defect.pk}/"
        for defect in Defect.objects.filter(change_request=change_request)
    ]
    if campaign is not None:
        paths += [
            f"/recettes/campagnes/{campaign.pk}/",
            f"/recettes/campagnes/{campaign.pk}/tableau-de-bord/",
        ]
    for path in paths:
        # Asked with the browser's session, not shown: a 404 document would log a
        # console error.
        response = outsider.page.request.get(outsider.base_url + path)
        assert response.status == 404, (outsider.name, path, response.status)


# --- Helpers ---------------------------------------------------------------------


def _follow(visitor: Visitor, target: Locator, url: str) -> None:
    """Click a link or button that leads to the page at `url`, check that page."""
    visitor.follow(target.click)
    expect(visitor.page).to_have_url(re.compile(url))


def _row(page: Page, text: str) -> Locator:
    return page.locator("tr").filter(has_text=text)


def _screenshot(tmp_path: Path) -> Path:
    """A small PNG, as a tester's screen capture."""
    path = tmp_path / "capture-export.png"
    # The signature, then enough bytes for the upload checks to read it.
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return path


def _cases_workbook(tmp_path: Path) -> Path:
    """The plan's cases as a supplier writes them: one row per step."""
    book = Workbook()
    sheet = book.active
    sheet.append(["Référence", "Titre", "Priorité", "Action", "Résultat attendu"])
    for reference, title, priority, steps in CASES:
        for number, (action, expected) in enumerate(steps):
            first = number == 0
            sheet.append(
                [
                    reference if first else "",
                    title if first else "",
                    priority if first else "",
                    action,
                    expected,
                ]
            )
    path = tmp_path / "cas-de-test.xlsx"
    book.save(path)
    return path


def _plan_status(change_request: ChangeRequest) -> str:
    return AcceptancePlan.objects.get(change_request=change_request).status


def _status(change_request: ChangeRequest) -> str:
    return ChangeRequest.objects.get(pk=change_request.pk).status
