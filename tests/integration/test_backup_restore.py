"""Backup of a PostgreSQL installation, restored by another process into a fresh
database and an empty private folder: every table has its rows, every file its
SHA-256."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from evolutions.services import attachment_add
from recette.demo import recette_demo_load
from recette.models import Execution
from recette.services import evidence_add
from workflow.backup import file_fields
from workflow.uploads import private_storage

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _connect(dbname: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        dbname=dbname,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        autocommit=True,
    )


def row_counts(dbname: str) -> dict[str, int]:
    """Rows of every table of the database, whoever's model it is."""
    with _connect(dbname) as db:
        tables = db.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        return {
            f"{schema}.{table}": db.execute(
                sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(schema, table))
            ).fetchone()[0]
            for schema, table in tables
        }


def digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def source_media(settings, tmp_path, monkeypatch):
    """Every file column stores under a folder of this test (a storage is built when
    its model is imported, so the setting alone would not move it)."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private-source")
    for _model, field in file_fields():
        monkeypatch.setattr(field, "storage", private_storage())
    return Path(settings.PRIVATE_MEDIA_ROOT)


@pytest.fixture
def fresh_database():
    """An empty database of this test's own on the same server, dropped afterwards."""
    name = f"tandem_restore_{uuid.uuid4().hex[:12]}"
    with _connect("postgres") as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with _connect("postgres") as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def _store_uploads() -> None:
    """Real files through the services: attachments on a request, test evidence."""
    users = get_user_model().objects
    request = ChangeRequest.objects.filter(
        organisation__code="23", status=ChangeRequest.Status.IN_STUDY
    ).first()
    for name, content in (("note.pdf", PDF), ("capture.png", PNG)):
        attachment_add(
            pk=request.pk,
            by=users.get(username="cd23.porteur"),
            uploaded=SimpleUploadedFile(name, content),
        )
    execution = Execution.objects.filter(
        campaign__change_request__organisation__code="23"
    ).first()
    evidence_add(
        execution_pk=execution.pk,
        by=users.get(username="cd23.testeur"),
        uploaded=SimpleUploadedFile("preuve.png", PNG + b"preuve"),
    )


@pytest.mark.django_db(transaction=True)
def test_backup_restored_into_a_fresh_database_has_every_row_and_file(
    world, source_media, fresh_database, tmp_path
):
    evolutions_demo_load()
    recette_demo_load()
    _store_uploads()
    archive = tmp_path / "sauvegarde.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    restored_media = tmp_path / "private-restored"
    database_url = urlunsplit(
        urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{fresh_database}")
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "workflow.settings",
            "DATABASE_URL": database_url,
            "PRIVATE_MEDIA_ROOT": str(restored_media),
            "TANDEM_VAR_DIR": str(tmp_path / "var"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Restauration terminée" in result.stdout
    source = row_counts(connection.settings_dict["NAME"])
    assert row_counts(fresh_database) == source
    assert source["public.evolutions_attachment"] == 2
    assert source["public.recette_evidence"] == 1
    assert source["public.recette_acceptancereport"] >= 1
    assert source["public.recette_signature"] == 2
    restored = digests(restored_media)
    assert restored == digests(source_media)
    assert len(restored) >= 4  # 2 attachments, 1 piece of evidence, the report
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["database"]["vendor"] == "postgresql"
    assert manifest["tables"] == {
        table: source[f"public.{table}"] for table in manifest["tables"]
    }
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == restored
