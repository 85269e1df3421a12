"""The shell's parts printed in Python (workflow/shellhtml.py): the main menu's items,
the language options and the shell's links reversed once."""

import pytest
from django.urls import NoReverseMatch, clear_url_caches, set_script_prefix
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from workflow import shellhtml


def entry(label, url, *, current="", key=""):
    return {"label": label, "url": url, "current": current, "key": key}


def test_a_menu_label_and_url_are_escaped():
    html = shellhtml.main_menu_html(
        [entry("Demandes d'évolution <b>&</b>", '/a/?x="1"&y=2')], 0
    )

    assert html == (
        '<li><a href="/a/?x=&quot;1&quot;&amp;y=2">'
        "Demandes d&#x27;évolution &lt;b&gt;&amp;&lt;/b&gt;</a></li>"
    )


def test_a_label_marked_safe_is_printed_as_the_template_printed_it():
    html = shellhtml.main_menu_html([entry(mark_safe("<em>Recettes</em>"), "/r/")], 0)

    assert html == '<li><a href="/r/"><em>Recettes</em></a></li>'


def test_the_page_and_its_section_are_marked_and_no_other_entry():
    html = shellhtml.main_menu_html(
        [
            entry("Mes tâches", "/"),
            entry("Demandes", "/evolutions/", current="true"),
            entry("Versions", "/evolutions/versions/", current="page"),
        ],
        0,
    )

    assert html.split("\n") == [
        '<li><a href="/">Mes tâches</a></li>',
        '<li><a href="/evolutions/" aria-current="true">Demandes</a></li>',
        '<li><a href="/evolutions/versions/" aria-current="page">Versions</a></li>',
    ]


@pytest.mark.parametrize(
    ("language", "hidden"), [("fr", " non lues"), ("en", " unread")]
)
def test_the_badge_counts_the_unread_ones_on_the_notifications_entry_only(
    language, hidden
):
    menu = [
        entry("Mes tâches", "/"),
        entry("Notifications", "/notifications/", key="notifications"),
    ]

    with translation.override(language):
        html = shellhtml.main_menu_html(menu, 12)

    assert html.split("\n") == [
        '<li><a href="/">Mes tâches</a></li>',
        '<li><a href="/notifications/">Notifications <span class="tandem-badge">12'
        f'<span class="tandem-visually-hidden">{hidden}</span></span></a></li>',
    ]


def test_no_badge_when_everything_is_read():
    menu = [entry("Notifications", "/notifications/", key="notifications")]

    assert shellhtml.main_menu_html(menu, 0) == (
        '<li><a href="/notifications/">Notifications</a></li>'
    )


def test_labels_are_translated_in_each_request_language():
    menu = [entry(_("Mes tâches"), "/")]

    with translation.override("en"):
        english = shellhtml.main_menu_html(menu, 0)
    with translation.override("fr"):
        french = shellhtml.main_menu_html(menu, 0)

    assert english == '<li><a href="/">My tasks</a></li>'
    assert french == '<li><a href="/">Mes tâches</a></li>'


@pytest.mark.parametrize(
    ("language", "options"),
    [
        (
            "fr",
            '<option value="fr" lang="fr" selected>Français</option>'
            '<option value="en" lang="en">English</option>',
        ),
        (
            "en",
            '<option value="fr" lang="fr">Français</option>'
            '<option value="en" lang="en" selected>English</option>',
        ),
    ],
)
def test_each_language_is_named_in_itself_and_the_current_one_selected(
    language, options
):
    with translation.override(language):
        assert shellhtml.language_options_html(translation.get_language()) == options


def test_the_options_follow_the_configured_languages(settings):
    settings.LANGUAGES = [("fr", "Français"), ("de", "Allemand")]

    assert shellhtml.language_options_html("de") == (
        '<option value="fr" lang="fr">Français</option>'
        '<option value="de" lang="de" selected>Deutsch</option>'
    )


def test_the_links_follow_the_script_prefix():
    assert shellhtml.shell_urls()["search"] == "/recherche/"
    set_script_prefix("/tandem/")
    try:
        assert shellhtml.shell_urls()["search"] == "/tandem/recherche/"
    finally:
        set_script_prefix("/")
    assert shellhtml.shell_urls()["search"] == "/recherche/"


def test_the_links_follow_the_urlconf(settings):
    with pytest.raises(NoReverseMatch):
        shellhtml.shell_urls()["bench_shell"]

    settings.ROOT_URLCONF = "bench.urls"

    assert shellhtml.shell_urls()["bench_shell"] == "/_bench/shell/"
    clear_url_caches()
    assert shellhtml.shell_urls()["bench_shell"] == "/_bench/shell/"


def test_the_shell_of_an_application_mounted_below_a_prefix_links_below_it(
    world, client
):
    client.force_login(world.user("cd23.porteur"))

    # What Django's WSGI handler does with a SCRIPT_NAME (the test client does not).
    set_script_prefix("/tandem/")
    try:
        mounted = client.get("/annuaire/", SCRIPT_NAME="/tandem").content.decode()
    finally:
        set_script_prefix("/")
    at_root = client.get("/annuaire/").content.decode()

    assert 'action="/tandem/recherche/"' in mounted
    assert '<a href="/tandem/annuaire/" aria-current="page">Annuaire</a>' in mounted
    assert 'action="/tandem/i18n/setlang/"' in mounted
    assert 'action="/recherche/"' in at_root
    assert '<a href="/annuaire/" aria-current="page">Annuaire</a>' in at_root
