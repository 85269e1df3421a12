from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvolutionsConfig(AppConfig):
    name = "evolutions"
    verbose_name = _("Demandes d'évolution")

    def ready(self):
        from evolutions.consistency import CHECK
        from evolutions.demo import evolutions_demo_load
        from evolutions.events import HEADLINES
        from evolutions.search import change_requests_found
        from workflow import consistency, demo, events, notifications, search, shell

        consistency.register(CHECK)
        events.register_headlines(HEADLINES)
        shell.register_applications("evolutions.urls.applications")
        shell.register_menu_entry(_("Demandes d'évolution"), "evolutions:index")
        shell.register_menu_entry(_("Versions"), "evolutions:roadmap")
        search.register_provider(change_requests_found)
        demo.register_demo(evolutions_demo_load)
        notifications.register_notification_kinds(
            {
                "cr_submitted": _("Expression de besoin soumise"),
                "announcement": _("Annonce de version"),
            }
        )
        from workflow.mytasks import register_home_link as home_link

        home_link(_("Nouvelle demande"), "evolutions:create", ["porteur_demande"])
        home_link(_("Mes demandes"), "evolutions:index", ["porteur_demande"], "owner")
