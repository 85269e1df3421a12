import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from workflow.demo import DEMO_ACCOUNTS, demo_totp_code


class Command(BaseCommand):
    help = (
        "Affiche le code TOTP actuel d'un compte de démonstration (DSI), pour "
        "signer l'accord de mise en production sans application d'authentification."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="par exemple cnaf.dsi, cd23.dsi, cd57.dsi")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError(
                "Les codes de démonstration ne sont affichés qu'en mode DEBUG."
            )
        if username not in {account.username for account in DEMO_ACCOUNTS}:
            raise CommandError(f"{username} n'est pas un compte de démonstration.")
        user = get_user_model().objects.filter(username=username).first()
        try:
            code = demo_totp_code(user)
        except TOTPDevice.DoesNotExist:
            raise CommandError(
                f"{username} n'a pas l'application de démonstration (seuls les DSI "
                "en ont une, et elle a pu être remplacée depuis)."
            ) from None
        self.stdout.write(code)
        if options["verbosity"] > 0:
            # A device accepts the codes of the step before and after its clock's.
            left = 30 - int(time.time()) % 30 + 30
            self.stdout.write(
                f"(code de {username}, valable encore au moins {left} s, "
                "une seule fois)"
            )
