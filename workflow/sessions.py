"""The idle timeout without a session write on every request.

Django's SESSION_SAVE_EVERY_REQUEST rewrites the session row on each page, image
aside: one UPDATE per request, under load a tenth of the database's work. Here the
session is saved again only when its last mark is more than a minute old, which
pushes its expiry back (SESSION_COOKIE_AGE from the save): a session still ends
after TANDEM_SESSION_IDLE_MINUTES without a request, give or take that minute.
"""

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends import db
from django.dispatch import receiver
from django.utils import timezone

from workflow import signin, statements
from workflow.signin import BACKEND, DJANGO_MODEL_BACKEND

# Seconds between two saves of an active session (the timeout's precision).
MARK_EVERY = 60
MARK = "_tandem_seen"


class SessionStore(db.SessionStore):
    """Django's database sessions in workflow.UserSession, whose row carries the
    signed-in user's id: each request reads its session, its user and their
    memberships with one statement written once (workflow.signin), and
    MemberBackend takes that user instead of reading it again. Writes stay
    Django's, the user's id written beside the data."""

    @classmethod
    def get_model_class(cls):
        from workflow.models import UserSession

        return UserSession

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        instance.user_id = int(user_id) if str(user_id).isdigit() else None
        return instance

    def load(self):
        signin.read_with_session(None, None)  # nothing from an earlier request
        rows, connection, readers = self._stored_rows()
        if not rows:
            # Unknown or expired: the next save creates a new key (Django's rule).
            self._session_key = None
            return {}
        session = self.decode(rows[0][0])
        # Signed in before workflow.signin.MemberBackend replaced Django's
        # ModelBackend: the same accounts, read by ours.
        if session.get(BACKEND_SESSION_KEY) == DJANGO_MODEL_BACKEND:
            session[BACKEND_SESSION_KEY] = BACKEND
        user = signin.user_from_rows(rows, connection, readers, skip=1)
        # Django still checks the id the data names and the session's hash.
        if user is not None and str(user.pk) == str(session.get(SESSION_KEY)):
            signin.read_with_session(user.pk, user)
        return session

    def _stored_rows(self) -> tuple:
        if not self.session_key:
            return [], None, None
        model = self.model
        connection, (sql, *readers) = statements.prepared(
            "session", model, lambda c: signin.session_statement(model, c)
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
            return cursor.fetchall(), connection, readers


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
