import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow import env

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_url_relative_to_the_project(tmp_path):
    database = env.database_from_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "var" / "x.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_sqlite_url_with_an_absolute_path(tmp_path):
    database = env.database_from_url("sqlite:////srv/tandem.db", base_dir=tmp_path)

    assert database["NAME"] == "/srv/tandem.db"


def test_postgres_url_is_split_into_django_settings(tmp_path):
    database = env.database_from_url(
        "postgres://tandem:s%40cret@db.example:6543/tandem?sslmode=require",
        base_dir=tmp_path,
    )

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["USER"], database["PASSWORD"]) == ("tandem", "s@cret")
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.example",
        "6543",
        "tandem",
    )
    assert database["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    "url",
    [
        "nonsense",
        "mysql://x@y/z",
        "postgres://x@y/",
        "postgres://x@y:port/db",
        "sqlite://",
    ],
)
def test_malformed_database_url_names_the_variable(tmp_path, url):
    with pytest.raises(env.ConfigError, match=r"^DATABASE_URL : "):
        env.database_from_url(url, base_dir=tmp_path)


def test_malformed_values_name_their_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "peut-être")
    monkeypatch.setenv("EMAIL_PORT", "vingt-cinq")
    monkeypatch.setenv("CELERY_BROKER_URL", "pigeon://voyageur")

    with pytest.raises(env.ConfigError, match=r"^DEBUG : "):
        env.env_bool("DEBUG", default=True)
    with pytest.raises(env.ConfigError, match=r"^EMAIL_PORT : "):
        env.env_int("EMAIL_PORT", 25)
    with pytest.raises(env.ConfigError, match=r"^CELERY_BROKER_URL : "):
        env.broker_url("CELERY_BROKER_URL", "filesystem://")


def _manage(*args, **environ):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "workflow.settings", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_start_up_stops_at_once_on_a_bad_database_url():
    result = _manage("check", DATABASE_URL="nonsense")

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="0", SECRET_KEY="")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_make_run_fails_at_once_on_a_bad_database_url(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env={**environ, "DATABASE_URL": "nonsense", "TANDEM_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stdout + result.stderr
    assert "Starting development server" not in result.stdout + result.stderr
