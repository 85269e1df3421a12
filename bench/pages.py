"""Pages that exist for the bench alone (mounted by bench/urls.py, never by
tandem/urls.py)."""

from functools import cache

from django.http import HttpResponse
from django.template import engines


@cache
def _empty_page():
    # Compiled once; the shell itself comes through the cached loader.
    return engines["django"].from_string('{% extends "tandem/page.html" %}')


def shell_page(request):
    """A page with an empty body in Tandem's shell (tandem/page.html, with the
    context processors: menu, unread-notification count, CSP nonce, messages):
    what every page of ours costs before its own content."""
    return HttpResponse(_empty_page().render({}, request))
