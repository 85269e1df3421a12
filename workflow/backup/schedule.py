"""Scheduled backups (`backup_scheduled`, run by beat): each archive verified before
the oldest beyond the retention are deleted."""

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from workflow.backup.archive import BackupError, _silent, archive_verify
from workflow.backup.write import BackupSummary, backup_write

# Scheduled backups (beat): kind → folder under TANDEM_BACKUP_DIR and the setting
# that says how many archives of that kind are kept.
SCHEDULED = {
    "daily": "TANDEM_BACKUP_KEEP_DAILY",
    "weekly": "TANDEM_BACKUP_KEEP_WEEKLY",
}
_ARCHIVE_GLOB = "tandem-backup-*.tar"


def backup_scheduled(
    kind: str, *, say: Callable[[str], None] = _silent
) -> BackupSummary:
    """Write one archive into TANDEM_BACKUP_DIR/<kind>/, read it back (manifest and
    every member's SHA-256), and only then delete the oldest archives of that kind
    beyond the retention. An archive that does not verify is renamed `….invalide`
    and nothing is deleted."""
    keep = getattr(settings, SCHEDULED[kind])
    folder = Path(settings.TANDEM_BACKUP_DIR) / kind
    try:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"Impossible de créer {folder} : {error}") from None
    summary = backup_write(folder, say=say)
    say(f"Relecture de {summary.path}…")
    try:
        archive_verify(summary.path)
    except BackupError as error:
        rejected = summary.path.with_name(summary.path.name + ".invalide")
        summary.path.rename(rejected)
        raise BackupError(
            f"L'archive écrite ne se relit pas ({error}) ; mise de côté sous "
            f"{rejected.name}, aucune ancienne sauvegarde supprimée."
        ) from None
    archives = sorted(folder.glob(_ARCHIVE_GLOB))
    for old in archives[: max(len(archives) - keep, 0)]:
        if old != summary.path:
            old.unlink()
            summary.removed.append(old)
    return summary
