from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflow.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restaure une archive de `manage.py backup` : vérifie d'abord chaque "
        "empreinte SHA-256, charge la base et les fichiers à côté des actuels, les "
        "compare au manifeste et ne bascule sur eux qu'ensuite."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="archive écrite par manage.py backup")
        parser.add_argument(
            "--force",
            action="store_true",
            help=(
                "remplacer une base qui contient déjà des tables (supprimées "
                "seulement une fois la restauration vérifiée) ; les fichiers déjà "
                "présents sont mis de côté"
            ),
        )

    def handle(self, *args, archive, force=False, **options):
        try:
            summary = backup_restore(Path(archive), force=force, say=self.stdout.write)
        except BackupError as error:
            raise CommandError(f"Restauration impossible : {error}") from None
        for warning in summary.warnings:
            self.stderr.write(f"Attention : {warning}")
        self.stdout.write(
            f"Restauration terminée (sauvegarde du {summary.created_at}) :\n"
            f"  base {summary.vendor} : {summary.tables} tables, {summary.rows} "
            "lignes, comptes identiques au manifeste\n"
            f"  fichiers : {summary.files} ({summary.files_bytes} octets), "
            "empreintes SHA-256 vérifiées"
        )
