"""Fixtures of the engine's tests."""

import pytest

from contacts.models import Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load


@pytest.fixture
def demo(world, settings, tmp_path):
    """Both processes' demo data: requests of 23 and 57 at every step (a module
    may define its own `demo`, which then takes precedence)."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    return world


@pytest.fixture
def submit_request(world):
    """Submits a change request of client 23 (its supplier contact is told and has
    its review to do): `submit_request(title=…)` answers the request."""

    def submit(*, title="Besoin"):
        porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
        cr = services.change_request_create(
            by=porteur,
            organisation=world.creuse,
            title=title,
            kind="technique",
            data_flows=["DSG"],
            description="Détail du besoin",
        )
        return services.change_request_submit(pk=cr.pk, by=porteur)

    return submit
