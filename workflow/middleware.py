"""Request middleware of the shell."""

import secrets

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.functional import SimpleLazyObject, empty

from workflow import audit
from workflow.models import AnonymousRefusal
from workflow.throttling import client_ip

# Answers that refuse access (403, 404) or an action (409): journalled.
REFUSALS = {403, 404, 409}
# The largest id a database column holds (PostgreSQL bigint, SQLite integer).
LARGEST_ID = 2**63 - 1


class LanguageMiddleware:
    """French unless the user chose another language (cookie set by set_language).

    Django's LocaleMiddleware would follow the browser's Accept-Language; Tandem's
    users work in French whatever their browser says, and may switch explicitly.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.available:
            language = settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language
        # override() restores the previous language afterwards, so that work done
        # later in this thread (tests, background jobs) is not left in English.
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class AuditMiddleware:
    """Journal every generated document, download and refused access or action.

    Views mark documents and downloads on the response (`response.audit`, set by
    workflow.responses.pdf_response and workflow.uploads.file_download_response);
    refusals are read from the status code. A refusal answered to a logged-in
    user is one row of RefusalEntry, chained into the journal within a minute
    (audit.record_refusal, audit.fold_refusals): a request never waits for the
    chain's single-writer lock to be refused. Refusals answered to anonymous
    requests (and missing static files) are counted, not journalled: anyone can
    send them (count_refusal). Transitions and signatures are journalled by the
    services, in their own transaction.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        marked = getattr(response, "audit", None)
        user = getattr(request, "user", None)
        if marked and response.status_code == 200:
            audit.record(
                marked["action"],
                by=user,
                subject=marked["subject"],
                path=request.path[:300],
                filename=marked["filename"],
                sha256=marked["sha256"],
            )
        elif response.status_code in REFUSALS and (
            user is None
            or not user.is_authenticated
            or request.path.startswith(settings.STATIC_URL)
        ):
            count_refusal(request, response.status_code)
        elif response.status_code in REFUSALS:
            audit.record_refusal(
                by=user,
                method=request.method,
                path=request.path,
                status=response.status_code,
            )
        return response


def count_refusal(request, status: int) -> None:
    """Add one to the day's counter of this path, client address and status.

    Without the journal's lock and race-free on both engines: an UPDATE that adds
    one, or the row's creation (in a savepoint: a concurrent creation makes it
    fail, and the UPDATE is tried again). Past TANDEM_ANONYMOUS_REFUSAL_ROWS rows in
    a day, new keys are added to the day's row « autres ».
    """
    now = timezone.now()
    key = {
        "day": timezone.localdate(now),
        "path": request.path[:200],
        "address": (client_ip(request) or "")[:45],
        "status": status,
    }
    if _add_one(key, now):
        return
    day_rows = AnonymousRefusal.objects.filter(day=key["day"]).count()
    if day_rows >= settings.TANDEM_ANONYMOUS_REFUSAL_ROWS:
        key.update(path=AnonymousRefusal.OTHER, address="")
        if _add_one(key, now):
            return
    try:
        with transaction.atomic():
            AnonymousRefusal.objects.create(**key, count=1, last_at=now)
    except IntegrityError:  # created by a concurrent request meanwhile
        _add_one(key, now)


def _add_one(key: dict, now) -> bool:
    return bool(
        AnonymousRefusal.objects.filter(**key).update(count=F("count") + 1, last_at=now)
    )


class OutOfRangeIdMiddleware:
    """404 for an id no database column can hold, on every route.

    Django's `<int:...>` converter (ours and viewflow's) accepts any number of
    digits; past 2**63 - 1 the lookups fail with OverflowError (a 500) instead of
    finding nothing. Checked once here, on the resolved view's arguments, rather
    than by a converter of our own that viewflow's patterns would not use.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        values = [*view_args, *view_kwargs.values()]
        if any(isinstance(value, int) and abs(value) > LARGEST_ID for value in values):
            raise Http404
        return None


class SignedInUserMiddleware:
    """`request.user` as the user itself, once the login check has read it.

    Django gives a request a lazy stand-in for its user, read on first use: every
    later `request.user.…` (dozens per page: access rules, templates, menus)
    goes through the stand-in's proxy. Placed after LoginRequiredMiddleware,
    which has read it for every page that needs a login; a page that does not
    (the login page) keeps the stand-in, read only if the page uses it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject) and user._wrapped is not empty:
            request.user = user._wrapped
        return None


# Scripts only from Tandem's own static files, or inline with this response's nonce;
# inline styles stay allowed (viewflow's markup has style attributes).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "font-src 'self'; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on every HTML response, with a fresh script nonce.

    The nonce is `request.csp_nonce`, and `csp_nonce` in templates (context
    processor); the base template also puts it in <meta name="csp-nonce"> for Turbo.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY.format(nonce=request.csp_nonce),
            )
        return response


class FrenchNotFoundMiddleware:
    """Under DEBUG, Django answers a 404 with its technical page (English, every
    URL pattern listed): Tandem's own page instead, as in production. Without
    DEBUG, Django's handler already renders templates/404.html."""

    def __init__(self, get_response):
        if not settings.DEBUG:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and response.get("Content-Type", "").startswith(
            "text/html"
        ):
            french = render(request, "404.html", status=404)
            for name in ("audit",):
                if hasattr(response, name):
                    setattr(french, name, getattr(response, name))
            return french
        return response
