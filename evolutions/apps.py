from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvolutionsConfig(AppConfig):
    name = "evolutions"
    verbose_name = _("Demandes d'évolution")

    def ready(self):
        from evolutions.consistency import CHECK
        from evolutions.demo import evolutions_demo_load
        from evolutions.events import HEADLINES
        from workflow import consistency, demo, events, shell

        consistency.register(CHECK)
        events.register_headlines(HEADLINES)
        shell.register_applications("evolutions.urls.applications")
        demo.register_demo(evolutions_demo_load)
