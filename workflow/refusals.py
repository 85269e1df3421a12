"""How a refused action is answered, in one place.

An `ActionRefused` propagates out of the view: every transaction it crosses rolls
back (the view's own, viewflow's around a task, a service's), so nothing half-done
is committed, and `RefusalMiddleware` answers it with a 409. A service's
`ValidationError` stays the view's to catch: `errors_onto` puts it on the form.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from workflow.responses import refused
from workflow.transitions import ActionRefused


class RefusalMiddleware:
    """Answer an `ActionRefused` raised by a view: the refused page (409), or
    `{"error": message}` (409) to a request that asks for JSON.

    The answer goes back through the other middleware like any response:
    workflow.middleware.AuditMiddleware journals it as a refusal.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ActionRefused):
            return None
        if wants_json(request):
            return JsonResponse({"error": str(exception)}, status=409)
        return refused(
            request,
            str(exception),
            subject=exception.subject,
            link=exception.link,
            link_label=exception.link_label,
        )


def wants_json(request) -> bool:
    """A script's request: a JSON body (the result grid's fetch), or an Accept
    header preferring JSON to HTML (a browser's `*/*` does not)."""
    if request.content_type == "application/json":
        return True
    preferred = request.get_preferred_type(["text/html", "application/json"])
    return preferred == "application/json"


@contextmanager
def refusal_about(subject):
    """Name `subject` on a refusal raised inside the block (the refused page's
    "Retour à …" link), unless the refusal names one already. `subject` may be a
    function returning it, called only on a refusal (no query when none)."""
    try:
        yield
    except ActionRefused as refusal:
        if refusal.subject is None:
            refusal.subject = subject() if callable(subject) else subject
        raise


def errors_onto(form, error: ValidationError, *, default=None) -> None:
    """Show a service's `error` on `form`: each message under the field it names,
    the others under `default` (None: above the form)."""
    by_field = getattr(error, "error_dict", None) or {None: error.error_list}
    for name, errors in by_field.items():
        form.add_error(name if name in form.fields else default, errors)
