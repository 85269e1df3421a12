"""What each process app puts in the shell: its pages and its flow's task pages,
and its entry in the main menu.

A process app registers, from its AppConfig.ready(), the dotted path of a function
returning its viewflow viewsets (an `Application` of its pages, the scoped viewset
of its flow); the project's `Site` (tandem/site.py) mounts them in INSTALLED_APPS
order. The path is imported only when the URLconf is built, after every app is
ready.
"""

from django.utils.module_loading import import_string

_FACTORIES: list[str] = []


def register_applications(dotted_path: str) -> None:
    """Declare the function returning an app's viewsets (once per app)."""
    if dotted_path in _FACTORIES:
        raise ValueError(f"applications déjà déclarées : {dotted_path}")
    _FACTORIES.append(dotted_path)


def applications() -> list:
    """Every registered viewset, in registration order."""
    return [viewset for path in _FACTORIES for viewset in import_string(path)()]


# The shell's main menu: "Mes tâches", then what the process apps declared here,
# then the engine's own entries (directory, notifications). The engine never names
# a process app: each declares its entry from its AppConfig.ready().
_MENU: list[tuple] = []


def register_menu_entry(label, url_name: str) -> None:
    """Add an entry to the main menu: `label` lazily translated (gettext_lazy),
    `url_name` the URL name of the app's first page (once per URL)."""
    if any(name == url_name for _label, name in _MENU):
        raise ValueError(f"entrée de menu déjà déclarée : {url_name}")
    _MENU.append((label, url_name))


def menu_entries() -> tuple:
    """The registered (label, url_name) pairs, in registration order."""
    return tuple(_MENU)
