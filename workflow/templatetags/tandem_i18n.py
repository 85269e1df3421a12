"""Django's `i18n` template library, a constant `{% translate "…" %}` printed from
a table per language: our templates load it as `{% load tandem_i18n %}`.

A page holds a few dozen such tags; each one looked its text up through the
active translation (a context-local read and two catalogue searches) on every
request, about a tenth of a page's template time (BENCHMARKS.md). The text of a
constant message only depends on the language and on whether the page escapes:
it is worked out once per language, exactly as Django's tag does, then read from
the table. A variable, a filter, `noop` or a `context` goes through Django's tag.
"""

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Library
from django.templatetags import i18n
from django.utils.translation import get_language

register = Library()
register.tags.update(i18n.register.tags)
register.filters.update(i18n.register.filters)

# (language, autoescape, message) → the text the tag prints. Bounded by the
# messages written in the templates, times two languages.
_PRINTED: dict[tuple, str] = {}


class ConstantTranslateNode(i18n.TranslateNode):
    """`{% translate "message" %}` or `{% translate "message" as name %}`."""

    def render(self, context):
        key = (get_language(), context.autoescape, self.filter_expression.var.literal)
        try:
            value = _PRINTED[key]
        except KeyError:
            value = _PRINTED[key] = self._printed(context)
        if self.asvar:
            context[self.asvar] = value
            return ""
        return value

    def _printed(self, context) -> str:
        """What Django's TranslateNode.render prints (without `as`)."""
        self.filter_expression.var.translate = True
        output = self.filter_expression.resolve(context)
        value = i18n.render_value_in_context(output, context)
        is_safe = isinstance(value, i18n.SafeData)
        value = value.replace("%%", "%")
        return i18n.mark_safe(value) if is_safe else value


def _constant(node) -> bool:
    expression = node.filter_expression
    return (
        type(node) is i18n.TranslateNode
        and not node.noop
        and node.message_context is None
        and not expression.filters
        and isinstance(getattr(expression.var, "literal", None), str)
    )


@register.tag("translate")
@register.tag("trans")
def do_translate(parser, token):
    node = i18n.do_translate(parser, token)
    if _constant(node):
        node.__class__ = ConstantTranslateNode
    return node


@receiver(setting_changed, dispatch_uid="tandem-i18n-printed")
def _forget(setting, **kwargs):
    """Tests that change the languages or the catalogues read them again."""
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _PRINTED.clear()
