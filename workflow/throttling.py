"""Login throttling with django-axes: whose address counts, the French lockout page,
and the password asked again before a signature."""

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Max
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR or, behind TANDEM_PROXY_COUNT reverse
    proxies, the address the outermost of them saw.

    X-Forwarded-For is read from the right: what the client itself wrote at its left
    end is not to be trusted.
    """
    count = settings.TANDEM_PROXY_COUNT
    forwarded = [
        address.strip()
        for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if address.strip()
    ]
    if count and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of a refused login: why, and from when to retry."""
    cool_off = get_cool_off(request)
    last_failure = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=getattr(request, "axes_ip_address", None),
    ).aggregate(last=Max("attempt_time"))["last"]
    retry_at = (last_failure or timezone.now()) + cool_off
    return render(
        request,
        "registration/lockout.html",
        {
            "retry_at": timezone.localtime(retry_at),
            "minutes": int(cool_off.total_seconds() // 60),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


def password_confirmed(request, password: str) -> bool:
    """The logged-in user typed their own password again (to sign, for instance).

    Checked through authenticate(), so django-axes counts a wrong password as a
    failed login of this user from this address, and refuses while they are locked
    out: a session left open cannot be used to guess its owner's password.
    """
    user = authenticate(
        request, username=request.user.get_username(), password=password
    )
    return user is not None and user.pk == request.user.pk


@receiver(user_locked_out, dispatch_uid="tandem_journal_lockout")
def journal_lockout(sender, request, username, ip_address, **kwargs):
    """A username locked out from an address goes into the audit journal, once.

    django-axes sends the signal again at every attempt refused during the lockout;
    only the attempt that caused it has counted the failures.
    """
    from workflow import audit
    from workflow.models import AuditEntry

    if getattr(request, "axes_failures_since_start", None) is None:
        return
    audit.record(
        AuditEntry.Action.LOCKOUT,
        username=(username or "")[:150],
        address=ip_address or "",
        path=request.path[:300],
        failures=request.axes_failures_since_start,
    )
