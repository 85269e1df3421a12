"""`manage.py backup` and `manage.py restore` on SQLite, run as an operator would: in
their own process, on installations under the test's temporary folder."""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Settings a subprocess must not inherit from the test run: each installation gets
# its own database, folders and embedded broker.
_OWN_SETTINGS = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "TANDEM_VAR_DIR",
    "PRIVATE_MEDIA_ROOT",
    "MEDIA_ROOT",
    "EMAIL_BACKEND",
}

ATTACH_FILES = """
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from evolutions.models import ChangeRequest
from evolutions.services import attachment_add

porteur = get_user_model().objects.get(username="cd23.porteur")
request = (
    ChangeRequest.objects.filter(organisation__code="23")
    .exclude(status__in=ChangeRequest.CLOSED)
    .first()
)
for name, content in (
    ("note.pdf", b"%PDF-1.4\\n1 0 obj<<>>endobj\\ntrailer<<>>\\n%%EOF\\n"),
    ("volumes.csv", "mois;déclarations\\njanvier;120\\n".encode()),
):
    uploaded = SimpleUploadedFile(name, content)
    attachment_add(pk=request.pk, by=porteur, uploaded=uploaded)
"""


class Site:
    """One Tandem installation: its var folder, SQLite file and private folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.database = folder / "tandem.sqlite3"
        self.media = folder / "private"

    def manage(self, *args: str, expect: int | None = 0):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if k not in _OWN_SETTINGS},
                "DJANGO_SETTINGS_MODULE": "tandem.settings",
                "TANDEM_VAR_DIR": str(self.folder),
                "DATABASE_URL": f"sqlite:///{self.database}",
                "PRIVATE_MEDIA_ROOT": str(self.media),
                "EMAIL_BACKEND": "memory",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        if expect is not None:
            assert result.returncode == expect, result.stdout + result.stderr
        return result

    def copy_database_from(self, other: "Site") -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (
            closing(sqlite3.connect(other.database)) as source,
            closing(sqlite3.connect(self.database)) as copy,
        ):
            source.backup(copy)


def row_counts(database: Path) -> dict[str, int]:
    with closing(sqlite3.connect(database)) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master "
                "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            for table in tables
        }


def digests(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root`, by relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An installation with the demo data of both processes and two attachments,
    and the archive `manage.py backup` wrote of it."""
    source = Site(tmp_path_factory.mktemp("source"))
    source.manage("migrate", "--noinput")
    source.manage("setup_demo")
    source.manage("shell", "-c", ATTACH_FILES)
    archive = tmp_path_factory.mktemp("archives") / "sauvegarde.tar"
    backup = source.manage("backup", str(archive))
    return SimpleNamespace(site=source, archive=archive, output=backup.stdout)


def test_backup_writes_one_archive_whose_manifest_lists_every_table_and_file(saved):
    manifest = read_manifest(saved.archive)
    source_counts = row_counts(saved.site.database)

    assert "Sauvegarde écrite" in saved.output
    assert manifest["format"] == "tandem-backup"
    assert manifest["database"]["vendor"] == "sqlite"
    assert {"auth_user", "django_migrations", "axes_accessattempt"} <= set(
        manifest["tables"]
    )
    assert manifest["tables"] == {t: source_counts[t] for t in manifest["tables"]}
    assert manifest["tables"]["evolutions_attachment"] == 2
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert files == digests(saved.site.media)
    assert len(files) == 3  # two attachments and the demo's acceptance report
    referenced = [entry["referenced_by"] for entry in manifest["files"]]
    # The report's PDF is also the one its go-live agreement was opened for.
    assert sorted(label.split(":")[0] for labels in referenced for label in labels) == [
        "evolutions_attachment",
        "evolutions_attachment",
        "recette_acceptancereport",
        "recette_goliveagreement",
    ]
    with tarfile.open(saved.archive) as tar:
        dump = tar.extractfile(manifest["database"]["member"]).read()
    assert hashlib.sha256(dump).hexdigest() == manifest["database"]["sha256"]
    assert list(saved.archive.parent.iterdir()) == [saved.archive]


