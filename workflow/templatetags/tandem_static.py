"""Django's `static` template library, each file's address worked out once: our
templates load it as `{% load tandem_static %}`.

The shell links three files on every page; finding each one's hashed name in the
manifest and joining it to STATIC_URL was repeated on every request. The address
of a file only changes with a new deployment (a new process) or a test's settings.
"""

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Library
from django.templatetags import static

register = Library()
register.tags.update(static.register.tags)
register.filters.update(static.register.filters)

_ADDRESSES: dict[str, str] = {}


class KeptStaticNode(static.StaticNode):
    @classmethod
    def handle_simple(cls, path):
        try:
            return _ADDRESSES[path]
        except KeyError:
            address = _ADDRESSES[path] = super().handle_simple(path)
            return address


@register.tag("static")
def do_static(parser, token):
    return KeptStaticNode.handle_token(parser, token)


@receiver(setting_changed, dispatch_uid="tandem-static-addresses")
def _forget(setting, **kwargs):
    if setting in {"STATIC_URL", "STATIC_ROOT", "STORAGES", "INSTALLED_APPS"}:
        _ADDRESSES.clear()
