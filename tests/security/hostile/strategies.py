"""Hypothesis strategies of hostile values (text, numbers, dates, ids, files,
forged fields), and of the values of a form field drawn from its type."""

import string
from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import strategies as st

from workflow.demo import DEMO_PASSWORD
from workflow.forms import OneTimeCodeField

# --- Hostile values -------------------------------------------------------------


# Markup that must never come back raw in a page (checked on every HTML answer).
RAW_MARKUP = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="/etc/passwd"/>',
)
PAYLOADS = (
    *RAW_MARKUP,
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<para><font color=red size=40>reportlab</font></para>",
    '<a href="javascript:alert(1)">lien</a>',
    "</textarea><script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% debug %}",
    "%(x)s %s %d %n",
    "{0} {name}",
    "'; DROP TABLE evolutions_changerequest; --",
    '" OR 1=1 --',
    "${jndi:ldap://x}",
    "../../../../etc/passwd",
    "a\x00b",
    "\x00",
    "\u202eexe.pdf",
    "\u200f\u200e\u2066",
    "😀🇫🇷👩‍👩‍👧",
    "\r\n\r\n",
    "\t\x0b\x0c\x1b[31m\x7f",
    "\ufeff",
    "&lt;script&gt;",
    "&#60;script&#62;",
    "\\",
    " ",
    "",
    "NaN",
    "-Infinity",
)
LONG_TEXTS = ("A" * 10_000, "<b>" * 3_500, "é\u0301" * 5_000, "x\n" * 5_000)


def hostile_text() -> st.SearchStrategy[str]:
    """Text nobody should type: markup, template syntax, controls, NUL, RTL
    marks, emoji, 10k characters (no lone surrogate: it cannot be sent)."""
    random_text = st.text(st.characters(codec="utf-8"), max_size=30)
    return st.one_of(
        st.sampled_from(PAYLOADS),
        random_text,
        # By index: a failure report then shows the strategy, not 40k characters.
        st.integers(0, len(LONG_TEXTS) - 1).map(LONG_TEXTS.__getitem__),
        st.tuples(st.sampled_from(PAYLOADS), random_text).map("".join),
    )


def plain_text(max_length: int | None) -> st.SearchStrategy[str]:
    """Hostile text that a text field may accept (no NUL, within its length)."""
    limit = max_length or 12_000
    return hostile_text().map(lambda text: text.replace("\x00", "")[:limit])


def hostile_number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "NaN",
                "nan",
                "Infinity",
                "-Infinity",
                "inf",
                "1e309",
                "-1e309",
                "1e-400",
                "-0",
                "0x10",
                "1,5",
                "1 000",
                "\u0661\u0662",
                "\uff11\uff12",
                "9" * 60,
                "-" + "9" * 60,
                "0.0000000000000000000001",
            ]
        ),
        st.integers(-(10**30), 10**30).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.floats().map(repr),
    )


def hostile_date() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([date.min, date.max, date(1, 1, 2), date(9999, 12, 30)]).map(
            date.isoformat
        ),
        st.dates().map(date.isoformat),
        st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
        st.sampled_from(
            [
                "0000-00-00",
                "0000-01-01",
                "10000-01-01",
                "-0001-01-01",
                "2024-02-30",
                "2023-13-01",
                "2023-00-10",
                "99999-99-99",
                "31/12/9999",
                "00/00/0000",
                "2024-1-1",
                "today",
                "1e5",
            ]
        ),
    )


def hostile_id() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.sampled_from(
            ["0", "-1", "1.5", "1e3", "abc", "", " 1", "\u0661", "0x1", "None"]
        ),
    )


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CSV_BYTES = (
    "référence;titre;action;résultat attendu\n"
    'CT-1;<script>alert(1)</script>;"a\nb";%(x)s\n'
).encode()
FILE_NAMES = (
    "preuve.txt",
    "cas.csv",
    "cas.xlsx",
    "rapport.pdf",
    "capture.png",
    "../../../etc/passwd",
    "..\\..\\boot.ini",
    "<script>alert(1)</script>.pdf",
    '"><img src=x onerror=alert(1)>.txt',
    "\u202etxt.exe",
    "a\x00.pdf",
    "programme.exe",
    "CON.txt",
    ".pdf",
    "sans-extension",
    "x" * 300 + ".csv",
    "é" * 200 + ".txt",
    "rapport.PDF.",
)


