"""The forms' renderer (settings.FORM_RENDERER): Django's own, except for the
plainest widgets, printed in Python.

Django renders every widget through a template: an input is three of them
(text.html, input.html, attrs.html), about a tenth of a millisecond of CPU each
time, and the forms of « Mes tâches », the lists and a change request's page
print several on every view. The inputs, the textarea and the file input with
no file yet come out here character for character as Django's templates print
them (tests/workflow/test_renderers.py compares both on every kind); anything
else (a select, a file already uploaded, a template a form names) is Django's.
"""

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

_WIDGETS = "django/forms/widgets/"
# The templates that are input.html and nothing else.
_INPUTS = frozenset(
    f"{_WIDGETS}{name}.html"
    for name in (
        "input",
        "text",
        "email",
        "number",
        "password",
        "hidden",
        "search",
        "url",
        "tel",
        "color",
        "date",
        "datetime",
        "time",
        "file",
        "checkbox",
    )
)
_TEXTAREA = f"{_WIDGETS}textarea.html"
_CLEARABLE_FILE = f"{_WIDGETS}clearable_file_input.html"


def attributes_html(attrs: dict) -> str:
    """attrs.html: in their order, ` name="value"`, ` name` when True, nothing
    when False; names and values escaped unless already safe."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict, *, with_value: bool = True) -> str:
    value = widget["value"]
    shown = (
        f' value="{conditional_escape(value)}"'
        if with_value and value is not None
        else ""
    )
    return (
        f'<input type="{conditional_escape(widget["type"])}"'
        f' name="{conditional_escape(widget["name"])}"'
        f"{shown}{attributes_html(widget['attrs'])}>"
    )


class QuickRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        widget = context.get("widget")
        if widget is not None:
            if template_name in _INPUTS:
                return mark_safe(_input(widget))  # noqa: S308 - every part escaped
            if template_name == _TEXTAREA:
                value = widget["value"]
                return mark_safe(  # noqa: S308 - every part escaped
                    f'<textarea name="{conditional_escape(widget["name"])}"'
                    f"{attributes_html(widget['attrs'])}>\n"
                    f"{conditional_escape(value) if value else ''}</textarea>"
                )
            if template_name == _CLEARABLE_FILE and not widget.get("is_initial"):
                return mark_safe(  # noqa: S308 - every part escaped
                    _input(widget, with_value=False)
                )
        return super().render(template_name, context, request)
