"""The whole journey in a real browser: from a needs expression to "En production",
each user in their own browser, every page checked by axe-core (conftest.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

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
    logs_out_with_the_keyboard(visitors["cd23.porteur"])


def logs_out_with_the_keyboard(visitor) -> None:
    """Tab from the top of « Mes tâches » to « Se déconnecter », then Enter."""
    page = visitor.goto("/")
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.textContent.trim()")
        if focused == "Se déconnecter":
            break
    else:
        raise AssertionError("« Se déconnecter » never took the focus")
    visitor.follow(lambda: page.keyboard.press("Enter"))
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    assert visitor.goto("/").url.endswith("/accounts/login/?next=/")
