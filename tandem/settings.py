"""Tandem's Django settings, read from the environment (see README, "Configuration").

With no variable set, Tandem runs in its embedded mode: SQLite under var/, Celery on a
broker kept in files under var/, e-mail written to files under var/.
"""

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from workflow import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.env_str("TANDEM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env.env_bool("DEBUG", default=True)

_DEV_SECRET_KEY = "tandem-dev-only-not-secret"  # noqa: S105 - refused below unless DEBUG
SECRET_KEY = env.env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise env.ConfigError(
            "SECRET_KEY", "obligatoire quand DEBUG est désactivé (production)"
        )
    SECRET_KEY = _DEV_SECRET_KEY

# Key of the audit journal's hash chain (workflow/audit.py). Keep it apart from the
# database and never change it: entries sealed under another key no longer verify.
TANDEM_AUDIT_KEY = env.env_str("TANDEM_AUDIT_KEY") or f"audit:{SECRET_KEY}"
# The journal's head (seq, hash) is appended here each day (and logged), outside the
# database: `verify_audit` fails when the journal no longer holds the last one.
TANDEM_AUDIT_ANCHOR_FILE = Path(
    env.env_str("TANDEM_AUDIT_ANCHOR_FILE", str(VAR_DIR / "audit-anchors.jsonl"))
)
# Scheduled backups (workflow/tasks.py): daily/ and weekly/ below this folder.
TANDEM_BACKUP_DIR = Path(env.env_str("TANDEM_BACKUP_DIR", str(VAR_DIR / "backups")))
TANDEM_BACKUP_KEEP_DAILY = env.env_int("TANDEM_BACKUP_KEEP_DAILY", 7, minimum=1)
TANDEM_BACKUP_KEEP_WEEKLY = env.env_int("TANDEM_BACKUP_KEEP_WEEKLY", 5, minimum=1)

ALLOWED_HOSTS = env.env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # django.contrib.staticfiles, with what collectstatic leaves out.
    "workflow.staticfiles.StaticFilesConfig",
    "axes",
    "django_filters",
    "viewflow",
    "viewflow.workflow",
    "workflow.apps.WorkflowConfig",
    "contacts.apps.ContactsConfig",
    "evolutions.apps.EvolutionsConfig",
    "recette.apps.RecetteConfig",
    "incidents.apps.IncidentsConfig",
    # The project package: commands that compose every app (generate_dataset).
    "tandem.apps.TandemConfig",
    # TOTP second factor of the go-live signatures (workflow/second_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files, before anything that reads the session or journals (README,
    # "Production"): an asset is never a refusal nor a session hit.
    "workflow.staticfiles.StaticFilesMiddleware",
    "workflow.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Pushes an active session's expiry back, once a minute (workflow/sessions.py).
    "workflow.sessions.IdleMarkMiddleware",
    "workflow.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Under DEBUG, a 404 is Tandem's French page, not Django's technical one.
    "workflow.middleware.FrenchNotFoundMiddleware",
    # An id past 2**63 - 1 in any route is a 404, not an OverflowError.
    "workflow.middleware.OutOfRangeIdMiddleware",
    # Every page needs a login unless marked @login_not_required (login, i18n).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # request.user as the user itself from here on, not Django's lazy stand-in.
    "workflow.middleware.SignedInUserMiddleware",
    # Journals documents, downloads and refusals (workflow/audit.py).
    "workflow.middleware.AuditMiddleware",
    # A view's ActionRefused: the 409 page, or JSON (workflow/refusals.py).
    "workflow.refusals.RefusalMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "viewflow.middleware.SiteMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    # Last, as django-axes asks: turns a refused (throttled) login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

# Widgets printed in Python where Django's templates cost more than the page's
# queries (workflow/renderers.py); any other widget is still a template.
FORM_RENDERER = "workflow.renderers.QuickRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Django's url tag, its addresses kept (workflow/templatetags: the
            # same output, fewer lookups per page; our templates load
            # tandem_i18n and tandem_static, Django's i18n and static likewise).
            "builtins": ["workflow.templatetags.tandem_url"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workflow.context_processors.shell",
                "workflow.context_processors.csp_nonce",
            ],
        },
    },
]

