"""An incident in a real browser: declared by client 23's correspondent, taken in
by the GSI, escalated to level 2, back in service, confirmed by the client; each
user in their own browser, every page checked by axe-core (conftest.py); the
other client finds it nowhere."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.consistency import incident_problems
from incidents.models import Incident
from tests.browser.mytasks import not_on_home, open_from_home

pytestmark = pytest.mark.browser


def test_an_incident_from_its_declaration_to_its_confirmation(world, visit):
    client = visit(world.user("cd23.incidents"))
    page = client.goto("/")
    client.follow(page.get_by_role("link", name="Déclarer un incident").click)
    expect(page.get_by_role("heading", level=1)).to_have_text("Déclarer un incident")
    page.get_by_label("Technique", exact=True).check()
    page.get_by_label("Majeure : une fonction est inutilisable").check()
    page.get_by_label("Domaine ou application").fill("Flux DSG")
    page.get_by_label("Description précise de l'anomalie").fill(
        "Le flux DSG du jour n'est pas arrivé."
    )
    detected = timezone.localtime() - timezone.timedelta(minutes=10)
    page.get_by_label("Détecté le").fill(detected.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Téléphone").fill("05 55 00 00 00")
    client.follow(page.get_by_role("button", name="Enregistrer l'incident").click)
    incident = Incident.objects.get()
    number = incident.number
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.get_by_role("status")).to_contain_text(
        f"Incident enregistré sous le numéro de dossier {number}"
    )

    gsi = visit(world.user("cnaf.gsi"))
    open_from_home(gsi, number, "Prendre en compte l'incident")
    gsi.page.get_by_label("Accusé de réception").fill("Bien reçu, nous regardons.")
    gsi.follow(gsi.page.get_by_role("button", name="Prendre en compte").click)
    expect(gsi.page).to_have_url(re.compile(r"/incidents/[0-9]+/$"))
    not_on_home(gsi, number, "Prendre en compte l'incident")

    open_from_home(gsi, number, "Traiter l'incident (GSI)")
    gsi.page.get_by_label("Vers le niveau").select_option("2")
    gsi.page.get_by_label("Motif du changement de niveau").fill("Chaîne CSN.")
    gsi.follow(gsi.page.get_by_role("button", name="Changer de niveau").click)

    level2 = visit(world.user("cnaf.support2"))
    open_from_home(level2, number, "Traiter l'incident (niveau 2)")
    level2.page.get_by_label("Résolution").fill("Flux relancé.")
    level2.follow(
        level2.page.get_by_role("button", name="Le service est rétabli").click
    )

    open_from_home(client, number, "Confirmer le retour au service")
    client.follow(
        client.page.get_by_role(
            "button", name="Le service est bien rétabli : clore l'incident"
        ).click
    )
    expect(client.page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(client.page.locator("main")).to_contain_text("Clos")
    closed = Incident.objects.get(pk=incident.pk)
    assert closed.status == Incident.Status.CLOSED
    assert closed.level == "2"
    assert not incident_problems(closed)

    other = visit(world.user("cd57.incidents"))
    page = other.goto("/incidents/")
    expect(page.locator("main")).not_to_contain_text(number)
    expect(other.goto("/").locator("main")).not_to_contain_text(number)
    response = page.request.get(f"{other.base_url}/incidents/{incident.pk}/")
    assert response.status == 404