def test_sqlite_round_trip_restores_every_row_and_file(saved, tmp_path):
    target = Site(tmp_path / "cible")

    result = target.manage("restore", str(saved.archive))

    assert "Restauration terminée" in result.stdout
    assert row_counts(target.database) == row_counts(saved.site.database)
    assert digests(target.media) == digests(saved.site.media)


def test_tampered_archive_is_refused_before_touching_the_target(saved, tmp_path):
    archive = tmp_path / "alteree.tar"
    shutil.copyfile(saved.archive, archive)
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("files/"))
    with archive.open("r+b") as raw:
        raw.seek(member.offset_data)
        byte = raw.read(1)
        raw.seek(member.offset_data)
        raw.write(bytes([byte[0] ^ 0xFF]))
    target = Site(tmp_path / "cible")
    target.copy_database_from(saved.site)
    target.media.mkdir()
    (target.media / "present.txt").write_text("déjà là")
    database_before, media_before = file_digest(target.database), digests(target.media)

    result = target.manage("restore", "--force", str(archive), expect=1)

    assert "Archive corrompue" in result.stderr
    assert member.name in result.stderr
    assert "SHA-256" in result.stderr
    assert "Restauration de la base" not in result.stdout
    assert file_digest(target.database) == database_before
    assert digests(target.media) == media_before
    assert sorted(p.name for p in target.folder.iterdir()) == [
        "private",
        "tandem.sqlite3",
    ]


def test_non_empty_target_is_refused_without_force(saved, tmp_path):
    target = Site(tmp_path / "cible")
    target.copy_database_from(saved.site)
    before = file_digest(target.database)

    result = target.manage("restore", str(saved.archive), expect=1)

    assert "La cible n'est pas vide" in result.stderr
    assert "--force" in result.stderr
    assert file_digest(target.database) == before
    assert not target.media.exists()


def test_force_replaces_a_non_empty_target_and_sets_its_files_aside(saved, tmp_path):
    target = Site(tmp_path / "cible")
    target.folder.mkdir()
    with closing(sqlite3.connect(target.database)) as db, db:
        db.execute("CREATE TABLE ancienne (x)")
        db.execute("INSERT INTO ancienne VALUES (1)")
    target.media.mkdir()
    (target.media / "ancien.pdf").write_bytes(b"%PDF-1.4 ancien")

    target.manage("restore", "--force", str(saved.archive))

    assert row_counts(target.database) == row_counts(saved.site.database)
    assert digests(target.media) == digests(saved.site.media)
    (aside,) = target.folder.glob("private.avant-restauration-*")
    assert digests(aside) == {"ancien.pdf": file_digest(aside / "ancien.pdf")}


def test_archive_of_another_database_vendor_is_refused(saved, tmp_path):
    archive = tmp_path / "postgresql.tar"
    manifest = read_manifest(saved.archive)
    sqlite_member = manifest["database"]["member"]
    manifest["database"].update(vendor="postgresql", member="database/tandem.pgdump")
    content = json.dumps(manifest).encode()
    with tarfile.open(saved.archive) as source, tarfile.open(archive, "w") as copy:
        for member in source.getmembers():
            data = source.extractfile(member)
            if member.name == "manifest.json":
                member.size = len(content)
                data = io.BytesIO(content)
            elif member.name == sqlite_member:
                member.name = "database/tandem.pgdump"
            copy.addfile(member, data)
    target = Site(tmp_path / "cible")

    result = target.manage("restore", str(archive), expect=1)

    assert "L'archive contient une base postgresql" in result.stderr
    assert "la base cible est sqlite" in result.stderr
    assert not target.database.exists()


def test_backup_stops_on_a_referenced_file_missing_and_leaves_no_archive(
    saved, tmp_path
):
    site = Site(tmp_path / "site")
    site.copy_database_from(saved.site)
    shutil.copytree(saved.site.media, site.media)
    manifest = read_manifest(saved.archive)
    attachment = next(
        entry["path"]
        for entry in manifest["files"]
        if entry["referenced_by"][0].startswith("evolutions_attachment:")
    )
    (site.media / attachment).unlink()
    archives = tmp_path / "archives"
    archives.mkdir()

    result = site.manage("backup", str(archives / "sauvegarde.tar"), expect=1)

    assert "absent" in result.stderr
    assert attachment in result.stderr
    assert "evolutions_attachment" in result.stderr
    assert list(archives.iterdir()) == []


