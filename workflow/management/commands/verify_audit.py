"""Check the audit journal's hash chain; exit 1 at the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from workflow import audit


class Command(BaseCommand):
    help = "Vérifie la chaîne d'empreintes du journal d'audit."

    def handle(self, *args, **options):
        verdict = audit.verify()
        if not verdict.intact:
            raise CommandError(
                f"Journal d'audit altéré : première rupture à l'entrée "
                f"n° {verdict.broken_at} ({verdict.reason}) ; "
                f"{verdict.entries} entrée(s) intègre(s) avant elle."
            )
        self.stdout.write(
            f"Journal d'audit intègre : {verdict.entries} entrée(s) vérifiée(s)."
        )
