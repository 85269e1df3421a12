"""Test settings: production settings plus the `tests` package as an app, so that the
probe flows of the tests can be stored by viewflow."""

import tempfile
from pathlib import Path

from tandem.settings import *  # noqa: F403
from tandem.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests"]

# Never the anchors or backups of a development installation under var/.
_TEST_VAR = Path(tempfile.mkdtemp(prefix="tandem-tests-"))
TANDEM_AUDIT_ANCHOR_FILE = _TEST_VAR / "audit-anchors.jsonl"
TANDEM_BACKUP_DIR = _TEST_VAR / "backups"

# Background work runs in the test's own process, at once; the integration tests
# that need a real worker switch this off for themselves.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