def _rewrite_manifest(source: Path, archive: Path, change) -> None:
    """A copy of `source` whose manifest went through `change`; the members, and so
    their SHA-256, are the same."""
    manifest = read_manifest(source)
    change(manifest)
    content = json.dumps(manifest).encode()
    with tarfile.open(source) as original, tarfile.open(archive, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member)
            if member.name == "manifest.json":
                member.size = len(content)
                data = io.BytesIO(content)
            copy.addfile(member, data)


def _old_installation(saved, folder: Path) -> Site:
    """An installation holding other data than the archive: the saved one plus an
    extra table, and one file of its own."""
    target = Site(folder)
    target.copy_database_from(saved.site)
    with closing(sqlite3.connect(target.database)) as db, db:
        db.execute("CREATE TABLE ancienne (x)")
        db.execute("INSERT INTO ancienne VALUES (1)")
    target.media.mkdir()
    (target.media / "ancien.pdf").write_bytes(b"%PDF-1.4 ancien")
    return target


def test_a_restore_failing_its_checks_leaves_the_old_database_and_files(
    saved, tmp_path
):
    def wrong_count(manifest):
        manifest["tables"]["auth_user"] += 1

    archive = tmp_path / "comptes-faux.tar"
    _rewrite_manifest(saved.archive, archive, wrong_count)
    target = _old_installation(saved, tmp_path / "cible")
    database_before, media_before = row_counts(target.database), digests(target.media)

    result = target.manage("restore", "--force", str(archive), expect=1)

    assert "table auth_user" in result.stderr
    assert row_counts(target.database) == database_before
    assert row_counts(target.database)["ancienne"] == 1
    assert digests(target.media) == media_before
    assert sorted(p.name for p in target.folder.iterdir()) == [
        "private",
        "tandem.sqlite3",
    ]


def test_a_restore_failing_on_the_files_puts_the_old_ones_back(saved, tmp_path):
    target = _old_installation(saved, tmp_path / "cible")
    database_before, media_before = row_counts(target.database), digests(target.media)
    script = (
        "import sys\n"
        "from workflow.backup import BackupError, restore\n"
        "real = restore._restore_files\n"
        "def failing(*args, **kwargs):\n"
        "    real(*args, **kwargs)\n"
        "    raise BackupError('panne simulée après les fichiers')\n"
        "restore._restore_files = failing\n"
        "from django.core.management import call_command\n"
        f"call_command('restore', '--force', {str(saved.archive)!r})\n"
    )

    result = target.manage("shell", "-c", script, expect=None)

    assert result.returncode != 0
    assert "panne simulée après les fichiers" in result.stderr
    assert row_counts(target.database) == database_before
    assert digests(target.media) == media_before
    assert sorted(p.name for p in target.folder.iterdir()) == [
        "private",
        "tandem.sqlite3",
    ]


