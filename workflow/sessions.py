"""The idle timeout without a session write on every request.

Django's SESSION_SAVE_EVERY_REQUEST rewrites the session row on each page, image
aside: one UPDATE per request, under load a tenth of the database's work. Here the
session is saved again only when its last mark is more than a minute old, which
pushes its expiry back (SESSION_COOKIE_AGE from the save): a session still ends
after TANDEM_SESSION_IDLE_MINUTES without a request, give or take that minute.
"""

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends import db
from django.dispatch import receiver
from django.utils import timezone

from workflow import statements
from workflow.signin import BACKEND, DJANGO_MODEL_BACKEND

# Seconds between two saves of an active session (the timeout's precision).
MARK_EVERY = 60
MARK = "_tandem_seen"


class SessionStore(db.SessionStore):
    """Django's database sessions, the row of each request read by a statement
    written once (workflow/statements.py). Writes stay Django's."""

    def load(self):
        data = self._stored_data()
        if data is None:
            # Unknown or expired: the next save creates a new key (Django's rule).
            self._session_key = None
            return {}
        session = self.decode(data)
        # Signed in before workflow.signin.MemberBackend replaced Django's
        # ModelBackend: the same accounts, read by ours.
        if session.get(BACKEND_SESSION_KEY) == DJANGO_MODEL_BACKEND:
            session[BACKEND_SESSION_KEY] = BACKEND
        return session

    def _stored_data(self) -> str | None:
        if not self.session_key:
            return None
        model = self.model
        connection, sql = statements.prepared(
            "session", model, lambda connection: _session_sql(model, connection)
        )
        expire_date = model._meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    self.session_key,
                    expire_date.get_db_prep_value(timezone.now(), connection),
                ],
            )
            row = cursor.fetchone()
        return row[0] if row else None


def _session_sql(model, connection) -> str:
    column = statements.columns(model, connection)
    return (
        f"SELECT {column['session_data']}"  # noqa: S608 - names from the model
        f" FROM {statements.table(model, connection)}"
        f" WHERE {column['session_key']} = %s AND {column['expire_date']} > %s"
    )


def _now() -> int:
    return int(timezone.now().timestamp())


@receiver(user_logged_in, dispatch_uid="tandem-session-mark")
def mark_at_login(sender, request, user, **kwargs):
    """The login saves the session anyway: it carries its first mark, and the first
    page after it writes nothing."""
    session = getattr(request, "session", None)
    if session is not None:
        session[MARK] = _now()


class IdleMarkMiddleware:
    """After SessionMiddleware: mark a signed-in session as seen, once a minute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        # Not for anonymous visitors (no session is created for them), nor for a
        # session just ended (logout flushed it) or already being saved.
        if (
            session is None
            or session.modified
            or user is None
            or not user.is_authenticated
        ):
            return response
        now = _now()
        if now - session.get(MARK, 0) >= MARK_EVERY:
            session[MARK] = now
        return response
