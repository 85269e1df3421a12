from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecetteConfig(AppConfig):
    name = "recette"
    verbose_name = _("Recettes")

    def ready(self):
        from evolutions.links import register_request_link
        from evolutions.signals import manufacture_finished
        from recette.consistency import CHECK
        from recette.demo import recette_demo_load
        from recette.events import HEADLINES
        from recette.search import acceptances_found, cases_found, defects_found
        from recette.selectors import acceptance_link
        from recette.services import acceptance_start_on_manufacture
        from workflow import consistency, demo, events, notifications, search, shell

        consistency.register(CHECK)
        events.register_headlines(HEADLINES)
        shell.register_applications("recette.urls.applications")
        shell.register_menu_entry(_("Recettes"), "recettes:index")
        for provider in (acceptances_found, cases_found, defects_found):
            search.register_provider(provider)
        demo.register_demo(recette_demo_load)
        register_request_link(acceptance_link)
        notifications.register_notification_kinds(
            {"delivery_made": _("Livraison en recette")}
        )
        # The end of manufacture opens the acceptance (evolutions knows nothing of it).
        manufacture_finished.connect(
            acceptance_start_on_manufacture, dispatch_uid="recette_acceptance_start"
        )
