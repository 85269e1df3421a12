"""Test settings: production settings plus the `tests` package as an app, so that the
probe flows of the tests can be stored by viewflow."""

from workflow.settings import *  # noqa: F403
from workflow.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests"]
