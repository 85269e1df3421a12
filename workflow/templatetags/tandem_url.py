"""`{% url %}` with its addresses kept (a built-in of the template engine, after
Django's own: TEMPLATES' OPTIONS).

reverse() walks the URL configuration's namespaces on each call, some 30 µs; a
page printed a few such links on every request. An address depends on the name,
the arguments, the namespace the page was reached through and the URL
configuration: kept under all of them (the configuration's resolver object, which
Django builds again when the configuration changes), for simple arguments only
(numbers and text), at most URLS_KEPT.
"""

from functools import lru_cache

from django.template import Library, defaulttags
from django.urls import NoReverseMatch, get_resolver, get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from django.utils.html import conditional_escape

register = Library()

URLS_KEPT = 4096
_SIMPLE = (int, str)


@lru_cache(maxsize=URLS_KEPT)
def _reverse(view_name, args, kwargs, current_app, resolver, prefix):
    return django_reverse(
        view_name, args=args, kwargs=dict(kwargs), current_app=current_app
    )


def reverse(view_name, args, kwargs, current_app) -> str:
    if not all(
        type(value) in _SIMPLE for value in (view_name, *args, *kwargs.values())
    ):
        return django_reverse(
            view_name, args=args, kwargs=kwargs, current_app=current_app
        )
    return _reverse(
        view_name,
        tuple(args),
        tuple(sorted(kwargs.items())),
        current_app,
        get_resolver(get_urlconf()),
        get_script_prefix(),
    )


class KeptURLNode(defaulttags.URLNode):
    def render(self, context):
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag("url")
def url(parser, token):
    node = defaulttags.url(parser, token)
    node.__class__ = KeptURLNode
    return node
