"""Restoring an archive (`backup_restore`).

The archive's database is loaded beside the current one (PostgreSQL: into fresh
schemas, the current ones renamed aside; SQLite: into a file beside the current
one), checked there (row counts, audit chain and the manifest's anchor), then the
files are put in place and checked; only then is the new database switched in and
the old one dropped. Any failure before that drops what was loaded and puts the
old database and files back as they were.
"""

import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, connection
from django.utils import timezone

from workflow import audit
from workflow.backup.archive import (
    _CHUNK,
    FILES_PREFIX,
    BackupError,
    _archive_members,
    _extract_verified,
    _silent,
    _tandem_version,
    archive_verify,
)
from workflow.backup.contents import files_storage
from workflow.backup.postgresql import _client_program, _PostgresqlStaging
from workflow.backup.sqlite import _SqliteStaging


@dataclass
class RestoreSummary:
    vendor: str
    created_at: str
    tables: int
    rows: int
    files: int
    files_bytes: int
    moved_aside: Path | None
    warnings: list[str] = field(default_factory=list)


def backup_restore(
    archive: Path, *, force: bool = False, say: Callable[[str], None] = _silent
) -> RestoreSummary:
    """Check the whole archive, load its database and files beside the current ones,
    compare them with the manifest, and switch them in only if they match; a
    non-empty target is refused unless `force`."""
    say(f"Vérification de l'archive {archive}…")
    manifest = archive_verify(archive)
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise BackupError(
            f"L'archive contient une base {vendor}, la base cible est "
            f"{connection.vendor} : restaurez-la dans une base {vendor}."
        )
    if vendor == "postgresql":
        _client_program("pg_restore")
        if connection.in_atomic_block:
            raise BackupError(
                "La restauration ouvre ses propres transactions : lancez-la hors de "
                "toute transaction."
            )
    storage = files_storage()
    root = Path(storage.location)
    tables = _target_tables()
    present_files = _files_under(root)
    if (tables or present_files) and not force:
        raise BackupError(_not_empty_message(tables, root, present_files))
    warnings = []
    saved_by = (manifest.get("versions") or {}).get("tandem")
    if saved_by != _tandem_version():
        warnings.append(
            f"Sauvegarde faite par Tandem {saved_by}, "
            f"restaurée par Tandem {_tandem_version()} : lancez ensuite "
            "manage.py migrate."
        )
    staging = _PostgresqlStaging() if vendor == "postgresql" else _SqliteStaging()
    moved_aside = None
    with tarfile.open(archive, "r:") as tar:
        members = _archive_members(tar)
        say(f"Restauration de la base ({vendor}) à côté de la base actuelle…")
        # From here on the target changes; everything above only read.
        staging.load(tar, members, manifest)
        try:
            with staging.active():
                _check_database(manifest)
            moved_aside = _move_aside(root) if root.is_dir() else None
            if moved_aside and present_files:
                say(f"Anciens fichiers mis de côté dans {moved_aside}")
            try:
                say(f"Restauration de {len(manifest['files'])} fichier(s)…")
                _restore_files(tar, members, manifest, storage)
                differences = _compare_files(root, manifest["files"])
                if differences:
                    raise BackupError(_differences_message(differences))
            except BaseException:
                _put_files_back(root, moved_aside)
                raise
        except BaseException:
            staging.abandon()
            raise
    say("Bascule sur la base restaurée…")
    staging.switch_in()
    if moved_aside and not present_files:
        shutil.rmtree(moved_aside, ignore_errors=True)  # held no file
        moved_aside = None
    # The anchors written since the backup name entries the restored journal does
    # not hold: a new one, for the journal as it now is.
    try:
        anchor = audit.anchor_write(reason=f"restauration de {archive.name}")
    except OSError as error:
        warnings.append(
            f"Ancre du journal d'audit non écrite ({error}) : verify_audit la "
            "cherchera dans une ancre antérieure ; lancez la tâche audit_anchor."
        )
    else:
        say(f"Nouvelle ancre du journal d'audit : entrée n° {anchor.seq}.")
    return RestoreSummary(
        vendor=vendor,
        created_at=str(manifest.get("created_at", "?")),
        tables=len(manifest["tables"]),
        rows=sum(manifest["tables"].values()),
        files=len(manifest["files"]),
        files_bytes=sum(entry["size"] for entry in manifest["files"]),
        moved_aside=moved_aside,
        warnings=warnings,
    )


