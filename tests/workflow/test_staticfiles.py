"""Static files served by the application process (workflow/staticfiles.py)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from workflow.models import AnonymousRefusal, AuditEntry
from workflow.staticfiles import HashedStaticFilesStorage

ROOT = Path(__file__).resolve().parents[2]


def test_the_application_serves_its_own_static_files(client, db):
    response = client.get("/static/tandem/back-buttons.js")

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert b"addEventListener" in b"".join(response.streaming_content)


def test_a_missing_asset_is_a_bare_404_never_journaled(client, db, django_user_model):
    client.force_login(django_user_model.objects.create_user("lecteur"))

    response = client.get("/static/tandem/absent.css")
    client.logout()
    anonymous = client.get("/static/viewflow/absent.js")

    assert response.status_code == anonymous.status_code == 404
    assert AuditEntry.objects.count() == 0
    assert AnonymousRefusal.objects.count() == 0


def test_collectstatic_under_the_production_switch_hashes_and_compresses(tmp_path):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "tandem.example.fr",
            "TANDEM_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "static/staticfiles.json").read_text())
    hashed = manifest["paths"]["viewflow/css/viewflow.min.css"]
    assert hashed != "viewflow/css/viewflow.min.css"
    assert (tmp_path / "static" / hashed).exists()
    assert (tmp_path / "static" / f"{hashed}.gz").exists()
    assert "tandem/back-buttons.js" in manifest["paths"]


def test_a_file_not_collected_is_linked_plainly_and_logged_not_a_500(tmp_path, caplog):
    storage = HashedStaticFilesStorage(location=tmp_path, base_url="/static/")

    url = storage.url("tandem/back-buttons.js")

    assert url == "/static/tandem/back-buttons.js"
    assert "collectstatic" in caplog.text
    assert "tandem/back-buttons.js" in caplog.text
