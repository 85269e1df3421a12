"""The project: settings, URLconf, the viewflow Site, the Celery app and the WSGI/ASGI
entry points compose the apps (docs/architecture.md). The engine (`workflow/`) and
the reference data (`contacts/`) never import a process app; this package may import
them all.
"""

from tandem.celery import app as celery_app

__all__ = ("celery_app",)
