"""Chain the refusals waiting to be chained, check the audit journal's hash chain,
then that it still holds the last anchor; exit 1 at the first broken link or on a
missing anchor."""

from django.core.management.base import BaseCommand, CommandError

from workflow import audit


class Command(BaseCommand):
    help = (
        "Vérifie la chaîne d'empreintes du journal d'audit, puis qu'il contient "
        "encore la dernière ancre (TANDEM_AUDIT_ANCHOR_FILE)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sans-ancre",
            action="store_true",
            dest="no_anchor",
            help="ne pas comparer le journal à la dernière ancre",
        )

    def handle(self, *args, no_anchor=False, **options):
        # The chain must hold every refusal already answered before it is judged.
        folded = audit.fold_refusals()
        verdict = audit.verify()
        if not verdict.intact:
            raise CommandError(
                f"Journal d'audit altéré : première rupture à l'entrée "
                f"n° {verdict.broken_at} ({verdict.reason}) ; "
                f"{verdict.entries} entrée(s) intègre(s) avant elle."
            )
        anchored = ""
        if not no_anchor:
            try:
                anchor = audit.anchor_last()
            except audit.AnchorError as error:
                raise CommandError(f"Vérification impossible : {error}") from None
            if anchor is None:
                anchored = (
                    f" ; aucune ancre dans {audit.anchor_path()}, le journal n'a "
                    "pas été comparé à une ancre"
                )
            else:
                problem = audit.anchor_check(anchor)
                if problem:
                    raise CommandError(
                        f"Journal d'audit altéré : {problem} "
                        f"({verdict.entries} entrée(s) présente(s), chaîne intègre)."
                    )
                anchored = (
                    f" ; dernière ancre ({anchor.at}, entrée n° {anchor.seq}) retrouvée"
                )
        chained = f" ({folded} refus chaîné(s) d'abord)" if folded else ""
        self.stdout.write(
            f"Journal d'audit intègre : {verdict.entries} entrée(s) vérifiée(s)"
            f"{chained}{anchored}."
        )