def test_the_manifest_records_the_audit_head_and_a_restore_checks_it(saved, tmp_path):
    manifest = read_manifest(saved.archive)
    with closing(sqlite3.connect(saved.site.database)) as db:
        head = db.execute(
            "SELECT seq, hash FROM workflow_auditentry ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert head is not None
    assert manifest["audit"] == {"seq": head[0], "hash": head[1]}

    def later_head(manifest):
        manifest["audit"]["seq"] += 5

    archive = tmp_path / "ancre-posterieure.tar"
    _rewrite_manifest(saved.archive, archive, later_head)
    target = Site(tmp_path / "cible")

    result = target.manage("restore", str(archive), expect=1)

    assert "Journal d'audit restauré incomplet" in result.stderr
    assert "tronqué ou vidé" in result.stderr
    assert not target.database.exists()
    assert not target.media.exists()


def test_a_successful_restore_anchors_the_restored_journal(saved, tmp_path):
    target = Site(tmp_path / "cible")

    target.manage("restore", str(saved.archive))

    (line,) = (target.folder / "audit-anchors.jsonl").read_text().splitlines()
    assert json.loads(line)["seq"] == read_manifest(saved.archive)["audit"]["seq"]
    assert "retrouvée" in target.manage("verify_audit").stdout


# --- scheduled backups ----------------------------------------------------------------


@pytest.fixture
def backup_dir(settings, tmp_path, monkeypatch):
    """Scheduled backups of the test database into a folder of this test, with the
    files of a private folder of its own."""
    from workflow.backup import file_fields
    from workflow.uploads import private_storage

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    for _model, model_field in file_fields():
        monkeypatch.setattr(model_field, "storage", private_storage())
    Path(settings.PRIVATE_MEDIA_ROOT).mkdir()
    (Path(settings.PRIVATE_MEDIA_ROOT) / "libre.txt").write_text("fichier")
    settings.TANDEM_BACKUP_DIR = tmp_path / "sauvegardes"
    return settings.TANDEM_BACKUP_DIR


def _older_archives(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    archives = [folder / f"tandem-backup-2026010{n}-023000.tar" for n in range(count)]
    for archive in archives:
        archive.write_bytes(b"ancienne")
    return archives


@pytest.mark.django_db(transaction=True)
def test_the_daily_backup_is_verified_then_keeps_the_seven_newest(backup_dir):
    from workflow import tasks

    older = _older_archives(backup_dir / "daily", 8)

    written = Path(tasks.backup_daily())

    assert written.parent == backup_dir / "daily"
    remaining = sorted((backup_dir / "daily").iterdir())
    assert remaining == [*older[2:], written]
    manifest = read_manifest(written)
    assert [entry["path"] for entry in manifest["files"]] == ["libre.txt"]
    assert manifest["audit"]["seq"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_weekly_backup_keeps_five(backup_dir):
    from workflow import tasks

    older = _older_archives(backup_dir / "weekly", 5)

    written = Path(tasks.backup_weekly())

    assert sorted((backup_dir / "weekly").iterdir()) == [*older[1:], written]
    assert not (backup_dir / "daily").exists()


@pytest.mark.django_db(transaction=True)
def test_a_backup_that_does_not_verify_deletes_nothing_and_logs_an_error(
    backup_dir, monkeypatch, caplog
):
    from workflow import backup, tasks
    from workflow.backup import schedule

    older = _older_archives(backup_dir / "daily", 8)
    checked = []

    def unreadable(archive):
        checked.append(archive)
        raise backup.BackupError("Archive corrompue : simulée")

    monkeypatch.setattr(schedule, "archive_verify", unreadable)

    with pytest.raises(backup.BackupError, match="ne se relit pas"):
        tasks.backup_daily()

    (written,) = checked
    assert sorted((backup_dir / "daily").iterdir()) == sorted(
        [*older, written.with_name(written.name + ".invalide")]
    )
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.name == "workflow.tasks"
    assert "Sauvegarde planifiée (daily) en échec" in error.getMessage()
    assert "simulée" in error.getMessage()


def test_beat_schedules_the_backups_and_the_anchor_at_night(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    daily = schedule["backup-daily"]["schedule"]
    weekly = schedule["backup-weekly"]["schedule"]
    anchor = schedule["audit-anchor"]["schedule"]

    assert schedule["backup-daily"]["task"] == "workflow.tasks.backup_daily"
    assert (daily.hour, daily.minute) == ({2}, {30})
    assert len(daily.day_of_week) == 7
    assert schedule["backup-weekly"]["task"] == "workflow.tasks.backup_weekly"
    assert (weekly.hour, weekly.minute, weekly.day_of_week) == ({3}, {30}, {0})
    assert schedule["audit-anchor"]["task"] == "workflow.tasks.audit_anchor"
    assert (anchor.hour, anchor.minute) == ({2}, {15})
    assert settings.CELERY_TIMEZONE == "Europe/Paris"
