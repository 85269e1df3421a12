"""Values every page of the shell shows."""

from workflow.notifications import unread_count


def shell(request) -> dict:
    """The user's unread notifications count (one query, only when logged in)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user)}


def csp_nonce(request) -> dict:
    """This response's script nonce (set by the Content-Security-Policy middleware)."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
