from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = _("Moteur Tandem")

    def ready(self):
        # Connect the receivers that journal login lockouts and that mark a new
        # session as seen (its idle clock).
        from workflow import sessions, throttling  # noqa: F401