def hostile_file() -> st.SearchStrategy[SimpleUploadedFile]:
    names = st.one_of(
        st.sampled_from(FILE_NAMES),
        st.tuples(
            plain_text(60), st.sampled_from([".pdf", ".csv", ".txt", ".xlsx", ""])
        ).map("".join),
    )
    contents = st.one_of(
        st.sampled_from([PDF_BYTES, PNG_BYTES, CSV_BYTES, b"", b"PK\x03\x04" * 8]),
        st.binary(max_size=512),
        plain_text(400).map(str.encode),
    )
    return st.builds(_upload, names, contents)


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    """A file to post under `name`, or a neutral name where Django's test client
    itself refuses it ("", "..")."""
    try:
        return SimpleUploadedFile(name, content)
    except SuspiciousFileOperation:
        return SimpleUploadedFile("fichier", content)


# What `_forged` adds: fields no form declares, as a forged POST would send them.
FORGED_NAMES = (
    "organisation",
    "status",
    "owner",
    "order_owner",
    "by",
    "pk",
    "id",
    "version",
    "select_all",
    "_cancel_process",
    "csrfmiddlewaretoken",
    "next",
    "page",
)

MISSING = object()  # the field is left out of the POST


def _forged() -> st.SearchStrategy[dict]:
    names = st.one_of(
        st.sampled_from(FORGED_NAMES), st.text(string.printable, min_size=1, max_size=8)
    )
    values = st.one_of(hostile_text(), st.lists(hostile_text(), max_size=3))
    return st.dictionaries(names, values, max_size=2)


# --- Values of a form field, from its type ------------------------------------


@dataclass
class Context:
    """What plausible values depend on, beyond the form."""

    totp_code: str = "000000"


def _choice_keys(choices) -> list[str]:
    keys = []
    for key, label in choices:
        if isinstance(label, list | tuple):
            keys += _choice_keys(label)
        elif str(key) != "":
            keys.append(str(key))
    return keys


def _model_ids(model_field: forms.ModelChoiceField) -> st.SearchStrategy[str]:
    """Ids the field offers, ids of objects it does not offer (another
    organisation's, another request's…) and nonsense."""
    key = model_field.to_field_name or "pk"
    offered = model_field.queryset
    model = offered.model
    allowed = list(offered.order_by(key).values_list(key, flat=True)[:4])
    others = model._default_manager.exclude(**{f"{key}__in": offered.values(key)})
    foreign = [
        *others.order_by(key).values_list(key, flat=True)[:3],
        *others.order_by(f"-{key}").values_list(key, flat=True)[:3],
    ]
    choices = [
        st.sampled_from([str(v) for v in ids]) for ids in (allowed, foreign) if ids
    ]
    return st.one_of(*choices, hostile_id())


def _plausible(form_field: forms.Field, context: "Context") -> st.SearchStrategy:
    """Values of the field's type that it might accept (and a few it won't)."""
    f = forms
    if isinstance(form_field, f.FileField):
        good = st.builds(
            _upload,
            st.sampled_from(["preuve.txt", "cas.csv"]),
            st.sampled_from([CSV_BYTES, "Notes <b>é</b>\n".encode()]),
        )
        return st.one_of(good, hostile_file())
    if isinstance(form_field, f.ModelMultipleChoiceField):
        return st.lists(_model_ids(form_field), max_size=3)
    if isinstance(form_field, f.ModelChoiceField):
        return _model_ids(form_field)
    if isinstance(form_field, f.MultipleChoiceField):
        keys = _choice_keys(form_field.choices)
        item = st.sampled_from(keys) if keys else hostile_id()
        return st.lists(st.one_of(item, hostile_text()), max_size=4)
    if isinstance(form_field, f.ChoiceField):
        keys = _choice_keys(form_field.choices)
        return st.sampled_from(keys) if keys else hostile_text()
    if isinstance(form_field, f.DateField):
        today = timezone.localdate()
        near = st.integers(-400, 400).map(lambda n: today + timedelta(days=n))
        return st.one_of(near.map(date.isoformat), hostile_date())
    if isinstance(form_field, f.DecimalField | f.IntegerField | f.FloatField):
        places = getattr(form_field, "decimal_places", None) or 0
        sane = st.decimals(0, 999, places=places, allow_nan=False)
        return st.one_of(sane.map(str), hostile_number())
    if isinstance(form_field, f.BooleanField):
        return st.sampled_from(["on", "", "false", "0"])
    if isinstance(form_field, f.EmailField):
        return st.sampled_from(
            ["cd23.porteur@demo.tandem.invalid", "a@b", "<script>@x.fr", "x" * 300]
        )
    if isinstance(form_field, OneTimeCodeField):
        return st.sampled_from([context.totp_code, "000000", "123 456", "12345"])
    if isinstance(form_field.widget, f.PasswordInput):
        return st.sampled_from([DEMO_PASSWORD, "tandem-demo ", "x" * 4096])
    if isinstance(form_field, f.CharField):
        return plain_text(form_field.max_length)
    return hostile_text()


