from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecetteConfig(AppConfig):
    name = "recette"
    verbose_name = _("Recettes")

    def ready(self):
        from recette.consistency import CHECK
        from workflow import consistency

        consistency.register(CHECK)
