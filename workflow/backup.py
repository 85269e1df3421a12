"""Backup and restore: the database (the vendor's own dump) and the uploaded files, in
one tar archive whose manifest gives the SHA-256 of every member (README, "Backup and
restore").

The archive holds, in this order:

    files/<path under PRIVATE_MEDIA_ROOT>   every file of the private folder
    database/tandem.pgdump                  `pg_dump --format=custom` (PostgreSQL)
    database/tandem.sqlite3                 a copy by SQLite's backup API (SQLite)
    manifest.json                           written last, once every digest is known
                                            (and the audit journal's head: an anchor)

`backup_scheduled` is what beat runs each night (daily and weekly archives, verified,
then the oldest beyond the retention deleted); `backup_restore` loads an archive
beside the current database and switches it in only once it has been checked.
"""

import hashlib
import io
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Callable
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import django
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from workflow import audit
from workflow.models import AuditEntry, StoredFile
from workflow.uploads import private_storage

FORMAT = "tandem-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_PREFIX = "files/"
DUMP_MEMBERS = {
    "postgresql": "database/tandem.pgdump",
    "sqlite": "database/tandem.sqlite3",
}
_CHUNK = 1024 * 1024
# libpq reads these from the environment: pg_dump and pg_restore get the connection
# of settings.DATABASES through them, never a password on their command line.
_PG_SETTINGS = {
    "HOST": "PGHOST",
    "PORT": "PGPORT",
    "USER": "PGUSER",
    "PASSWORD": "PGPASSWORD",
    "NAME": "PGDATABASE",
}
_PG_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}
_PG_INHERITED = {
    *_PG_SETTINGS.values(),
    *_PG_OPTIONS.values(),
    "PGHOSTADDR",
    "PGSERVICEFILE",
}


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why, in French."""


def _silent(message: str) -> None:
    """Default progress reporter: say nothing."""


@dataclass(frozen=True)
class FileReference:
    """A row naming a stored file, with the SHA-256 the row records ("" if none)."""

    table: str
    pk: object
    path: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.table}:{self.pk}"


@dataclass
class DatabaseState:
    """What one consistent read of the database saw."""

    counts: dict[str, int]
    references: list[FileReference]
    # The audit journal's last entry (seq, hash), read in the same snapshot.
    audit_head: tuple[int, str] | None = None


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


# --- what there is to save ------------------------------------------------------------


def file_fields() -> list[tuple[type[models.Model], models.FileField]]:
    """Every file column of the installed models, each on the table that holds it."""
    return [
        (model, model_field)
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
        for model_field in model._meta.concrete_fields
        if isinstance(model_field, models.FileField) and model_field.model is model
    ]


def model_tables() -> set[str]:
    """The tables of every installed model (third-party apps included), plus the
    migration history."""
    return {"django_migrations"} | {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def files_storage() -> FileSystemStorage:
    """The storage every file column uses: one folder on disk (PRIVATE_MEDIA_ROOT).

    Taken from the fields rather than from the settings: a storage is built when the
    models are imported, and that is where the files are.
    """
    storages: dict[Path, FileSystemStorage] = {}
    for model, model_field in file_fields():
        storage = model_field.storage
        if not isinstance(storage, FileSystemStorage):
            raise BackupError(
                f"{model._meta.label}.{model_field.name} : stockage "
                f"{type(storage).__name__} non pris en charge (seul un dossier local "
                "est sauvegardé)."
            )
        storages.setdefault(Path(storage.location).resolve(), storage)
    if len(storages) > 1:
        folders = ", ".join(str(path) for path in sorted(storages))
        raise BackupError(
            f"Les fichiers sont rangés dans plusieurs dossiers ({folders}) : "
            "la sauvegarde n'en connaît qu'un, PRIVATE_MEDIA_ROOT."
        )
    if storages:
        return next(iter(storages.values()))
    return private_storage()


def _digest_column(model: type[models.Model], model_field: models.FileField):
    """The column in which the row records its file's SHA-256, if it does:
    `sha256` beside StoredFile.file, `<field>_sha256` elsewhere."""
    names = [f"{model_field.name}_sha256"]
    if issubclass(model, StoredFile) and model_field.name == "file":
        names.insert(0, "sha256")
    for name in names:
        try:
            return model._meta.get_field(name).column
        except FieldDoesNotExist:
            continue
    return None


def _database_state(
    cursor, quote: Callable[[str], str], present: set[str]
) -> DatabaseState:
    """Row counts of the model tables and the file references, read through `cursor`
    (a DB-API cursor: Django's, or sqlite3's on a copy)."""
    counts = {}
    for table in sorted(model_tables() & present):
        # Identifiers come from the models' metadata and are quoted by the backend.
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
        counts[table] = cursor.fetchone()[0]
    references = []
    for model, model_field in file_fields():
        table = model._meta.db_table
        if table not in present:
            continue
        digest = _digest_column(model, model_field)
        columns = [model._meta.pk.column, model_field.column]
        if digest:
            columns.append(digest)
        column = quote(model_field.column)
        try:
            cursor.execute(
                f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} "  # noqa: S608
                f"WHERE {column} IS NOT NULL AND {column} <> '' ORDER BY 1"
            )
            rows = cursor.fetchall()
        except (DatabaseError, sqlite3.DatabaseError) as error:
            raise BackupError(
                f"Lecture de {table}.{model_field.column} impossible ({error}) : "
                "la base est-elle à jour (manage.py migrate) ?"
            ) from error
        references.extend(
            FileReference(table, row[0], row[1], (row[2] or "") if digest else "")
            for row in rows
        )
    audit_head = None
    if AuditEntry._meta.db_table in present:
        table = quote(AuditEntry._meta.db_table)
        cursor.execute(
            f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"  # noqa: S608
        )
        last = cursor.fetchone()
        audit_head = (int(last[0]), str(last[1])) if last else (0, audit.GENESIS)
    return DatabaseState(counts=counts, references=references, audit_head=audit_head)


# --- backup ---------------------------------------------------------------------------


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


def _dump_postgresql(destination: Path) -> tuple[DatabaseState, dict]:
    pg_dump = _client_program("pg_dump")
    if connection.in_atomic_block:
        raise BackupError(
            "La sauvegarde ouvre sa propre transaction : lancez-la hors de toute "
            "transaction."
        )
    try:
        # One snapshot for everything: pg_dump dumps what this transaction sees, and
        # the row counts and file references are read in it too.
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version')"
            )
            snapshot, server_version = cursor.fetchone()
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={destination}",
                ],
                env=_pg_environment(connection.settings_dict),
                what="pg_dump",
            )
            present = set(connection.introspection.table_names(cursor))
            state = _database_state(cursor, connection.ops.quote_name, present)
    except DatabaseError as error:
        raise BackupError(
            f"Lecture de la base PostgreSQL impossible : {error}"
        ) from None
    return state, {
        "server_version": server_version,
        "tool": _program_version(pg_dump),
        "dump_format": "pg_dump --format=custom --no-owner --no-privileges",
    }


def _dump_sqlite(destination: Path) -> tuple[DatabaseState, dict]:
    try:
        connection.ensure_connection()
        with closing(sqlite3.connect(destination)) as copy:
            # The backup API copies a consistent state even while others write.
            connection.connection.backup(copy)
            # A standalone file: no -wal beside it to forget when it is restored.
            copy.execute("PRAGMA journal_mode=DELETE")
            cursor = copy.cursor()
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            present = {name for (name,) in cursor.fetchall()}
            state = _database_state(cursor, connection.ops.quote_name, present)
    except (DatabaseError, sqlite3.Error) as error:
        raise BackupError(f"Copie de la base SQLite impossible : {error}") from None
    return state, {
        "server_version": sqlite3.sqlite_version,
        "tool": "sqlite3 backup API",
    }


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


def _tandem_version() -> str:
    try:
        with (Path(settings.BASE_DIR) / "pyproject.toml").open("rb") as pyproject:
            return tomllib.load(pyproject)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "inconnue"


# --- archive checks -------------------------------------------------------------------


def archive_verify(archive: Path) -> dict:
    """Read the archive's manifest and check every member's size and SHA-256 against
    it; touches nothing outside the archive. Return the manifest."""
    if not archive.is_file():
        raise BackupError(f"Archive introuvable : {archive}")
    try:
        with tarfile.open(archive, "r:") as tar:
            members = _archive_members(tar)
            manifest = _read_manifest(tar, members)
            expected = _expected_members(manifest)
            extra = sorted(set(members) - set(expected) - {MANIFEST})
            absent = sorted(set(expected) - set(members))
            if extra or absent:
                raise BackupError(
                    "Archive corrompue : "
                    + "; ".join(
                        [f"absent de l'archive : {name}" for name in absent]
                        + [f"inconnu du manifeste : {name}" for name in extra]
                    )
                )
            for name, (size, digest) in expected.items():
                member = members[name]
                if member.size != size:
                    raise BackupError(
                        f"Archive corrompue : {name} fait {member.size} octets, le "
                        f"manifeste en annonce {size}."
                    )
                if _member_sha256(tar, member) != digest:
                    raise BackupError(
                        f"Archive corrompue : {name} n'a pas l'empreinte SHA-256 "
                        "du manifeste."
                    )
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"Archive illisible ({archive}) : {error}") from None
    return manifest


def _archive_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for member in tar.getmembers():
        if not member.isreg():
            raise BackupError(
                f"Archive corrompue : {member.name} n'est pas un fichier ordinaire."
            )
        if member.name in members:
            raise BackupError(f"Archive corrompue : {member.name} y figure deux fois.")
        members[member.name] = member
    return members


def _read_manifest(tar: tarfile.TarFile, members: dict) -> dict:
    if MANIFEST not in members:
        raise BackupError(f"Archive corrompue : pas de {MANIFEST}.")
    try:
        manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"Manifeste illisible : {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("Ce n'est pas une sauvegarde de Tandem (manifeste inconnu).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"Format de sauvegarde {manifest.get('format_version')!r} non pris en "
            f"charge (cette version de Tandem lit le format {FORMAT_VERSION})."
        )
    if not isinstance(manifest.get("versions", {}), dict) or not isinstance(
        manifest.get("created_at", ""), str
    ):
        raise BackupError("Manifeste invalide : versions ou date incorrectes.")
    database = manifest.get("database")
    if (
        not isinstance(database, dict)
        or database.get("vendor") not in DUMP_MEMBERS
        or database.get("member") != DUMP_MEMBERS[database["vendor"]]
        or not _is_size(database.get("size"))
        or not _is_sha256(database.get("sha256"))
    ):
        raise BackupError("Manifeste invalide : description de la base incorrecte.")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or not all(
        isinstance(name, str) and _is_size(count) for name, count in tables.items()
    ):
        raise BackupError("Manifeste invalide : comptes de lignes incorrects.")
    head = manifest.get("audit")
    if head is not None and (
        not isinstance(head, dict)
        or not _is_size(head.get("seq"))
        or not _is_sha256(head.get("hash"))
    ):
        raise BackupError("Manifeste invalide : ancre du journal d'audit incorrecte.")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise BackupError("Manifeste invalide : liste des fichiers absente.")
    for entry in files:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("path"), str)
            or _safe_relative(entry["path"]) != entry["path"]
            or not _is_size(entry.get("size"))
            or not _is_sha256(entry.get("sha256"))
        ):
            raise BackupError(f"Manifeste invalide : fichier {entry!r}.")
    return manifest


def _expected_members(manifest: dict) -> dict[str, tuple[int, str]]:
    """Member name → (size, SHA-256) for the dump and every file of the manifest."""
    database = manifest["database"]
    expected = {database["member"]: (database["size"], database["sha256"])}
    for entry in manifest["files"]:
        name = FILES_PREFIX + entry["path"]
        if name in expected:
            raise BackupError(
                f"Manifeste invalide : {entry['path']} y figure deux fois."
            )
        expected[name] = (entry["size"], entry["sha256"])
    return expected


def _member_sha256(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _safe_relative(path: str) -> str | None:
    """`path` as a plain relative POSIX path inside a folder, or None if it is not
    one (absolute, `..`, empty parts, backslashes)."""
    if not path or "\\" in path or "\x00" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in {"", ".", ".."} for part in pure.parts):
        return None
    return pure.as_posix()


def _is_size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sha256(value) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(c in "0123456789abcdef" for c in value)
    )


# --- restore --------------------------------------------------------------------------
#
# The archive's database is loaded beside the current one (PostgreSQL: into fresh
# schemas, the current ones renamed aside; SQLite: into a file beside the current
# one), checked there (row counts, audit chain and the manifest's anchor), then the
# files are put in place and checked; only then is the new database switched in and
# the old one dropped. Any failure before that drops what was loaded and puts the
# old database and files back as they were.


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


class _PostgresqlStaging:
    """The archive's dump restored into fresh schemas, the current ones renamed
    aside (`<schema>_avant_restauration_<date>`) until the switch."""

    def __init__(self):
        self.renamed: list[tuple[str, str]] = []

    def load(self, tar, members, manifest) -> None:
        pg_restore = _client_program("pg_restore")
        database = manifest["database"]
        with tempfile.TemporaryDirectory(prefix="tandem-restauration-") as work:
            dump = Path(work) / "tandem.pgdump"
            _extract_verified(
                tar, members[database["member"]], dump, database["sha256"]
            )
            environment = _pg_environment(connection.settings_dict)
            # Before changing anything: this pg_restore can read this dump.
            _run([pg_restore, "--list", str(dump)], env=environment, what="pg_restore")
            self._set_aside()
            try:
                connection.close()
                _run(
                    [
                        pg_restore,
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                        "--exit-on-error",
                        f"--dbname={connection.settings_dict['NAME']}",
                        str(dump),
                    ],
                    env=environment,
                    what="pg_restore",
                )
            except BaseException:
                self.abandon()
                raise

    def _set_aside(self) -> None:
        """Rename the schemas of the search path aside and create empty ones in
        their place, in one transaction."""
        stamp = f"{timezone.localtime():%Y%m%d%H%M%S}"
        quote = connection.ops.quote_name
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name, pg_get_userbyid(n.nspowner) FROM "
                    "unnest(current_schemas(false)) AS name "
                    "JOIN pg_namespace n ON n.nspname = name"
                )
                schemas = cursor.fetchall()
                for schema, owner in schemas:
                    aside = f"{schema[:30]}_avant_restauration_{stamp}"
                    cursor.execute(
                        f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(aside)}"
                    )
                    cursor.execute(f"CREATE SCHEMA {quote(schema)}")
                    self._give(cursor, schema, owner)
                    self.renamed.append((schema, aside))
        except DatabaseError as error:
            self.renamed = []
            raise BackupError(
                f"Impossible de mettre la base actuelle de côté : {error}"
            ) from None

    @staticmethod
    def _give(cursor, schema: str, owner: str) -> None:
        """The new schema belongs to the old one's owner when this role may say so
        (pg_database_owner for `public`); else to the restoring role."""
        quote = connection.ops.quote_name
        try:
            with transaction.atomic():
                cursor.execute(f"ALTER SCHEMA {quote(schema)} OWNER TO {quote(owner)}")
        except DatabaseError:
            pass

    def active(self):
        # The restored schemas have the names of the search path: nothing to do.
        return nullcontext()

    def abandon(self) -> None:
        """Drop what was restored and give the old schemas their names back."""
        if not self.renamed:
            return
        quote = connection.ops.quote_name
        connection.close()
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                for schema, aside in self.renamed:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
                    cursor.execute(
                        f"ALTER SCHEMA {quote(aside)} RENAME TO {quote(schema)}"
                    )
        except DatabaseError as error:
            kept = ", ".join(
                f"{aside} (pour {schema})" for schema, aside in self.renamed
            )
            raise BackupError(
                f"Restauration échouée et base actuelle non remise en place "
                f"({error}) : elle est intacte sous le nom {kept} ; renommez-la "
                "(ALTER SCHEMA … RENAME TO …) après avoir supprimé la nouvelle."
            ) from None
        self.renamed = []

    def switch_in(self) -> None:
        """The restored schemas are already in place: drop the old ones (their rows
        go with them, no DELETE: the append-only audit table refuses it)."""
        quote = connection.ops.quote_name
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            for _schema, aside in self.renamed:
                cursor.execute(f"DROP SCHEMA {quote(aside)} CASCADE")
        self.renamed = []


class _SqliteStaging:
    """The archive's database written to a file beside the target, checked through
    Django's connection pointed at it, then renamed over the target."""

    def __init__(self):
        self.target = Path(connection.settings_dict["NAME"])
        self.staged = self.target.with_name(f".{self.target.name}.restauration")

    def load(self, tar, members, manifest) -> None:
        database = manifest["database"]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _extract_verified(
                tar, members[database["member"]], self.staged, database["sha256"]
            )
        except BaseException:
            self.abandon()
            raise

    @contextmanager
    def active(self):
        connection.close()
        connection.settings_dict["NAME"] = str(self.staged)
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["NAME"] = str(self.target)

    def abandon(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.staged}{suffix}").unlink(missing_ok=True)

    def switch_in(self) -> None:
        connection.close()
        if self.target.exists():
            # What the old file's log still holds goes into it before it is
            # replaced: a log left beside the new file would be replayed into it.
            with closing(sqlite3.connect(self.target)) as old:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.target}{suffix}").unlink(missing_ok=True)
        os.replace(self.staged, self.target)
        self.abandon()


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


