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
