import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from workflow import env

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_url_relative_to_the_project(tmp_path):
    database = env.database_from_url("sqlite:///var/x.sqlite3", base_dir=tmp_path)

    assert database["ENGINE"] == "workflow.db.sqlite3"
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

    assert database["ENGINE"] == "workflow.db.postgresql"
    assert (database["USER"], database["PASSWORD"]) == ("tandem", "s@cret")
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.example",
        "6543",
        "tandem",
    )
    assert database["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,
        "prepared_max": 500,
        "options": "-c plan_cache_mode=force_generic_plan",
    }


def test_the_server_settings_of_the_url_replace_the_plan_mode(tmp_path):
    database = env.database_from_url(
        "postgres://tandem@db/tandem?options=-c%20plan_cache_mode%3Dauto"
        "&prepared_max=50",
        base_dir=tmp_path,
    )

    assert database["OPTIONS"]["options"] == "-c plan_cache_mode=auto"
    assert database["OPTIONS"]["prepared_max"] == 50


def test_connections_are_kept_ten_minutes_unless_the_url_says_otherwise(tmp_path):
    def kept(url):
        database = env.database_from_url(url, base_dir=tmp_path)
        assert "conn_max_age" not in database["OPTIONS"]  # not psycopg's
        return database["CONN_MAX_AGE"]

    assert kept("postgres://tandem@db/tandem") == 600
    assert kept("postgres://tandem@db/tandem?conn_max_age=60") == 60
    assert kept("postgres://tandem@db/tandem?conn_max_age=0") == 0
    assert kept("postgres://tandem@db/tandem?conn_max_age=none") is None


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(tmp_path):
    database = env.database_from_url(
        "postgres://tandem@db/tandem?prepare_threshold=none&server_side_binding=false",
        base_dir=tmp_path,
    )

    assert database["OPTIONS"]["prepare_threshold"] is None
    assert database["OPTIONS"]["server_side_binding"] is False


@pytest.mark.parametrize(
    "query",
    [
        "prepare_threshold=souvent",
        "server_side_binding=peut-etre",
        "prepared_max=beaucoup",
        "prepared_max=-1",
        "conn_max_age=toujours",
        "conn_max_age=-5",
    ],
)
def test_malformed_statement_options_name_the_variable(tmp_path, query):
    with pytest.raises(env.ConfigError, match=r"^DATABASE_URL : "):
        env.database_from_url(f"postgres://x@y/z?{query}", base_dir=tmp_path)


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


def test_a_choice_is_one_of_its_values_or_names_its_variable(monkeypatch):
    clocks = ("plages", "continu")
    monkeypatch.delenv("TANDEM_INCIDENT_CLOCK_TAKE_IN", raising=False)
    assert env.env_choice("TANDEM_INCIDENT_CLOCK_TAKE_IN", "plages", clocks) == "plages"
    monkeypatch.setenv("TANDEM_INCIDENT_CLOCK_TAKE_IN", " Continu ")
    assert (
        env.env_choice("TANDEM_INCIDENT_CLOCK_TAKE_IN", "plages", clocks) == "continu"
    )
    monkeypatch.setenv("TANDEM_INCIDENT_CLOCK_TAKE_IN", "parfois")
    with pytest.raises(
        env.ConfigError, match=r"^TANDEM_INCIDENT_CLOCK_TAKE_IN : .*plages, continu"
    ):
        env.env_choice("TANDEM_INCIDENT_CLOCK_TAKE_IN", "plages", clocks)


def _manage(*args, **environ):
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "tandem.settings", **environ},
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


def _production(tmp_path, *args, **environ):
    """manage.py under DEBUG=0, the production switch, with nothing else to reach."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}
        and not k.startswith("SECURE_")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "tandem.example.fr",
            "TANDEM_VAR_DIR": str(tmp_path),
            **environ,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_switch_passes_the_deployment_checklist(tmp_path):
    result = _production(tmp_path, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_behind_a_redirecting_proxy_the_ssl_redirect_may_be_switched_off(tmp_path):
    result = _production(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECURE_SSL_REDIRECT="0",
    )

    assert result.returncode == 0, result.stdout + result.stderr


PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="tandem.example.fr")
plain = client.get("/accounts/login/")
proxied = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = proxied.cookies[settings.CSRF_COOKIE_NAME]
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "proxied": proxied.status_code,
    "hsts": proxied.get("Strict-Transport-Security"),
    "csp": proxied.get("Content-Security-Policy"),
    "frame": proxied.get("X-Frame-Options"),
    "csrf": [settings.CSRF_COOKIE_NAME, cookie["secure"], cookie["path"],
             cookie["domain"], cookie["httponly"]],
    "session": [settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE,
                settings.SESSION_COOKIE_PATH, settings.SESSION_COOKIE_DOMAIN],
}))
"""


