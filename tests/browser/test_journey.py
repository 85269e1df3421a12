"""The whole journey in a real browser: from a needs expression to "En production",
each user in their own browser, every page checked by axe-core (conftest.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from evolutions.models import ChangeRequest, Release
from tests.browser.journey_evolution import evolution_journey
from tests.browser.journey_recette import acceptance_journey

pytestmark = pytest.mark.browser
S = ChangeRequest.Status


def test_whole_journey_from_needs_expression_to_production(
    world, visit, settings, tmp_path
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    today = timezone.localdate()
    release = Release.objects.create(
        number="2099.1",
        recette_start=today + timedelta(days=30),
        recette_end=today + timedelta(days=60),
        production_date=today + timedelta(days=120),
    )

    change_request, visitors = evolution_journey(world, visit, release=release)
    assert change_request.status == S.IN_ACCEPTANCE
    change_request = acceptance_journey(
        world, visit, change_request, visitors, tmp_path
    )

    assert change_request.status == S.IN_PRODUCTION
    assert change_request.release == release
