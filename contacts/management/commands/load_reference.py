from django.core.management.base import BaseCommand

from contacts.services import reference_data_load


class Command(BaseCommand):
    help = (
        "Charge les données de référence (organismes, points de contact, "
        "plages d'ouverture) ; sans effet sur ce qui existe déjà."
    )

    def handle(self, *args, **options):
        created = reference_data_load()
        self.stdout.write(
            "Données de référence : {organisations} organisme(s), "
            "{contact_points} point(s) de contact, {support_hours} plage(s) "
            "d'ouverture ajoutés.".format(**created)
        )
