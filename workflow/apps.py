from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = _("Moteur Tandem")

    def ready(self):
        # Connects the receiver that journals login lockouts.
        from workflow import throttling  # noqa: F401
