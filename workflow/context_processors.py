"""Values every page of the shell shows."""

from functools import lru_cache

from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from workflow import access, shellhtml
from workflow import shell as registry
from workflow.notifications import unread_count


def shell(request) -> dict:
    """The shell's links and language options; for a logged-in user, the unread
    notifications count (one query) and the main menu of tandem/page.html (built
    only if the page shows it), as entries and as its printed items."""
    context = {
        "shell_urls": shellhtml.shell_urls(),
        "shell_language_options": shellhtml.language_options_html(get_language()),
    }
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    unread = unread_count(user)
    menu = SimpleLazyObject(lambda: main_menu(request))
    context.update(
        unread_notifications=unread,
        shell_menu=menu,
        shell_menu_html=SimpleLazyObject(
            lambda: shellhtml.main_menu_html(menu, unread)
        ),
    )
    return context


def main_menu(request) -> list[dict]:
    """The main menu's entries: "Mes tâches", each process app's (workflow.shell),
    the directory (for a user with a membership) and the notifications.

    Each entry is a dict: `label`, `url`, `current` ("page" on that very page,
    "true" below it, else ""), `key` ("notifications" for the one showing a count).
    """
    entries = _entries(
        get_language(),
        bool(access.memberships_of(request.user)),
        tuple(url_name for _label, url_name in registry.menu_entries()),
    )
    reversed_urls = shellhtml.shell_urls()
    urls = [(label, reversed_urls[name], key) for label, name, key in entries]
    # Below two entries (/evolutions/versions/… is below /evolutions/ too), the
    # page belongs to the deeper one.
    above = [url for _label, url, _key in urls if url != "/"]
    section = max(
        (url for url in above if request.path.startswith(url)), key=len, default=None
    )
    menu = []
    for label, url, key in urls:
        if request.path == url:
            current = "page"
        elif url == section:
            current = "true"
        else:
            current = ""
        menu.append({"label": label, "url": url, "current": current, "key": key})
    return menu


@lru_cache(maxsize=32)
def _entries(language: str | None, directory: bool, registered: tuple) -> tuple:
    """(label, URL name, key) of the menu's entries, each label as text in the
    active language (`language`): translated once, not on every page. The
    process apps' entries are named by their URL names (`registered`): a lazy
    label would be translated to be hashed."""
    labels = dict((url_name, label) for label, url_name in registry.menu_entries())
    entries = [(str(_("Mes tâches")), "index", "")]
    entries += [(str(labels[url_name]), url_name, "") for url_name in registered]
    if directory:
        entries.append((str(_("Annuaire")), "annuaire:index", ""))
    entries.append((str(_("Notifications")), "notifications", "notifications"))
    return tuple(entries)


def csp_nonce(request) -> dict:
    """This response's script nonce (set by the Content-Security-Policy middleware)."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
