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
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
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


def _restore(archive: Path, dbname: str, media: Path, tmp_path: Path, *, fail=False):
    """`manage.py restore --force` in another process, into `dbname`; with `fail`,
    a step raising right after a pg_restore that succeeded."""
    database_url = urlunsplit(
        urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{dbname}")
    )
    script = (
        "import sys, django\n"
        "django.setup()\n"
        "from workflow.backup import BackupError, postgresql\n"
        "real = postgresql._run\n"
        "def run(command, **kwargs):\n"
        "    real(command, **kwargs)\n"
        "    if '--single-transaction' in command:\n"
        "        raise BackupError('panne simulée après pg_restore')\n"
        "postgresql._run = run\n"
        "from django.core.management import call_command\n"
        "call_command('restore', '--force', sys.argv[1])\n"
    )
    command = ["-c", script] if fail else ["manage.py", "restore", "--force"]
    return subprocess.run(
        [sys.executable, *command, str(archive)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "DATABASE_URL": database_url,
            "PRIVATE_MEDIA_ROOT": str(media),
            "TANDEM_VAR_DIR": str(tmp_path / "var"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def _schemas(dbname: str) -> list[str]:
    with _connect(dbname) as db:
        return sorted(
            name
            for (name,) in db.execute("SELECT nspname FROM pg_namespace").fetchall()
            if not name.startswith(("pg_", "information_schema"))
        )


def _truncated_dump(archive: Path, copy: Path) -> None:
    """A copy of `archive` whose dump lost its last tenth, with a manifest giving
    the truncated dump's size and SHA-256: it passes every check of the archive and
    `pg_restore --list` (the table of contents is at the start), and pg_restore
    fails midway."""
    with tarfile.open(archive) as source:
        manifest = json.loads(source.extractfile("manifest.json").read())
        member = manifest["database"]["member"]
        dump = source.extractfile(member).read()
        dump = dump[: len(dump) * 9 // 10]
        manifest["database"].update(
            size=len(dump), sha256=hashlib.sha256(dump).hexdigest()
        )
        content = json.dumps(manifest).encode()
        with tarfile.open(copy, "w") as target:
            for info in source.getmembers():
                data = source.extractfile(info)
                if info.name == member:
                    info.size, data = len(dump), io.BytesIO(dump)
                elif info.name == "manifest.json":
                    info.size, data = len(content), io.BytesIO(content)
                target.addfile(info, data)


@pytest.mark.django_db(transaction=True)
def test_a_failed_restore_leaves_the_old_database_as_it_was(
    world, source_media, fresh_database, tmp_path
):
    archive = tmp_path / "sauvegarde.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    truncated = tmp_path / "tronquee.tar"
    _truncated_dump(archive, truncated)
    with _connect(fresh_database) as db:
        db.execute("CREATE TABLE ancienne (x integer)")
        db.execute("INSERT INTO ancienne VALUES (1), (2)")
    media = tmp_path / "private-old"
    media.mkdir()
    (media / "ancien.pdf").write_bytes(PDF)
    schemas = _schemas(fresh_database)

    after_pg_restore = _restore(archive, fresh_database, media, tmp_path, fail=True)
    midway = _restore(truncated, fresh_database, media, tmp_path)

    assert after_pg_restore.returncode != 0
    assert "panne simulée après pg_restore" in after_pg_restore.stderr
    assert midway.returncode == 1, midway.stdout + midway.stderr
    assert "pg_restore a échoué" in midway.stderr
    assert row_counts(fresh_database) == {"public.ancienne": 2}
    assert _schemas(fresh_database) == schemas
    assert digests(media) == {"ancien.pdf": hashlib.sha256(PDF).hexdigest()}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(media.name)] == [
        media.name
    ]


@pytest.mark.django_db(transaction=True)
def test_a_forced_restore_switches_in_and_drops_the_old_schema(
    world, source_media, fresh_database, tmp_path
):
    archive = tmp_path / "sauvegarde.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    with _connect(fresh_database) as db:
        db.execute("CREATE TABLE ancienne (x integer)")
    schemas = _schemas(fresh_database)

    result = _restore(archive, fresh_database, tmp_path / "private", tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    restored = row_counts(fresh_database)
    assert "public.ancienne" not in restored
    assert restored == row_counts(connection.settings_dict["NAME"])
    assert _schemas(fresh_database) == schemas
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    head = manifest["audit"]
    anchors = (tmp_path / "var" / "audit-anchors.jsonl").read_text().splitlines()
    assert json.loads(anchors[-1])["seq"] == head["seq"]
