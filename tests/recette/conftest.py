"""Fixtures of the acceptance tests."""

import pytest

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest


@pytest.fixture
def acceptance(world, settings, tmp_path):
    """Client 23's demo request whose manufacture is done: RecetteFlow waits at
    prepare_plan, with its (empty) plan."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
