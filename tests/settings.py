"""Test settings: production settings plus the `tests` package as an app, so that the
probe flows of the tests can be stored by viewflow."""

from workflow.settings import *  # noqa: F403
from workflow.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests"]

# Background work runs in the test's own process, at once; the integration tests
# that need a real worker switch this off for themselves.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
