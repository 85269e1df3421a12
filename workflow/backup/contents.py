"""What there is to save: the file columns of the models and their storage, the
tables, and one consistent read of the row counts and file references."""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.files.storage import FileSystemStorage
from django.db import DatabaseError, models

from workflow import audit
from workflow.backup.archive import BackupError
from workflow.models import AuditEntry, StoredFile
from workflow.uploads import private_storage


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
