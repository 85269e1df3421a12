from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TandemConfig(AppConfig):
    """The project package as an app: its commands compose every app
    (`generate_dataset`)."""

    name = "tandem"
    verbose_name = _("Tandem")
