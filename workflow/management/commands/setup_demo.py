from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts.services import reference_data_load
from workflow.demo import (
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    SIGNING_ROLES,
    demo_data_load,
    process_demos_load,
)


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
        process_demos_load()  # each process app's, as registered by its AppConfig
        self.stdout.write("")
        self.stdout.write(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD})")
        for account in accounts:
            self.stdout.write(
                f"  {account.username:<16} {account.organisation_code:<5} "
                f"{account.role.label}"
            )
        self.stdout.write("")
        signers = ", ".join(a.username for a in accounts if a.role in SIGNING_ROLES)
        self.stdout.write(
            f"Signature de l'accord de mise en production ({signers}) : mot de passe "
            "et code à 6 chiffres d'une application d'authentification (TOTP)."
        )
        self.stdout.write(
            "  clé à y saisir (basée sur le temps, 6 chiffres, 30 s) : "
            f"{DEMO_TOTP_SECRET}"
        )
        self.stdout.write(
            "  ou, sans application : .venv/bin/python manage.py demo_totp cnaf.dsi"
        )
        self.stdout.write("")
