"""Forms of the shell shared by both processes."""

import re
from functools import lru_cache
from html import escape

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
)
from django.core.validators import MaxLengthValidator
from django.forms.models import ModelChoiceIterator
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from workflow import statements
from workflow.renderers import attributes_html

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


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, the current password checked like a login.

    Through workflow.throttling.password_confirmed: a wrong one counts as a failed
    login of the user from this address, and after TANDEM_LOGIN_FAILURE_LIMIT of
    them django-axes refuses (its middleware then shows the lockout page). A session
    left open cannot be used to guess its owner's password.
    """

    def __init__(self, user, *args, request=None, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self):
        from workflow.throttling import password_confirmed

        old_password = self.cleaned_data["old_password"]
        if not password_confirmed(self.request, old_password):
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's password reset, its e-mail written to the notification outbox and
    sent by the worker after commit: the page answers as fast for a known address
    as for an unknown one (workflow.passwords)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        from workflow.passwords import queue_reset_message

        queue_reset_message(context["user"], to_email, context["uid"], context["token"])


@lru_cache(maxsize=128)
def _options(choices: tuple[tuple[str, str], ...], chosen: frozenset) -> str:
    """A list's options, printed once for the same choices (their labels in the
    page's language) and choice: the same filters come back on every page."""
    # The standard library's escape (what Django's own calls) without the
    # lazy-string wrapper around each call: hundreds of options per page.
    return "".join(
        f'<option value="{escape(choice)}"'
        f"{' selected' if choice in chosen else ''}>{escape(label)}</option>"
        for choice, label in choices
    )


class QuickSelect(forms.Select):
    """A single-choice list printed in one pass, every label escaped.

    Django renders each option through a template: a filter listing hundreds of
    people costs more than the page's queries. Same markup, same attributes.
    """

    def render(self, name, value, attrs=None, renderer=None):
        # Not get_context(): it builds a dictionary per option, the cost avoided.
        options = _options(
            tuple((str(choice), str(label)) for choice, label in self.choices),
            frozenset(self.format_value(value)),
        )
        # The attributes as Django's select.html prints them (attrs.html).
        attributes = attributes_html(self.build_attrs(self.attrs, attrs))
        return mark_safe(  # noqa: S308 - every part escaped
            f'<select name="{conditional_escape(name)}"{attributes}>{options}</select>'
        )


class _ValueOptions(ModelChoiceIterator):
    """A ModelChoiceField's options from bare values (options_from_values)."""

    def __iter__(self):
        field = self.field
        if field.empty_label is not None:
            yield ("", field.empty_label)
        queryset, columns = self.queryset, field.option_columns
        if field.option_key is None:
            rows = queryset.values_list(*columns)
        else:
            rows = statements.compiled_rows(
                ("options", *field.option_key, *columns),
                queryset.model,
                lambda: queryset.values_list(*columns),
            )
        for row in rows:
            yield (row[0], field.option_label(row))


def options_from_values(field, columns: tuple[str, ...], label, key=None) -> None:
    """Let the ModelChoiceField `field` read its options as bare values: the
    queryset's `columns` (the pk first), `label(row)` for each option's text.

    A filter listing a hundred people and a hundred organisations otherwise builds
    a model instance per option on every page. The chosen value is still checked
    against the queryset (ModelChoiceField.to_python). With a `key` (a tuple
    naming everything the queryset depends on: the user's conditions…), its
    statement is compiled once per key (workflow.statements.compiled_rows)."""
    field.option_columns, field.option_label = columns, label
    field.option_key = key
    field.iterator = _ValueOptions
    # The widget took its options from the field when the queryset was set.
    field.widget.choices = field.choices


class EnrolmentPasswordForm(forms.Form):
    """Before a first authenticator app: the account's password again."""

    password = forms.CharField(
        label=_("Votre mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Saisissez votre mot de passe.")},
    )


class MailboxCodeForm(forms.Form):
    """The 8-digit code e-mailed to the user before a first enrolment."""

    mail_code = forms.CharField(
        label=_("Code reçu par courriel"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
        error_messages={"required": _("Saisissez le code reçu par courriel.")},
    )
