"""Shared form pieces."""

from django import forms
from django.test.html import parse_html

from workflow.forms import QuickSelect

CHOICES = [("", "Tous"), ("1", "Zoé <b>"), ("2", 'Jean "JJ" & co'), ("3", "Ana")]


def test_quick_select_prints_what_django_prints_escaped(db):
    attrs = {"id": "id_owner", "class": "filtre"}
    for value in (None, "", "2", 3):
        ours = QuickSelect(choices=CHOICES).render("owner", value, attrs)
        django = forms.Select(choices=CHOICES).render("owner", value, attrs)
        assert parse_html(ours) == parse_html(django), (value, ours)
    assert "Zoé &lt;b&gt;" in QuickSelect(choices=CHOICES).render("o", None)


def test_quick_select_printed_once_still_follows_its_choices_and_value():
    """The options are kept per choices and value: another value, a label
    changed (a person renamed) each print their own."""
    first = QuickSelect(choices=CHOICES).render("o", "2")
    assert 'value="2" selected' in first and 'value="3" selected' not in first
    again = QuickSelect(choices=CHOICES).render("o", "3")
    assert 'value="3" selected' in again and 'value="2" selected' not in again
    renamed = [*CHOICES[:3], ("3", "Ana Dupont")]
    assert "Ana Dupont" in QuickSelect(choices=renamed).render("o", "3")
    assert QuickSelect(choices=CHOICES).render("o", "2") == first
