"""The i18n, static and url tags whose constant output is kept
(workflow/templatetags): the same output as Django's tags, in each language."""

from unittest import mock

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template import Context, engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from workflow.templatetags import tandem_i18n, tandem_static, tandem_url


def _render(source: str, context=None, request=None) -> str:
    return engines["django"].from_string(source).render(context or {}, request)


def test_a_constant_message_follows_the_active_language():
    source = (
        '{% load tandem_i18n %}{% translate "Mes tâches" %}|'
        '{% translate "Mes tâches" as t %}{{ t }}'
    )
    with translation.override("fr"):
        assert _render(source) == "Mes tâches|Mes tâches"
    with translation.override("en"):
        assert _render(source) == "My tasks|My tasks"
    with translation.override("fr"):
        assert _render(source) == "Mes tâches|Mes tâches"


def test_a_kept_message_prints_as_djangos_tag_escaping_or_not():
    from django.template import Engine

    stock = Engine(libraries={"tandem_i18n": "django.templatetags.i18n"})
    for source in (
        '{% load tandem_i18n %}{% translate "<b>&</b>" %}',
        '{% load tandem_i18n %}{% autoescape off %}{% translate "<b>&</b>" %}'
        "{% endautoescape %}",
        '{% load tandem_i18n %}{% translate "100%% des cas" %}',
        '{% load tandem_i18n %}{% translate "Aujourd\'hui" as t %}{{ t }}',
    ):
        for language in ("fr", "en"):
            with translation.override(language):
                expected = stock.from_string(source).render(Context({}))
                assert _render(source) == expected == _render(source), source


def test_only_constant_messages_are_kept():
    template = engines["django"].from_string(
        '{% load tandem_i18n %}{% translate "Mes tâches" %}{% translate name %}'
        '{% translate "Mai" context "mois" %}{% translate "x" noop %}'
    )
    kinds = [
        type(node)
        for node in template.template.nodelist
        if node.token.token_type.name == "BLOCK"
    ][1:]
    assert kinds[0] is tandem_i18n.ConstantTranslateNode
    assert all(kind is not tandem_i18n.ConstantTranslateNode for kind in kinds[1:])
    with translation.override("en"):
        assert template.render({"name": "Mes tâches"}).startswith("My tasksMy tasks")


def test_a_static_address_is_the_storages_and_worked_out_once():
    tandem_static._ADDRESSES.clear()
    expected = staticfiles_storage.url("tandem/tandem.css")
    with mock.patch.object(
        staticfiles_storage, "url", wraps=staticfiles_storage.url
    ) as url:
        first = _render('{% load tandem_static %}{% static "tandem/tandem.css" %}')
        again = _render('{% load tandem_static %}{% static "tandem/tandem.css" %}')
    assert first == again == expected
    assert url.call_count == 1


@pytest.mark.parametrize(
    "source, name, args",
    [
        ('{% url "index" %}', "index", []),
        ('{% url "annuaire:organisation" code %}', "annuaire:organisation", ["23"]),
        ('{% url "evolutions:detail" pk %}', "evolutions:detail", [7]),
    ],
)
def test_an_address_is_reverses_for_each_argument(source, name, args):
    context = {"code": "23", "pk": 7}
    assert _render(source, context) == reverse(name, args=args)
    context = {"code": "57", "pk": 8}
    other = ["57"] if args == ["23"] else [8] if args else []
    assert _render(source, context) == reverse(name, args=other)


def test_an_address_for_other_arguments_is_not_kept():
    class Code:
        def __str__(self):
            return "23"

    tandem_url._reverse.cache_clear()
    request = RequestFactory().get("/")
    rendered = _render(
        '{% url "annuaire:organisation" code %}', {"code": Code()}, request
    )
    assert rendered == reverse("annuaire:organisation", args=["23"])
    assert tandem_url._reverse.cache_info().currsize == 0


def test_our_templates_load_the_kept_libraries():
    """Django's i18n and static still work in a template of ours, only slower:
    none loads them."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    loads = re.compile(r"{%\s*load\s+([^%]*?)\s*%}")
    found = [
        f"{path.relative_to(root)}: {names}"
        for path in root.glob("**/templates/**/*.html")
        if ".venv" not in path.parts
        for names in loads.findall(path.read_text())
        if {"i18n", "static"} & set(names.split())
    ]
    assert found == []
