"""Process apps declare their pages to the shell (workflow.shell); the project's
Site mounts what they declared, and nothing else names them."""

import pytest
from django.urls import reverse

from tandem.site import site
from workflow import shell


def test_the_site_mounts_what_each_app_registered():
    names = [viewset.app_name for viewset in site.viewsets]
    assert names == [
        "evolutions",
        "taches-evolutions",
        "recettes",
        "taches-recettes",
        "incidents",
        "taches-incidents",
        "annuaire",
    ]
    assert [type(v).__name__ for v in shell.applications()] == [
        "EvolutionsApp",
        "ScopedFlowAppViewset",
        "RecettesApp",
        "ScopedFlowAppViewset",
        "IncidentsApp",
        "ScopedFlowAppViewset",
    ]
    assert reverse("evolutions:index") == "/evolutions/"
    assert reverse("taches-recettes:inbox") == "/taches-recettes/inbox/"


def test_an_app_registers_once():
    with pytest.raises(ValueError, match="déjà déclarées"):
        shell.register_applications("evolutions.urls.applications")
