"""Check that every process's open tasks and documents match its records; exit 1
naming every process that does not."""

from django.core.management.base import BaseCommand, CommandError

from workflow import consistency


class Command(BaseCommand):
    help = (
        "Vérifie que l'état de chaque demande et de chaque recette, leurs tâches "
        "ouvertes et leurs documents concordent."
    )

    def handle(self, *args, **options):
        bad = 0
        for subject, problems in consistency.inconsistencies():
            bad += 1
            self.stderr.write(f"{subject} : {' ; '.join(problems)}")
        checked = consistency.checked_count()
        if bad:
            raise CommandError(
                f"{bad} dossier(s) incohérent(s) sur {checked} processus vérifié(s)."
            )
        self.stdout.write(f"Cohérence vérifiée : {checked} processus, aucun écart.")