DATABASES = {
    "default": env.database_from_url(
        env.env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}"),
        base_dir=BASE_DIR,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first (workflow/hashers.py: why); the others verify older hashes, which
# are stored again with Argon2id at the next login.
PASSWORD_HASHERS = [
    "workflow.hashers.OwaspArgon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + address before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, whose user comes with their memberships in one
    # statement (workflow/signin.py).
    "workflow.signin.MemberBackend",
    # Role permissions come from memberships (user × organisation × role).
    "workflow.access.MembershipBackend",
]
_VALIDATION = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATION}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATION}.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": f"{_VALIDATION}.CommonPasswordValidator"},
    {"NAME": f"{_VALIDATION}.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): after TANDEM_LOGIN_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is refused for
# TANDEM_LOGIN_LOCKOUT_MINUTES after the last of them; other users and other
# addresses are not affected. A wrong password asked again to sign counts too
# (workflow/throttling.py).
AXES_FAILURE_LIMIT = env.env_int("TANDEM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env.env_int("TANDEM_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts while locked out are refused unchecked and do not extend the lockout, so
# the page can say when to retry.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "workflow.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "workflow.throttling.client_ip"
AXES_VERBOSE = False  # no banner at each start; failures and lockouts are still logged
# Password-reset e-mails (queued in the outbox, sent by the worker): at most this
# many an hour for one e-mail address, and from one client address; beyond, the
# same page is shown and nothing is sent.
TANDEM_PASSWORD_RESET_PER_EMAIL = env.env_int(
    "TANDEM_PASSWORD_RESET_PER_EMAIL", 3, minimum=1
)
TANDEM_PASSWORD_RESET_PER_ADDRESS = env.env_int(
    "TANDEM_PASSWORD_RESET_PER_ADDRESS", 10, minimum=1
)
# Refusals answered to anonymous requests are counted per day, path and address
# (workflow.models.AnonymousRefusal), in at most this many rows a day.
TANDEM_ANONYMOUS_REFUSAL_ROWS = env.env_int(
    "TANDEM_ANONYMOUS_REFUSAL_ROWS", 5000, minimum=1
)
# ... and kept this many days (deleted every night by beat).
TANDEM_ANONYMOUS_REFUSAL_DAYS = env.env_int(
    "TANDEM_ANONYMOUS_REFUSAL_DAYS", 90, minimum=1
)
# Reverse proxies in front of Tandem that append to X-Forwarded-For (0: none, the
# client's address is REMOTE_ADDR).
TANDEM_PROXY_COUNT = env.env_int("TANDEM_PROXY_COUNT", 0)

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("Anglais"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Under DEBUG=0 gunicorn serves the files `collectstatic` gathered in STATIC_ROOT
# (WhiteNoise, workflow/staticfiles.py), compressed, under names that carry a hash of
# their content, so that they are cached for ten years (WhiteNoise's "immutable"
# answer; other files: 60 s).
# In development and tests the files are found in the apps at each request, under
# their plain names: the hashed names exist only once collectstatic has run.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "workflow.staticfiles.HashedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Attachments, evidence and documents: never served directly (access-checked views).
PRIVATE_MEDIA_ROOT = env.env_str("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private"))
TANDEM_MAX_UPLOAD_MB = env.env_int("TANDEM_MAX_UPLOAD_MB", 20, minimum=1)
# What one submission of several files (at most 10) may weigh together.
TANDEM_MAX_UPLOAD_TOTAL_MB = env.env_int("TANDEM_MAX_UPLOAD_TOTAL_MB", 50, minimum=1)
TANDEM_RECETTE_MARGIN_DAYS = env.env_int("TANDEM_RECETTE_MARGIN_DAYS", 10)
# Working days before a task's due date that its reminder goes out.
TANDEM_REMINDER_DAYS = env.env_int("TANDEM_REMINDER_DAYS", 2)
# Incidents (README, "Incidents"): each target counted in the GSI's support hours
# ("plages") or around the clock ("continu"); the policy in force is kept on each
# incident when it is registered.
TANDEM_INCIDENT_CLOCK_TAKE_IN = env.env_choice(
    "TANDEM_INCIDENT_CLOCK_TAKE_IN", "plages", ("plages", "continu")
)
TANDEM_INCIDENT_CLOCK_SERVICE_BACK = env.env_choice(
    "TANDEM_INCIDENT_CLOCK_SERVICE_BACK", "plages", ("plages", "continu")
)
TANDEM_INCIDENT_CLOCK_NOTIFICATION = env.env_choice(
    "TANDEM_INCIDENT_CLOCK_NOTIFICATION", "continu", ("plages", "continu")
)
TANDEM_INCIDENT_CONFIRM_DAYS = env.env_int("TANDEM_INCIDENT_CONFIRM_DAYS", 5, minimum=1)
# Name shown by authenticator apps next to the account (otpauth:// URI).
OTP_TOTP_ISSUER = "Tandem"
# The admin never shows an existing device's key or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# E-mail: written to files under var/mail in the embedded mode, SMTP in production.
EMAIL_BACKEND = env.email_backend("EMAIL_BACKEND", "file" if DEBUG else "smtp")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env.env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env.env_str("DEFAULT_FROM_EMAIL", "tandem@localhost")
# Notification outbox (workflow/notifications.py): how long a worker holds a message
# it is sending before another may take it over, the first retry delay after an SMTP
# error (doubled at each attempt), and how often the relay hands back unsent messages.
TANDEM_NOTIFICATION_LEASE_SECONDS = env.env_int(
    "TANDEM_NOTIFICATION_LEASE_SECONDS", 300, minimum=1
)
TANDEM_NOTIFICATION_RETRY_SECONDS = env.env_int(
    "TANDEM_NOTIFICATION_RETRY_SECONDS", 30, minimum=1
)
TANDEM_NOTIFICATION_RELAY_SECONDS = env.env_int(
    "TANDEM_NOTIFICATION_RELAY_SECONDS", 60, minimum=1
)
# Absolute address of Tandem, for the links in e-mails.
TANDEM_SITE_URL = env.env_str("TANDEM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery. The embedded default is kombu's filesystem transport: a real worker and
# beat process (started by `make run`) exchange messages through files under
# var/broker, so background work follows the production path without any server.
_EMBEDDED_BROKER = "filesystem://"
CELERY_BROKER_URL = env.broker_url("CELERY_BROKER_URL", _EMBEDDED_BROKER)
if CELERY_BROKER_URL == _EMBEDDED_BROKER:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables (the worker's control messages): under var/ too, not
        # in the current folder (kombu's default).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
_default_backend = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
CELERY_RESULT_BACKEND = env.env_str("CELERY_RESULT_BACKEND", _default_backend) or None
CELERY_TASK_IGNORE_RESULT = not CELERY_RESULT_BACKEND
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = env.env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's stock scheduler, which also records that beat is alive (workflow/health.py).
CELERY_BEAT_SCHEDULER = "workflow.health:BeatScheduler"
# /sante/ calls the worker's or beat's heartbeat stale past this age (both beat every
# 60 s or less).
TANDEM_HEALTH_STALE_SECONDS = env.env_int("TANDEM_HEALTH_STALE_SECONDS", 180, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "fire-due-timers": {"task": "workflow.tasks.fire_due_timers", "schedule": 60.0},
    "heartbeat": {"task": "workflow.tasks.heartbeat", "schedule": 60.0},
    # Refusals answered to logged-in users, chained into the audit journal.
    "audit-fold-refusals": {
        "task": "workflow.tasks.audit_fold_refusals",
        "schedule": 60.0,
    },
    "purge-anonymous-refusals": {
        "task": "workflow.tasks.purge_anonymous_refusals",
        "schedule": crontab(hour=4, minute=10),
    },
    "purge-expired-sessions": {
        "task": "workflow.tasks.purge_expired_sessions",
        "schedule": crontab(hour=4, minute=20),
    },
    "expire-import-previews": {
        "task": "recette.tasks.expire_import_previews",
        "schedule": 3600.0,
    },
    # Incidents: warnings at 75 % and 100 % of a target, and the close without
    # the client's answer (incidents/services.py).
    "incident-clocks": {"task": "incidents.tasks.incident_clocks", "schedule": 300.0},
    "deadline-messages": {
        "task": "workflow.tasks.deadline_messages",
        "schedule": 3600.0,
    },
    "relay-notifications": {
        "task": "workflow.tasks.relay_notifications",
        "schedule": float(TANDEM_NOTIFICATION_RELAY_SECONDS),
    },
    # Europe/Paris (CELERY_TIMEZONE): the anchor before the backups, so that both
    # the anchor file and the archives hold the night's head of the audit journal.
    "audit-anchor": {
        "task": "workflow.tasks.audit_anchor",
        "schedule": crontab(hour=2, minute=15),
    },
    "backup-daily": {
        "task": "workflow.tasks.backup_daily",
        "schedule": crontab(hour=2, minute=30),
    },
    "backup-weekly": {
        "task": "workflow.tasks.backup_weekly",
        "schedule": crontab(hour=3, minute=30, day_of_week="sunday"),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused access (403) is one line: its traceback tells nothing.
    "filters": {"no_403_traceback": {"()": "workflow.logfilters.No403Traceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["no_403_traceback"]}},
    "root": {"handlers": ["console"], "level": env.env_str("LOG_LEVEL", "INFO")},
}

# Django's database sessions, each read by a statement written once
# (workflow/sessions.py).
SESSION_ENGINE = "workflow.sessions"
# Sessions end after TANDEM_SESSION_IDLE_MINUTES without a request (a request
# pushes the expiry back, saving the session at most once a minute:
# workflow/sessions.py) and when the browser closes.
SESSION_COOKIE_AGE = env.env_int("TANDEM_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# DEBUG=0 is the production switch (README, "Production"): HTTPS only. The cookies
# are Secure and named __Host- (bound to this host, path /); in development over
# plain http they keep Django's names, as browsers refuse an insecure __Host- cookie.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = not DEBUG
if not DEBUG:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Behind a proxy that terminates TLS: SECURE_PROXY_SSL_HEADER names the header it
# sets to "https" (X-Forwarded-Proto), or SECURE_SSL_REDIRECT=0 if it redirects
# http to https itself.
SECURE_PROXY_SSL_HEADER = env.proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = env.env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# A monitoring probe on the application's own host may ask gunicorn directly.
SECURE_REDIRECT_EXEMPT = [r"^sante/$"]
if not DEBUG and not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS = ["security.W008"]
