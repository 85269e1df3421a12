"""Request middleware of the shell."""

import secrets

from django.conf import settings
from django.utils import translation

from workflow import audit
from workflow.models import AuditEntry

# Answers that refuse access (403, 404) or an action (409): journalled.
REFUSALS = {403, 404, 409}


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
    refusals are read from the status code. Transitions and signatures are
    journalled by the services, in their own transaction.
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
        elif response.status_code in REFUSALS:
            audit.record(
                AuditEntry.Action.REFUSED,
                by=user,
                method=request.method,
                path=request.path[:300],
                status=response.status_code,
            )
        return response


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