def _acceptable(form_field: forms.Field, initial, context: "Context"):
    """Values the field accepts: hostile text, but of the right type, required
    ones present, choices among those offered (the service may still refuse)."""
    f = forms
    if initial is not None and isinstance(form_field.widget, f.HiddenInput):
        return st.just(str(initial))  # a formset's management form
    if isinstance(form_field, f.FileField):
        contents = st.one_of(
            st.just(CSV_BYTES), plain_text(300).map(lambda t: f"Notes {t}".encode())
        )
        return st.builds(_upload, st.sampled_from(["preuve.txt", "cas.csv"]), contents)
    if isinstance(form_field, f.ModelChoiceField):
        key = form_field.to_field_name or "pk"
        offered = [
            str(v)
            for v in form_field.queryset.order_by(key).values_list(key, flat=True)[:4]
        ]
        if isinstance(form_field, f.ModelMultipleChoiceField):
            return (
                st.lists(st.sampled_from(offered), max_size=2)
                if offered
                else st.just([])
            )
        return st.sampled_from(offered) if offered else hostile_id()
    keys = _choice_keys(getattr(form_field, "choices", ()))
    if isinstance(form_field, f.MultipleChoiceField) and keys:
        return st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)
    if isinstance(form_field, f.ChoiceField) and keys:
        return st.sampled_from(keys)
    if isinstance(form_field, f.DateField):
        today = timezone.localdate()
        days = st.integers(1, 60).map(lambda n: today + timedelta(days=n))
        return days.map(date.isoformat)
    if (
        isinstance(form_field, f.CharField)
        and not isinstance(form_field, OneTimeCodeField)
        and not isinstance(form_field.widget, f.PasswordInput)
    ):
        # A required field gets some text besides what may be only blanks.
        return plain_text(form_field.max_length).map(
            lambda text: (
                text if text.strip() else f"texte{text}"[: form_field.max_length]
            )
        )
    return _plausible(form_field, context)


def _wild(form_field: forms.Field, context: "Context") -> st.SearchStrategy:
    plausible = _plausible(form_field, context)
    junk = hostile_file() if isinstance(form_field, forms.FileField) else hostile_text()
    # Plausible values twice as often; otherwise garbage, lists, or nothing.
    return st.one_of(
        plausible,
        plausible,
        junk,
        st.lists(st.one_of(plausible, junk), min_size=2, max_size=3),
        st.just(MISSING),
    )


def _fields_of(form, context: "Context", *, calm: bool) -> dict[str, st.SearchStrategy]:
    """Posted name → values, for every field of a form (or of a formset: its
    management form and its first two forms). Calm: values the fields accept."""
    if isinstance(form, forms.BaseFormSet):
        parts = [form.management_form, *form.forms[:2]]
        return {
            name: values
            for part in parts
            for name, values in _fields_of(part, context, calm=calm).items()
        }
    return {
        form.add_prefix(name): (
            _acceptable(
                form_field, form.get_initial_for_field(form_field, name), context
            )
            if calm
            else _wild(form_field, context)
        )
        for name, form_field in form.fields.items()
    }
