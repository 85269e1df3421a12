"""The forms' renderer prints the plain widgets in Python exactly as Django's
templates print them, and leaves every other widget to the templates."""

import datetime

import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from workflow.renderers import QuickRenderer

ATTRS = (
    {},
    {"id": "id_x", "class": "a b", "required": True, "disabled": False},
    {"placeholder": gettext_lazy("Rechercher"), "maxlength": 200, "autofocus": True},
    {"title": 'Jean "JJ" & <co>', "data-x": mark_safe("<b>sûr</b>"), "step": 0.5},
    {"aria-describedby": "id_x_helptext id_x_error", "aria-invalid": "true"},
)
VALUES = (None, "", "texte", 'Zoé "<b>" & co\nligne 2', 0, 12, mark_safe("<i>x</i>"))

WIDGETS = (
    forms.TextInput,
    forms.EmailInput,
    forms.NumberInput,
    forms.URLInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
    forms.HiddenInput,
    lambda: forms.PasswordInput(render_value=True),
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.CheckboxInput,
    forms.FileInput,
    forms.ClearableFileInput,
    forms.Textarea,
)


def both(widget, name, value, attrs):
    ours = widget.render(name, value, attrs, renderer=QuickRenderer())
    django = widget.render(name, value, attrs, renderer=DjangoTemplates())
    return ours, django


@pytest.mark.parametrize("make", WIDGETS)
def test_each_plain_widget_prints_what_the_template_prints(make):
    for attrs in ATTRS:
        for value in VALUES:
            ours, django = both(make(), 'champ"<', value, attrs)
            assert ours == django, (make, attrs, value)
    # Dates as a form gives them, a value that is not a string.
    ours, django = both(forms.DateInput(), "d", datetime.date(2026, 5, 7), {})
    assert ours == django


def test_user_text_is_escaped():
    ours = forms.Textarea().render(
        "m", "</textarea><script>x</script>", renderer=QuickRenderer()
    )
    assert "<script>" not in ours
    assert "&lt;/textarea&gt;&lt;script&gt;" in ours


class Upload:
    """A file already stored, as a model's FileField gives it."""

    url = "/fichiers/1/"

    def __str__(self):
        return "bilan <final>.pdf"


def test_a_file_already_uploaded_and_the_others_are_the_templates():
    """A file input showing its current file, a select, radios: the templates'."""
    quick = QuickRenderer()
    widget = forms.ClearableFileInput()
    assert widget.render("f", Upload(), {"id": "id_f"}, renderer=quick) == (
        widget.render("f", Upload(), {"id": "id_f"}, renderer=DjangoTemplates())
    )
    assert "bilan &lt;final&gt;.pdf" in widget.render("f", Upload(), renderer=quick)
    choices = [("1", "Un"), ("2", "Deux <b>")]
    for other in (forms.Select, forms.RadioSelect, forms.CheckboxSelectMultiple):
        ours, django = both(other(choices=choices), "s", "2", {"id": "id_s"})
        assert ours == django


def test_it_is_the_renderer_of_every_form():
    assert settings.FORM_RENDERER == "workflow.renderers.QuickRenderer"
    assert isinstance(get_default_renderer(), QuickRenderer)
    form = forms.Form()
    form.fields["q"] = forms.CharField(max_length=20, help_text="Aide")
    assert str(form["q"]) == (
        '<input type="text" name="q" maxlength="20" required'
        ' aria-describedby="id_q_helptext" id="id_q">'
    )
