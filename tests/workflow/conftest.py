"""Fixtures of the engine's tests."""

import pytest
from django.core.files.base import ContentFile
from django.db.models import FileField
from django.db.models.fields.files import FieldFile

from contacts.models import Role
from evolutions import services
from workflow.uploads import private_storage


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


@pytest.fixture
def stored(settings, tmp_path):
    """Save content in a temporary private storage and return its field file:
    `stored(content, name)`."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path

    def store(content: bytes, name: str) -> FieldFile:
        storage = private_storage()
        saved = storage.save(name, ContentFile(content))
        return FieldFile(None, FileField(storage=storage), saved)

    return store
