from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflow.backup import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Sauvegarde la base de données et les fichiers déposés dans une seule "
        "archive tar, avec un manifeste de leurs empreintes SHA-256."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "target",
            nargs="?",
            help=(
                "archive à écrire, ou dossier où écrire "
                "tandem-backup-AAAAMMJJ-HHMMSS.tar (défaut : le dossier courant)"
            ),
        )

    def handle(self, *args, target=None, **options):
        try:
            summary = backup_write(
                Path(target) if target else None, say=self.stdout.write
            )
        except BackupError as error:
            raise CommandError(f"Sauvegarde impossible : {error}") from None
        for warning in summary.warnings:
            self.stderr.write(f"Attention : {warning}")
        self.stdout.write(
            f"Sauvegarde écrite : {summary.path} ({summary.archive_bytes} octets)\n"
            f"  base {summary.vendor} : {summary.tables} tables, "
            f"{summary.rows} lignes\n"
            f"  fichiers : {summary.files} ({summary.files_bytes} octets)"
        )
