"""Writing a backup (`backup_write`): the database dumped in one snapshot, then every
file of the private folder, into one archive with its manifest written last."""

import hashlib
import io
import json
import os
import platform
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import django
from django.db import connection
from django.utils import timezone

from workflow.backup.archive import (
    DUMP_MEMBERS,
    FILES_PREFIX,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BackupError,
    _safe_relative,
    _silent,
    _tandem_version,
)
from workflow.backup.contents import DatabaseState, FileReference, files_storage
from workflow.backup.postgresql import _dump_postgresql
from workflow.backup.sqlite import _dump_sqlite


@dataclass
class BackupSummary:
    path: Path
    vendor: str
    tables: int
    rows: int
    files: int
    files_bytes: int
    archive_bytes: int
    warnings: list[str] = field(default_factory=list)
    # Scheduled backups: the archives deleted by the retention once this one verified.
    removed: list[Path] = field(default_factory=list)


def backup_write(
    target: Path | None = None, *, say: Callable[[str], None] = _silent
) -> BackupSummary:
    """Write one archive of the database and the uploaded files; a failure leaves
    nothing at the target path."""
    vendor = connection.vendor
    if vendor not in DUMP_MEMBERS:
        raise BackupError(
            f"Base « {vendor} » non prise en charge : PostgreSQL ou SQLite seulement."
        )
    now = timezone.localtime()
    target = _archive_path(target, now)
    storage = files_storage()
    root = Path(storage.location)
    try:
        work = Path(tempfile.mkdtemp(prefix=".tandem-sauvegarde-", dir=target.parent))
    except OSError as error:
        raise BackupError(
            f"Impossible d'écrire dans {target.parent} : {error}"
        ) from None
    try:
        dump = work / "dump"
        say(f"Copie de la base ({vendor})…")
        state, database_info = _dump_database(dump)
        # After the snapshot: every file a row of the snapshot names was written
        # before that row was committed, so it is on disk now (files are never
        # deleted); files written since are saved too, as unreferenced.
        files = _files_to_save(root, state.references)
        say(f"Écriture de l'archive ({len(files)} fichier(s))…")
        partial = work / target.name
        entries, warnings = [], []
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for path, references in files.items():
                # A file no row names may be a temporary one (a test-case import
                # waiting for confirmation) deleted since the folder was listed.
                added = _add_file(
                    tar, FILES_PREFIX + path, root / path, may_vanish=not references
                )
                if added is None:
                    continue
                size, digest = added
                entries.append(
                    {
                        "path": path,
                        "size": size,
                        "sha256": digest,
                        "referenced_by": [ref.label for ref in references],
                    }
                )
                warnings.extend(
                    f"{path} ({ref.label}) : son contenu ne correspond plus à "
                    "l'empreinte SHA-256 enregistrée en base ; sauvegardé tel quel."
                    for ref in references
                    if ref.sha256 and ref.sha256 != digest
                )
            dump_member = DUMP_MEMBERS[vendor]
            size, digest = _add_file(tar, dump_member, dump)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": now.isoformat(timespec="seconds"),
                "versions": {
                    "tandem": _tandem_version(),
                    "django": django.get_version(),
                    "python": platform.python_version(),
                },
                "database": {
                    "vendor": vendor,
                    "member": dump_member,
                    "size": size,
                    "sha256": digest,
                    **database_info,
                },
                "tables": state.counts,
                # An anchor of the audit journal outside the database (README,
                # "Backup and restore"): the restored journal must hold this entry.
                **(
                    {"audit": {"seq": state.audit_head[0], "hash": state.audit_head[1]}}
                    if state.audit_head
                    else {}
                ),
                "files": entries,
                "warnings": warnings,
            }
            _add_bytes(
                tar,
                MANIFEST,
                json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
            )
        # Personal data of the administrations: not world-readable.
        partial.chmod(0o640)
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        if target.exists():
            raise BackupError(f"{target} existe déjà : une archive n'est pas écrasée.")
        os.replace(partial, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupSummary(
        path=target,
        vendor=vendor,
        tables=len(state.counts),
        rows=sum(state.counts.values()),
        files=len(entries),
        files_bytes=sum(entry["size"] for entry in entries),
        archive_bytes=target.stat().st_size,
        warnings=warnings,
    )


def _archive_path(target: Path | None, now) -> Path:
    name = f"tandem-backup-{now:%Y%m%d-%H%M%S}.tar"
    if target is None:
        target = Path.cwd() / name
    elif target.is_dir():
        target = target / name
    target = target.absolute()
    if target.exists():
        raise BackupError(f"{target} existe déjà : une archive n'est pas écrasée.")
    if not target.parent.is_dir():
        raise BackupError(f"Le dossier {target.parent} n'existe pas.")
    return target


def _dump_database(destination: Path) -> tuple[DatabaseState, dict]:
    if connection.vendor == "postgresql":
        return _dump_postgresql(destination)
    return _dump_sqlite(destination)


def _files_to_save(
    root: Path, references: list[FileReference]
) -> dict[str, list[FileReference]]:
    """Relative path → the rows naming it, for every file under `root`; a file named
    by a row but absent from the disk stops the backup."""
    files: dict[str, list[FileReference]] = {}
    missing = []
    for ref in references:
        path = _safe_relative(ref.path)
        if path is None:
            raise BackupError(
                f"Chemin de fichier invalide en base : {ref.path!r} ({ref.label})."
            )
        if (root / path).is_file():
            files.setdefault(path, []).append(ref)
        else:
            missing.append(ref)
    if missing:
        lines = "\n".join(f"  - {ref.path} ({ref.label})" for ref in missing)
        raise BackupError(
            f"{len(missing)} fichier(s) référencé(s) par la base absent(s) de "
            f"{root} :\n{lines}"
        )
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            if Path(directory, name).is_symlink():
                raise BackupError(
                    f"{Path(directory, name)} est un lien symbolique : la sauvegarde "
                    "ne suit pas les liens du dossier des fichiers."
                )
        for name in filenames:
            path = Path(directory, name)
            if path.is_file():
                files.setdefault(path.relative_to(root).as_posix(), [])
    return dict(sorted(files.items()))


class _HashingReader:
    """Reads a file for tarfile while computing its SHA-256 and counting its bytes."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.sha256.update(chunk)
        self.size += len(chunk)
        return chunk


def _add_file(
    tar: tarfile.TarFile, name: str, path: Path, *, may_vanish: bool = False
) -> tuple[int, str] | None:
    """Add `path` to `tar` as `name`; return its size and SHA-256, as written, or
    None if it is gone and `may_vanish`."""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        if may_vanish:
            return None
        raise BackupError(f"{path} a disparu pendant la sauvegarde.") from None
    except OSError as error:
        raise BackupError(f"Lecture de {path} impossible : {error}") from None
    try:
        with source:
            stat = os.fstat(source.fileno())
            info = tarfile.TarInfo(name)
            info.size = stat.st_size
            info.mtime = int(stat.st_mtime)
            info.mode = 0o640
            reader = _HashingReader(source)
            tar.addfile(info, reader)
            if reader.size != stat.st_size or source.read(1):
                raise BackupError(f"{path} a changé pendant la sauvegarde.")
    except OSError as error:
        raise BackupError(f"Lecture de {path} impossible : {error}") from None
    return stat.st_size, reader.sha256.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(timezone.now().timestamp())
    info.mode = 0o640
    tar.addfile(info, io.BytesIO(content))
