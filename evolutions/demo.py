"""Demo change requests standing at every step, for both demo clients.

Each step is taken the way a user takes it: the open task is assigned, the same
service as the task view is called, and the task is completed, so that the flow's
tasks always match the requests' status.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.models import Organisation
from evolutions import services
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from workflow.demo import complete_open_task

F = EvolutionFlow

# (title, kind, flows, the step the request stops after)
SCENARIOS = [
    (
        "Ajouter le motif de la déclaration au flux DSG",
        "reglementaire",
        ["DSG"],
        "draft",
    ),
    (
        "Transmettre la date présumée de conception",
        "reglementaire",
        ["DSG", "SGR"],
        "submitted",
    ),
    ("Historiser les changements de situation", "technique", ["GRO"], "info_requested"),
    ("Horodater la réception des flux SGR", "technique", ["SGR"], "in_study"),
    (
        "Purger les déclarations de plus de 5 ans",
        "reglementaire",
        ["DSG", "GRO"],
        "spec_review",
    ),
    (
        "Exposer un accusé de réception par flux",
        "technique",
        ["DSG"],
        "quote_preparation",
    ),
    ("Contrôler le NIR avant intégration", "reglementaire", ["SGR"], "quote_review"),
    ("Chiffrer les pièces jointes au repos", "technique", ["autre"], "planning"),
    (
        "Ajouter le code INSEE de la commune",
        "reglementaire",
        ["GRO"],
        "release_proposed",
    ),
    ("Réduire le délai de mise à disposition GRO", "technique", ["GRO"], "planned"),
    (
        "Signaler les doublons de déclaration",
        "technique",
        ["DSG", "SGR"],
        "in_manufacture",
    ),
    ("Normaliser les adresses postales", "reglementaire", ["GRO"], "in_acceptance"),
    ("Éditer les statistiques mensuelles en PDF", "technique", ["autre"], "declined"),
    ("Envoyer un SMS à chaque déclaration", "technique", ["DSG"], "withdrawn"),
]

STEPS = [
    "draft",
    "submitted",
    "info_requested",
    "in_study",
    "spec_review",
    "quote_preparation",
    "quote_review",
    "planning",
    "release_proposed",
    "planned",
    "in_manufacture",
    "in_acceptance",
]


def demo_releases(today: date) -> list[Release]:
    """Three releases of next year (created once)."""
    year = today.year + 1
    plans = [
        (f"{year}.1", date(year, 2, 1), date(year, 2, 26), date(year, 3, 15)),
        (f"{year}.2", date(year, 5, 3), date(year, 5, 28), date(year, 6, 14)),
        (f"{year}.3", date(year, 9, 6), date(year, 9, 30), date(year, 10, 11)),
    ]
    return [
        Release.objects.get_or_create(
            number=number,
            defaults={
                "title": f"Version majeure {number}",
                "recette_start": start,
                "recette_end": end,
                "production_date": production,
            },
        )[0]
        for number, start, end, production in plans
    ]


def _complete(change_request: ChangeRequest, node, user, perform) -> None:
    complete_open_task(
        node, user, perform, evolutionprocess__change_request=change_request
    )


def _walk(change_request, stop: str, people: dict, release: Release) -> None:
    """Move a submitted request along the happy path until `stop`."""
    pk, client = change_request.pk, people["porteur"]
    contact, owner, moe = people["contact"], people["commande"], people["moe"]
    today = timezone.localdate()
    steps = [
        (
            "in_study",
            F.review_submission,
            contact,
            lambda: services.change_request_acknowledge(
                pk=pk, by=contact, order_owner=owner
            ),
        ),
        (
            "spec_review",
            F.write_specification,
            owner,
            lambda: services.specification_issue(
                pk=pk,
                by=owner,
                summary="Périmètre, règles de gestion, impacts sur les flux.",
            ),
        ),
        (
            "quote_preparation",
            F.review_specification,
            client,
            lambda: services.specification_decide(pk=pk, by=client, validated=True),
        ),
        (
            "quote_review",
            F.write_quote,
            owner,
            lambda: services.quote_issue(
                pk=pk,
                by=owner,
                man_days=Decimal("12.5"),
                amount=Decimal("8750.00"),
                valid_until=today + timedelta(days=45),
            ),
        ),
        (
            "planning",
            F.review_quote,
            client,
            lambda: services.quote_decide(pk=pk, by=client, accepted=True),
        ),
        (
            "release_proposed",
            F.propose_release,
            owner,
            lambda: services.release_propose(pk=pk, by=owner, release=release),
        ),
        (
            "planned",
            F.confirm_release,
            client,
            lambda: services.release_decide(pk=pk, by=client, confirmed=True),
        ),
        (
            "in_manufacture",
            F.start_manufacture,
            moe,
            lambda: services.manufacture_start(pk=pk, by=moe),
        ),
        (
            "in_acceptance",
            F.finish_manufacture,
            moe,
            lambda: services.manufacture_finish(pk=pk, by=moe),
        ),
    ]
    if STEPS.index(stop) < STEPS.index("in_study"):
        return
    for reached, node, user, perform in steps:
        _complete(change_request, node, user, perform)
        if reached == stop:
            return


def evolutions_demo_load() -> int:
    """Create the demo change requests of clients 23 and 57 (once); return how many."""
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=[
                "cnaf.contact",
                "cnaf.commande",
                "cnaf.moe",
                "cd23.porteur",
                "cd57.porteur",
            ]
        )
    }
    releases = demo_releases(timezone.localdate())
    created = 0
    for code in ("23", "57"):
        organisation = Organisation.objects.get(code=code)
        if ChangeRequest.objects.filter(organisation=organisation).exists():
            continue
        people = {
            "porteur": users[f"cd{code}.porteur"],
            "contact": users["cnaf.contact"],
            "commande": users["cnaf.commande"],
            "moe": users["cnaf.moe"],
        }
        for title, kind, flows, stop in SCENARIOS:
            _create(organisation, people, title, kind, flows, stop, releases[0])
            created += 1
    return created


def _create(organisation, people, title, kind, flows, stop, release) -> None:
    client = people["porteur"]
    change_request = services.change_request_create(
        by=client,
        organisation=organisation,
        title=title,
        kind=kind,
        data_flows=flows,
        description=(
            f"{title}. Le besoin porte sur les échanges de {organisation.name} "
            "avec la CNAF pour les déclarations de grossesse."
        ),
        expected_benefit="Moins de ressaisies et des données plus fiables.",
    )
    if stop == "draft":
        return
    pk = change_request.pk
    services.change_request_submit(pk=pk, by=client)
    if stop == "info_requested":
        _complete(
            change_request,
            F.review_submission,
            people["contact"],
            lambda: services.change_request_request_information(
                pk=pk,
                by=people["contact"],
                question="Quel volume mensuel attendez-vous ?",
            ),
        )
    elif stop == "declined":
        services.change_request_decline(
            pk=pk,
            by=people["contact"],
            reason="Besoin couvert par la version nationale.",
        )
    elif stop == "withdrawn":
        _walk(change_request, "in_study", people, release)
        services.change_request_withdraw(
            pk=pk, by=client, reason="Besoin abandonné après arbitrage interne."
        )
    else:
        _walk(change_request, stop, people, release)
