"""Read Tandem's settings from environment variables.

Every reader names its variable in the error it raises, so that a bad value stops
start-up with a message saying which variable to fix.
"""

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


class ConfigError(ImproperlyConfigured):
    """A setting read from the environment has a malformed value."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name} : {problem}")
        self.name = name


def env_str(name: str, default: str = "") -> str:
    """The variable's value, or `default` when unset or empty."""
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool) -> bool:
    """A yes/no variable: 1/0, true/false, yes/no, on/off, oui/non."""
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on", "oui"}:
        return True
    if raw in {"0", "false", "no", "off", "non"}:
        return False
    raise ConfigError(
        name, f"valeur booléenne attendue (1/0, true/false), reçu {raw!r}"
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number not below `minimum`."""
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"nombre entier attendu, reçu {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"doit être au moins {minimum}, reçu {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive)."""
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigError(
            name, f"valeur attendue parmi {', '.join(choices)}, reçu {raw!r}"
        )
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks around items are ignored."""
    raw = env_str(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def database_from_url(url: str, *, base_dir: Path, name: str = "DATABASE_URL") -> dict:
    """Django's DATABASES entry for `sqlite:///path` or `postgres://user@host/db`."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite_database(parts, base_dir=base_dir, name=name)
    if parts.scheme in _POSTGRES_SCHEMES:
        return _postgres_database(parts, name=name)
    raise ConfigError(
        name,
        f"URL de base de données non reconnue {url!r} ; attendu "
        "sqlite:///chemin/vers/fichier.sqlite3 ou postgres://utilisateur@hôte:port/base",
    )


def _sqlite_database(parts, *, base_dir: Path, name: str) -> dict:
    if parts.netloc:
        raise ConfigError(name, "une URL sqlite s'écrit sqlite:///chemin (trois /)")
    raw_path = unquote(parts.path)
    if raw_path in {"", "/"}:
        raise ConfigError(name, "chemin du fichier SQLite manquant")
    # sqlite:///var/db.sqlite3 is relative to the project, sqlite:////abs/db absolute.
    path = Path(raw_path[1:])
    if not path.is_absolute():
        path = base_dir / path
    return {
        # Django's backend plus the audit journal's pre-commit append.
        "ENGINE": "workflow.db.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # A writer takes the lock when its transaction starts, so two concurrent
            # actions on one object serialise instead of failing half-way.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Django's default for SQLite, said outright: pytest-django knows SQLite by
        # the stock ENGINE name only, and would otherwise give each xdist worker a
        # test database file named after NAME.
        "TEST": {"NAME": ":memory:"},
    }


# Values sent apart from the statement, and a statement run five times on a
# connection prepared on the server: PostgreSQL then no longer parses and plans the
# hot queries (session, user, memberships, lists) on each request, a third of its
# CPU per request (BENCHMARKS.md, "Load test"). Behind a pooler in transaction mode
# (PgBouncer before 1.21), prepared statements do not survive: add
# ?prepare_threshold=none to DATABASE_URL.
#
# A prepared statement is planned once for any values (plan_cache_mode): left to
# choose, PostgreSQL planned again at each run the statements whose plan for the
# values given looked cheaper, « Mes tâches » among them (1.2 ms of planning for a
# 0.2 ms run); the one statement whose generic plan was slower (a partial index)
# now says the condition that lets any plan use it. `?options=` in DATABASE_URL
# replaces these server settings (`-c plan_cache_mode=auto` gives the default
# back). A hundred and more statements run on a connection: each is kept
# prepared (prepared_max) rather than prepared again.
_POSTGRES_STATEMENTS = {
    "server_side_binding": True,
    "prepare_threshold": 5,
    "prepared_max": 500,
    "options": "-c plan_cache_mode=force_generic_plan",
}

# Seconds a connection is kept (DATABASE_URL's ?conn_max_age=): stale ones are
# replaced before a request uses them (CONN_HEALTH_CHECKS).
CONN_MAX_AGE = 600


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ValueError(value)


def _postgres_database(parts, *, name: str) -> dict:
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ConfigError(name, "nom de base PostgreSQL manquant ou invalide")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(name, "port PostgreSQL invalide") from None
    options = {**_POSTGRES_STATEMENTS, **dict(parse_qsl(parts.query))}
    # Not a connection option: how long Django keeps a connection (seconds, or
    # "none": as long as the process). A new connection's server process loads
    # its catalogue and plans every statement again: about 0.1 s of PostgreSQL's
    # CPU each time in the load test, a request's worth of work every 600.
    age = options.pop("conn_max_age", str(CONN_MAX_AGE))
    try:
        conn_max_age = None if age.strip().lower() == "none" else int(age)
        if conn_max_age is not None and conn_max_age < 0:
            raise ValueError(age)
    except ValueError:
        raise ConfigError(
            name, "conn_max_age attend un nombre de secondes positif ou none"
        ) from None
    try:
        options["server_side_binding"] = _flag(options["server_side_binding"])
        threshold = options["prepare_threshold"]
        options["prepare_threshold"] = (
            None if threshold in (None, "", "none") else int(threshold)
        )
        options["prepared_max"] = int(options["prepared_max"])
        if options["prepared_max"] < 0:
            raise ValueError(options["prepared_max"])
    except ValueError:
        raise ConfigError(
            name,
            "server_side_binding attend true ou false, prepare_threshold un entier"
            " ou none, prepared_max un entier positif",
        ) from None
    return {
        "ENGINE": "workflow.db.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


_BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "filesystem", "memory"}


def broker_url(name: str, default: str) -> str:
    """A Celery broker URL whose transport Tandem knows how to run."""
    url = env_str(name, default)
    scheme = urlsplit(url).scheme
    if scheme not in _BROKER_SCHEMES:
        raise ConfigError(
            name,
            f"URL de broker non reconnue {url!r} ; attendu redis://hôte:port/0 "
            "(ou vide pour le mode embarqué)",
        )
    return url


def email_backend(name: str, default: str) -> str:
    """Where e-mail goes: smtp, console, file, memory or a dotted backend path."""
    raw = env_str(name, default)
    short = {
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "console": "django.core.mail.backends.console.EmailBackend",
        "file": "django.core.mail.backends.filebased.EmailBackend",
        "memory": "django.core.mail.backends.locmem.EmailBackend",
    }
    if raw in short:
        return short[raw]
    if "." not in raw:
        raise ConfigError(
            name,
            f"attendu smtp, console, file, memory ou un chemin Python, reçu {raw!r}",
        )
    return raw


def proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Django's SECURE_PROXY_SSL_HEADER from a header name such as X-Forwarded-Proto
    (which the proxy sets to `https`), or None when unset."""
    raw = env_str(name)
    if not raw:
        return None
    if not re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", raw):
        raise ConfigError(
            name, f"nom d'en-tête HTTP attendu (ex. X-Forwarded-Proto), reçu {raw!r}"
        )
    return ("HTTP_" + raw.upper().replace("-", "_"), "https")
