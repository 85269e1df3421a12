"""The idle timeout without a session write on every request.

Django's SESSION_SAVE_EVERY_REQUEST rewrites the session row on each page, image
aside: one UPDATE per request, under load a tenth of the database's work. Here the
session is saved again only when its last mark is more than a minute old, which
pushes its expiry back (SESSION_COOKIE_AGE from the save): a session still ends
after TANDEM_SESSION_IDLE_MINUTES without a request, give or take that minute.
"""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

# Seconds between two saves of an active session (the timeout's precision).
MARK_EVERY = 60
MARK = "_tandem_seen"


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
