"""Background jobs of the acceptance, scheduled by Celery beat."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from workflow.uploads import private_storage

logger = logging.getLogger(__name__)

# Where recette.pages.cases_import keeps a checked file until it is confirmed or
# cancelled; the session that knew it may be gone, hence the expiry.
IMPORT_PREVIEWS_FOLDER = "imports"
IMPORT_PREVIEW_MAX_AGE = dt.timedelta(hours=24)


@shared_task(name="recette.tasks.expire_import_previews")
def expire_import_previews() -> int:
    """Delete the import previews left unconfirmed for a day; return how many."""
    storage = private_storage()
    try:
        _folders, names = storage.listdir(IMPORT_PREVIEWS_FOLDER)
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - IMPORT_PREVIEW_MAX_AGE
    deleted = 0
    for name in names:
        path = f"{IMPORT_PREVIEWS_FOLDER}/{name}"
        try:
            expired = storage.get_modified_time(path) < cutoff
        except FileNotFoundError:
            continue  # confirmed or cancelled meanwhile
        if expired:
            storage.delete(path)
            deleted += 1
    if deleted:
        logger.info("%d aperçu(s) d'import expiré(s) supprimé(s)", deleted)
    return deleted
