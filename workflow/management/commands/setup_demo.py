from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts.services import reference_data_load
from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load
from workflow.demo import DEMO_PASSWORD, demo_data_load


class Command(BaseCommand):
    help = (
        "Charge les données de référence puis les comptes de démonstration "
        "(idempotent) et affiche ces comptes."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Les comptes de démonstration ne sont créés qu'en mode DEBUG "
                "(leur mot de passe est public)."
            )
        reference_data_load()
        accounts = demo_data_load()
        evolutions_demo_load()
        recette_demo_load()
        self.stdout.write("")
        self.stdout.write(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD})")
        for account in accounts:
            self.stdout.write(
                f"  {account.username:<16} {account.organisation_code:<5} "
                f"{account.role.label}"
            )
        self.stdout.write("")
