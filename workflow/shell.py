"""What each process app puts in the shell: its pages and its flow's task pages.

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
