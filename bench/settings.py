"""Settings of `make bench`: Tandem's own settings under production-like conditions.

DEBUG is off (no query log kept in memory, templates through the cached loader, as
in production). The bench talks to Django through its test client over plain
http, so the redirect to https that DEBUG=0 turns on is switched off here; the
middleware stack is otherwise the production one. Nothing is sent: e-mail stays in
memory and the bench's writes are rolled back before their transaction commits.
"""

from tandem.settings import *  # noqa: F403
from tandem.settings import ALLOWED_HOSTS

DEBUG = False
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
# The application's URLs plus the floors' bare views (bench/urls.py).
ROOT_URLCONF = "bench.urls"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Pages are measured, not their log lines.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
