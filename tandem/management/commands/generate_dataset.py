"""Bulk generation of realistic data for benchmarks (see bench.dataset.core)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from bench.dataset.core import TIERS, DatasetRefused, dataset_generate, manifest_path


class Command(BaseCommand):
    help = (
        "Génère un jeu de données réaliste pour les mesures de performance : "
        "demandes d'évolution à toutes les étapes, recettes, tâches viewflow, "
        "historique et journal d'audit (après load_reference et setup_demo)."
    )

    def add_arguments(self, parser):
        size = parser.add_mutually_exclusive_group(required=True)
        size.add_argument(
            "--tier",
            choices=sorted(TIERS),
            help="small : un dixième de large ; large : 20 000 demandes, "
            "1 000 000 d'exécutions…",
        )
        size.add_argument(
            "--scale",
            type=float,
            help="fraction du niveau large (par exemple 0.002 pour les tests)",
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="graine du hasard (défaut : 42)"
        )
        parser.add_argument(
            "--manifest",
            help="fichier JSON des identifiants notables "
            "(défaut : var/dataset-<niveau>.json)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="ajouter un jeu de plus même si un jeu généré existe déjà",
        )

    def handle(self, *args, tier=None, scale=None, **options):
        if scale is not None and not 0 < scale <= 10:
            raise CommandError("--scale doit être compris entre 0 (exclu) et 10.")
        name = tier or "scale"
        scale = TIERS[tier] if tier else scale
        self.stdout.write(f"Génération du jeu « {name} » (échelle {scale:g}) :")
        try:
            report = dataset_generate(
                tier=name,
                scale=scale,
                seed=options["seed"],
                force=options["force"],
                log=self.stdout.write,
            )
        except DatasetRefused as refusal:
            raise CommandError(str(refusal)) from None

        self.stdout.write("")
        self.stdout.write(f"{'table':<42} {'lignes':>10} {'écriture (s)':>13}")
        for table, rows, seconds in report.tables:
            self.stdout.write(f"{table:<42} {rows:>10} {seconds:>13.1f}")
        manifest = report.manifest
        self.stdout.write("")
        self.stdout.write(f"Durée totale : {manifest['seconds']:.1f} s")
        for key in ("detail_30_url", "campaign_500_url", "report_2000_url"):
            if key in manifest:
                self.stdout.write(f"  {key:<20} {manifest[key]}")
        path = Path(options["manifest"] or manifest_path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        self.stdout.write(f"Manifeste : {path}")
