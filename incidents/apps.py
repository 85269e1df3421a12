from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self):
        from incidents.consistency import CHECK
        from incidents.demo import incidents_demo_load
        from workflow import consistency, demo, notifications, shell
        from workflow.mytasks import register_home_link as home_link

        consistency.register(CHECK)
        demo.register_demo(incidents_demo_load)
        shell.register_applications("incidents.urls.applications")
        shell.register_menu_entry(_("Incidents"), "incidents:index")
        notifications.register_notification_kinds(
            {
                "incident_registered": _("Incident enregistré"),
                "incident_update": _("Information sur un incident"),
                "incident_clock": _("Délai d'incident"),
                "incident_closed_unanswered": _("Incident clos sans réponse"),
            }
        )
        home_link(
            _("Déclarer un incident"),
            "incidents:declare",
            ["dsi_client", "correspondant_incidents", "gsi"],
        )
        home_link(
            _("Incidents"),
            "incidents:index",
            [
                "gsi",
                "support_n2",
                "support_n3",
                "gestion_crise",
                "correspondant_incidents",
            ],
        )
