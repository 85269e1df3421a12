"""Fixtures of the engine's tests."""

import pytest

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