def _extract_verified(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    destination: Path,
    sha256: str,
    *,
    mode: int = 0o640,
) -> None:
    """Write `member` to `destination` through a temporary file beside it, keeping it
    only if its SHA-256 is still the expected one."""
    handle, temporary = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            source = tar.extractfile(member)
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise BackupError(
                f"{member.name} a changé depuis la vérification de l'archive."
            )
        os.chmod(temporary, mode)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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


# --- PostgreSQL client programs -------------------------------------------------------


def _client_program(name: str) -> str:
    program = shutil.which(name)
    if program is None:
        raise BackupError(
            f"{name} est introuvable : installez les outils clients PostgreSQL "
            "(paquet postgresql-client, de la version du serveur ou plus récente)."
        )
    return program


def _pg_environment(settings_dict: dict) -> dict[str, str]:
    """The environment for pg_dump / pg_restore: this connection and no other."""
    environment = {
        name: value for name, value in os.environ.items() if name not in _PG_INHERITED
    }
    for key, variable in _PG_SETTINGS.items():
        if settings_dict.get(key):
            environment[variable] = str(settings_dict[key])
    for option, variable in _PG_OPTIONS.items():
        if settings_dict.get("OPTIONS", {}).get(option) is not None:
            environment[variable] = str(settings_dict["OPTIONS"][option])
    return environment


def _program_version(program: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL client found on PATH
            [program, "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "inconnue"
    return result.stdout.strip() or "inconnue"


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    try:
        # A fixed program; the connection goes through the environment, no shell.
        result = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise BackupError(f"{what} n'a pas pu être lancé : {error}") from None
    if result.returncode != 0:
        raise BackupError(
            f"{what} a échoué (code {result.returncode}) : {result.stderr.strip()}"
        )
