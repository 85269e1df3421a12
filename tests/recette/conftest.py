"""Fixtures of the acceptance tests."""

import pytest

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services


@pytest.fixture
def acceptance(world, settings, tmp_path):
    """Client 23's demo request whose manufacture is done: RecetteFlow waits at
    prepare_plan, with its (empty) plan."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )


@pytest.fixture
def draft_plan(world, acceptance):
    """Client 23's acceptance plan in preparation (no case yet), opened by the
    supplier's project team."""
    return services.plan_prepare(
        change_request_pk=acceptance.pk, by=world.user("cnaf.moe")
    )