def _check_database(manifest: dict) -> None:
    """The loaded database has the manifest's row counts, an intact audit chain, and
    the journal head the manifest recorded."""
    differences = _compare_counts(manifest["tables"])
    if differences:
        raise BackupError(_differences_message(differences))
    verdict = audit.verify()
    if not verdict.intact:
        raise BackupError(
            "Le journal d'audit de la base restaurée est altéré : première rupture "
            f"à l'entrée n° {verdict.broken_at} ({verdict.reason}). La clé "
            "TANDEM_AUDIT_KEY est-elle celle de l'installation sauvegardée ?"
        )
    head = manifest.get("audit")
    if head:
        problem = audit.anchor_check(
            audit.Anchor(seq=head["seq"], hash=head["hash"], at=manifest["created_at"])
        )
        if problem:
            raise BackupError(f"Journal d'audit restauré incomplet : {problem}.")


def _differences_message(differences: list[str]) -> str:
    return "La base ou les fichiers restaurés diffèrent de la sauvegarde :\n" + (
        "\n".join(f"  - {difference}" for difference in differences)
    )


def _put_files_back(root: Path, moved_aside: Path | None) -> None:
    """Remove what the restore wrote under `root` and put the old folder back."""
    if root.exists():
        shutil.rmtree(root)
    if moved_aside is not None:
        moved_aside.rename(root)


def _target_tables() -> list[str]:
    """Tables of the target database; a SQLite file that does not exist has none
    (and is not created by asking)."""
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise BackupError(
                "Restauration impossible dans une base SQLite en mémoire."
            )
        if not Path(name).exists():
            return []
    try:
        return sorted(connection.introspection.table_names())
    except DatabaseError as error:
        raise BackupError(f"Connexion à la base cible impossible : {error}") from None


def _files_under(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [
        Path(directory, name)
        for directory, _dirnames, filenames in os.walk(root)
        for name in filenames
    ]


def _not_empty_message(tables: list[str], root: Path, files: list[Path]) -> str:
    lines = ["La cible n'est pas vide :"]
    if tables:
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        lines.append(f"  - la base contient {len(tables)} table(s) ({shown}) ;")
    if files:
        lines.append(f"  - {root} contient {len(files)} fichier(s).")
    lines.append(
        "Relancez avec --force pour la remplacer par l'archive (la base actuelle "
        "n'est supprimée qu'une fois la restauration vérifiée, les fichiers présents "
        "sont mis de côté dans un dossier voisin)."
    )
    return "\n".join(lines)


def _move_aside(root: Path) -> Path:
    stamp = f"{timezone.localtime():%Y%m%d-%H%M%S}"
    aside = root.with_name(f"{root.name}.avant-restauration-{stamp}")
    try:
        root.rename(aside)
    except OSError as error:
        raise BackupError(
            f"Impossible de mettre de côté les fichiers de {root} : {error}"
        ) from None
    return aside


def _restore_files(tar, members, manifest, storage: FileSystemStorage) -> None:
    root = Path(storage.location)
    file_mode = storage.file_permissions_mode or 0o640
    directory_mode = storage.directory_permissions_mode or 0o750
    for entry in manifest["files"]:
        destination = root / entry["path"]
        _make_directories(root, destination.parent, directory_mode)
        _extract_verified(
            tar,
            members[FILES_PREFIX + entry["path"]],
            destination,
            entry["sha256"],
            mode=file_mode,
        )


def _make_directories(root: Path, directory: Path, mode: int) -> None:
    """Create `directory` and the folders above it up to `root`, with `mode`."""
    parts = directory.relative_to(root).parts
    for depth in range(len(parts) + 1):
        path = root.joinpath(*parts[:depth])
        if not path.is_dir():
            path.mkdir(parents=True)
            path.chmod(mode)


def _compare_counts(expected: dict[str, int]) -> list[str]:
    differences = []
    present = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table, count in sorted(expected.items()):
            if table not in present:
                differences.append(f"table {table} absente")
                continue
            # A table name from the manifest (checked present), quoted.
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            found = cursor.fetchone()[0]
            if found != count:
                differences.append(f"table {table} : {found} lignes au lieu de {count}")
    return differences


def _compare_files(root: Path, entries: list[dict]) -> list[str]:
    differences = []
    for entry in entries:
        path = root / entry["path"]
        digest = hashlib.sha256()
        try:
            with path.open("rb") as restored:
                while chunk := restored.read(_CHUNK):
                    digest.update(chunk)
        except OSError as error:
            differences.append(f"fichier {entry['path']} illisible : {error}")
            continue
        if digest.hexdigest() != entry["sha256"]:
            differences.append(
                f"fichier {entry['path']} : empreinte SHA-256 différente"
            )
    return differences
