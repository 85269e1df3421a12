"""Forms of the shell shared by both processes."""

import re
from html import escape

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

_SIX_DIGITS = re.compile(r"[0-9]{6}")


class OneTimeCodeField(forms.CharField):
    """The 6-digit code an authenticator app shows (spaces ignored)."""

    default_error_messages = {
        "required": _("Saisissez le code à 6 chiffres de votre application."),
        "invalid": _(
            "Le code est fait de 6 chiffres, tels que votre application les affiche."
        ),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Code de votre application d'authentification"))
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={
                    "autocomplete": "one-time-code",
                    "inputmode": "numeric",
                    "pattern": "[0-9 ]*",
                    "maxlength": "9",
                }
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return "".join(super().to_python(value).split())

    def validate(self, value):
        super().validate(value)
        if value and not _SIX_DIGITS.fullmatch(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class SecondFactorCodeForm(forms.Form):
    """A code of the authenticator app, to confirm or replace it."""

    code = OneTimeCodeField()


class LoginForm(AuthenticationForm):
    """Django's login form, with the username's length checked before anything.

    Django only announces the maximum length to the browser; an over-long username
    reached authentication and the login throttling's record (255 characters at
    most on PostgreSQL), which failed instead of answering.
    """

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        limit = self.fields["username"].max_length
        self.fields["username"].validators.append(MaxLengthValidator(limit))


class QuickSelect(forms.Select):
    """A single-choice list printed in one pass, every label escaped.

    Django renders each option through a template: a filter listing hundreds of
    people costs more than the page's queries. Same markup, same attributes.
    """

    def render(self, name, value, attrs=None, renderer=None):
        # Not get_context(): it builds a dictionary per option, the cost avoided.
        chosen = set(self.format_value(value))
        # The standard library's escape (what Django's own calls) without the
        # lazy-string wrapper around each call: hundreds of options per page.
        options = "".join(
            f'<option value="{escape(str(choice))}"'
            f"{' selected' if str(choice) in chosen else ''}>"
            f"{escape(str(label))}</option>"
            for choice, label in self.choices
        )
        built = self.build_attrs(self.attrs, attrs)
        attributes = flatatt(
            {key: val for key, val in built.items() if val is not False}
        )
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            attributes,
            mark_safe(options),  # noqa: S308 (every part escaped above)
        )
