"""The shell's repeated parts, printed here rather than by tandem/page.html: every
page of ours pays the shell, and its menu loop (each entry's ifs and filters), the
language list and the reverse() of its fixed links were a fifth of what the shell
costs over a bare answer, about 0.4 ms of 2 (bench row `shell`, BENCHMARKS.md).

Only what no language changes is kept between requests: the URLs (per URLconf,
script prefix and language) and the languages' names in themselves. Every other
string is translated on each request, in the request's language.
"""

from functools import lru_cache
from html import escape
from weakref import WeakKeyDictionary

from django.conf import settings
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, get_language_info, gettext

# Per URLconf (a test or a reload that clears Django's URL caches builds a new
# resolver, which drops its entries), then per script prefix and language.
_REVERSED: WeakKeyDictionary = WeakKeyDictionary()


class ReversedURLs(dict):
    """URL name → URL (of a URL without arguments), each reversed on first use:
    `{{ shell_urls.search }}` in the template is `{% url 'search' %}`."""

    def __missing__(self, name: str) -> str:
        url = self[name] = reverse(name)
        return url


def shell_urls() -> ReversedURLs:
    """The shell's URLs for the current URLconf, script prefix and language (the
    request's): reversed once, not on every page."""
    per_prefix = _REVERSED.get(resolver := get_resolver(get_urlconf()))
    if per_prefix is None:
        per_prefix = _REVERSED.setdefault(resolver, {})
    key = (get_script_prefix(), get_language())
    urls = per_prefix.get(key)
    if urls is None:
        urls = per_prefix.setdefault(key, ReversedURLs())
    return urls


def main_menu_html(menu: list[dict], unread: int) -> SafeString:
    """The main menu's `<li>` items (workflow.context_processors.main_menu), the
    notifications entry with its badge when some are unread; every value escaped."""
    badge = ""
    if unread:
        # Outside the f-string: makemessages does not read calls inside one.
        unread_label = gettext("non lues")
        badge = (
            f' <span class="tandem-badge">{escape(localize(unread))}'
            '<span class="tandem-visually-hidden"> '
            f"{escape(unread_label)}</span></span>"
        )
    items = []
    for entry in menu:
        current = entry["current"]
        marked = f' aria-current="{escape(current)}"' if current else ""
        label = conditional_escape(str(entry["label"]))
        if entry["key"] == "notifications":
            label += badge
        items.append(f'<li><a href="{escape(entry["url"])}"{marked}>{label}</a></li>')
    return mark_safe("\n".join(items))  # noqa: S308 (every value escaped above)


def language_options_html(current: str | None) -> SafeString:
    """The `<option>`s of the language choice, each language named in itself (so
    that a reader finds theirs whatever the page's), `current` selected."""
    return _language_options(tuple(code for code, _name in settings.LANGUAGES), current)


@lru_cache(maxsize=32)
def _language_options(codes: tuple[str, ...], current: str | None) -> SafeString:
    options = []
    for code in codes:
        info = get_language_info(code)
        selected = " selected" if info["code"] == current else ""
        options.append(
            f'<option value="{escape(info["code"])}" lang="{escape(info["code"])}"'
            f"{selected}>{escape(capfirst(info['name_local']))}</option>"
        )
    return mark_safe("".join(options))  # noqa: S308 (every value escaped above)