def test_production_is_https_only_with_host_bound_secure_cookies(tmp_path):
    result = _production(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        PRODUCTION_PROBE,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )

    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["plain"] == [301, "https://tandem.example.fr/accounts/login/"]
    assert seen["proxied"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in seen["csp"]
    assert seen["frame"] == "DENY"
    assert seen["csrf"] == ["__Host-csrftoken", True, "/", "", True]
    assert seen["session"] == ["__Host-sessionid", True, "/", None]


def test_development_defaults_work_over_plain_http(world, client, settings):
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    assert settings.CSRF_COOKIE_NAME == "csrftoken"

    page = client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": "cd23.porteur", "password": world.password}
    )

    assert page.status_code == 200
    assert "Strict-Transport-Security" not in page
    assert not page.cookies["csrftoken"]["secure"]
    assert response.status_code == 302
    assert response.url == "/"
    assert not response.cookies["sessionid"]["secure"]
    assert client.get("/").status_code == 200


def test_proxy_ssl_header_is_read_from_a_header_name(monkeypatch):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    assert env.proxy_ssl_header("SECURE_PROXY_SSL_HEADER") == (
        "HTTP_X_FORWARDED_PROTO",
        "https",
    )

    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https")
    with pytest.raises(env.ConfigError, match=r"^SECURE_PROXY_SSL_HEADER : "):
        env.proxy_ssl_header("SECURE_PROXY_SSL_HEADER")


def test_idle_session_is_sent_back_to_login(world, client, settings, monkeypatch):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    client.force_login(world.user("cd23.porteur"))
    start, idle = timezone.now(), timedelta(seconds=settings.SESSION_COOKIE_AGE)

    # Each request pushes the expiry back: active for twice the idle time, still in.
    monkeypatch.setattr(timezone, "now", lambda: start + idle - timedelta(minutes=1))
    assert client.get("/").status_code == 200
    monkeypatch.setattr(
        timezone, "now", lambda: start + 2 * idle - timedelta(minutes=2)
    )
    assert client.get("/").status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: start + 3 * idle)
    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_active_session_is_saved_once_a_minute_not_on_every_request(
    world, client, settings, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflow.models import UserSession as Session

    client.force_login(world.user("cd23.porteur"))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    start = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: start)
    client.get("/")  # the first page marks the session
    marked = Session.objects.get(session_key=key).expire_date

    writes = []
    for seconds in (10, 30, 59):
        monkeypatch.setattr(
            timezone, "now", lambda s=seconds: start + timedelta(seconds=s)
        )
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        writes += [
            q["sql"]
            for q in queries
            if "django_session" in q["sql"]
            and not q["sql"].lstrip().upper().startswith("SELECT")
        ]
    assert writes == []
    assert Session.objects.get(session_key=key).expire_date == marked

    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=61))
    client.get("/")
    assert Session.objects.get(session_key=key).expire_date > marked


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        ("tandem-demo", "Il doit contenir au minimum 12 caractères"),
        ("123456789012", "Ce mot de passe est entièrement numérique"),
        ("password1234", "Ce mot de passe est trop courant"),
        ("cd23.porteur!", "Le mot de passe est trop semblable"),
    ],
)
def test_weak_new_password_is_refused_in_french(world, client, weak, reason):
    user = world.user("cd23.porteur")
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {
            "old_password": world.password,
            "new_password1": weak,
            "new_password2": weak,
        },
    )

    assert response.status_code == 200
    assert reason in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(world.password)


def test_strong_new_password_is_accepted(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {
            "old_password": world.password,
            "new_password1": "Réglisse-Tempête-42",
            "new_password2": "Réglisse-Tempête-42",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Réglisse-Tempête-42")


def test_the_embedded_broker_keeps_every_folder_under_var(tmp_path):
    """kombu's filesystem transport writes its exchange tables to `control_folder`,
    by default the current folder: the repository root once held them."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from tandem import celery; "
            "print(json.dumps(celery.app.conf.broker_transport_options))",
        ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "TANDEM_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    options = json.loads(result.stdout.strip().splitlines()[-1])
    folders = {key: value for key, value in options.items() if "folder" in key}
    assert set(folders) >= {"data_folder_in", "processed_folder", "control_folder"}
    for folder in folders.values():
        assert folder.startswith(str(tmp_path)), folder
