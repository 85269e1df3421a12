"""Who the load test's users are and what they act on, read from the database
(through the selectors that apply the access rules) before gunicorn starts.

Testers record in the open campaigns, one tester account of the campaign's
organisation each; request owners, order owners and DSIs start with the demo
accounts, then the dataset's generated ones (`gen.cd59.testeur2`…). Generated
accounts have no usable password: the ones the run uses get the demo password
(`prepare_passwords`), on the benchmark's database only.
"""

import random
from functools import cache
from itertools import zip_longest

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.models import Count

from bench.load_users import PASSWORD, Account
from contacts.models import Membership, Organisation, Role
from evolutions.models import ChangeRequest
from evolutions.selectors import change_requests_visible_to
from recette.models import AcceptanceReport, Campaign
from recette.selectors import acceptances_visible_to, campaigns_visible_to

SAMPLE = 40  # objects each account picks from
# The mixed profile's roles, repeated: 5 testers, 3 owners and 2 DSIs in ten.
MIXED_ROLES = (
    *("tester", "porteur", "tester", "dsi", "tester"),
    *("porteur", "tester", "porteur", "tester", "dsi"),
)


def _demo_first(usernames) -> list[str]:
    """Demo accounts (`cd23.testeur`), then generated ones (`gen.…`), by name."""
    return sorted(set(usernames), key=lambda name: (name.startswith("gen."), name))


def _holders(role: Role, organisation_id: int | None = None) -> list[str]:
    rows = Membership.objects.filter(role=role, user__is_active=True)
    if organisation_id is not None:
        rows = rows.filter(organisation_id=organisation_id)
    return _demo_first(rows.values_list("user__username", flat=True))


@cache
def _user(username: str):
    return get_user_model().objects.get(username=username)


def _sample(values, rng: random.Random, size: int = SAMPLE) -> list[int]:
    values = list(values)
    return sorted(rng.sample(values, min(size, len(values))))


def open_campaigns(first: int | None = None) -> list[tuple[int, int]]:
    """(pk, organisation id) of every open campaign, `first` (the manifest's
    campaign of 500 cases) ahead of the others."""
    rows = list(
        Campaign.objects.filter(status=Campaign.Status.OPEN)
        .order_by("pk")
        .values_list("pk", "organisation_id")
    )
    return sorted(rows, key=lambda row: row[0] != first)


def smallest_grid(accounts) -> int:
    """The fewest cases of the testers' campaigns (at least 1): the contention
    scenario caps both phases' POSTs at it, so that one campaign and spread post
    as many results per POST (a spread tester's grid may hold one case)."""
    campaigns = {account.campaign for account in accounts}
    sizes = (
        Campaign.objects.filter(pk__in=campaigns)
        .annotate(cases=Count("campaign_cases"))
        .values_list("cases", flat=True)
    )
    return max(1, min(sizes, default=1))


def tester_accounts(count: int, campaigns: list[tuple[int, int]]) -> list[Account]:
    """User i records in campaign i (modulo their number), as the i-th tester
    account of its organisation (modulo theirs)."""
    accounts = []
    for index in range(count):
        pk, organisation_id = campaigns[index % len(campaigns)]
        testers = _holders(Role.TESTEUR, organisation_id) or _holders(
            Role.PORTEUR_DEMANDE, organisation_id
        )
        username = testers[(index // len(campaigns)) % len(testers)]
        accounts.append(Account(username, "tester", campaign=pk))
    return accounts


def porteur_accounts(count: int, rng: random.Random) -> list[Account]:
    """Request owners (clients with the most requests first) and order owners,
    the demo accounts first, each with a sample of the requests it sees."""
    busiest = (
        ChangeRequest.objects.values("organisation_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "organisation_id")
        .values_list("organisation_id", flat=True)
    )
    clients = [
        name
        for organisation_id in busiest
        for name in _holders(Role.PORTEUR_DEMANDE, organisation_id)
    ]
    owners = _holders(Role.PORTEUR_COMMANDE)
    demo = _demo_first(n for n in [*clients, *owners] if not n.startswith("gen."))
    # Then generated clients and order owners taking turns.
    generated = [
        name
        for pair in zip_longest(
            [n for n in clients if n.startswith("gen.")],
            [n for n in owners if n.startswith("gen.")],
        )
        for name in pair
        if name
    ]
    names = demo + generated
    return [
        Account(
            name,
            "porteur",
            requests=_sample(
                change_requests_visible_to(_user(name)).values_list("pk", flat=True),
                rng,
            ),
        )
        for name in names[:count]
    ]


def dsi_accounts(
    count: int, rng: random.Random, campaigns: list[tuple[int, int]]
) -> list[Account]:
    """Client and supplier DSIs, the demo ones first, then those of the
    organisations with open campaigns, each with campaigns, acceptances and
    bilans it sees."""
    with_campaigns = [organisation_id for _pk, organisation_id in campaigns]
    names = [
        *_demo_first(
            n
            for role in (Role.DSI_CLIENT, Role.DSI_FOURNISSEUR)
            for n in _holders(role)
            if not n.startswith("gen.")
        ),
        *(
            n
            for organisation_id in dict.fromkeys(with_campaigns)
            for n in _holders(Role.DSI_CLIENT, organisation_id)
            if n.startswith("gen.")
        ),
    ]
    accounts = []
    for name in names[:count]:
        user = _user(name)
        acceptances = acceptances_visible_to(user)
        accounts.append(
            Account(
                name,
                "dsi",
                campaigns=_sample(
                    campaigns_visible_to(user).values_list("pk", flat=True), rng
                ),
                acceptances=_sample(acceptances.values_list("pk", flat=True), rng),
                reports=_sample(
                    acceptances.filter(acceptance_report__isnull=False).values_list(
                        "pk", flat=True
                    ),
                    rng,
                ),
            )
        )
    return accounts


def refuser_accounts(count: int, rng: random.Random, victim: str = "23") -> list:
    """Client request owners of other organisations than `victim`, each asking
    for the victim's change requests, which it does not see."""
    victim_organisation = Organisation.objects.get(code=victim)
    foreign = _sample(
        ChangeRequest.objects.filter(organisation=victim_organisation)
        .exclude(status=ChangeRequest.Status.DRAFT)
        .values_list("pk", flat=True),
        rng,
    )
    names = [
        n
        for n in _holders(Role.PORTEUR_DEMANDE)
        if not Membership.objects.filter(
            user__username=n, organisation=victim_organisation
        ).exists()
    ]
    return [Account(name, "refuser", requests=foreign) for name in names[:count]]


def mixed_accounts(count: int, rng: random.Random, first_campaign=None) -> list:
    """The mixed profile's `count` users, in a fixed order: the first n of them
    are the users of a step of n."""
    roles = [MIXED_ROLES[i % len(MIXED_ROLES)] for i in range(count)]
    campaigns = open_campaigns(first_campaign)
    pools = {
        "tester": iter(tester_accounts(roles.count("tester"), campaigns)),
        "porteur": iter(porteur_accounts(roles.count("porteur"), rng)),
        "dsi": iter(dsi_accounts(roles.count("dsi"), rng, campaigns)),
    }
    accounts = []
    for role in roles:
        account = next(pools[role], None)
        if account is not None:  # fewer accounts than users: the role is short
            accounts.append(account)
    return accounts


def prepare_passwords(usernames) -> int:
    """Give the demo password to the generated accounts among `usernames` that
    have no usable one; returns how many were given it."""
    users = get_user_model().objects.filter(
        username__in=set(usernames), username__startswith="gen."
    )
    without = [user.pk for user in users if not user.has_usable_password()]
    if without:
        # One hash for all: hashing is slow on purpose, and these are test accounts.
        get_user_model().objects.filter(pk__in=without).update(
            password=make_password(PASSWORD)
        )
    return len(without)


def submittable_report(preferred: int | None = None) -> tuple[int, str] | None:
    """A draft bilan that report_submit accepts (a verdict, its reserves written,
    no campaign open), the manifest's (`preferred`, a change request) first, and
    a request owner of its organisation: (report pk, username)."""
    drafts = (
        AcceptanceReport.objects.filter(status=AcceptanceReport.Status.DRAFT)
        .exclude(verdict="")
        .exclude(change_request__campaigns__status=Campaign.Status.OPEN)
        .order_by("pk")
    )
    for report in sorted(drafts, key=lambda r: r.change_request_id != preferred):
        if report.verdict == AcceptanceReport.Verdict.WITH_RESERVES and not (
            report.reserves.strip()
        ):
            continue
        owners = _holders(Role.PORTEUR_DEMANDE, report.organisation_id)
        if owners:
            return report.pk, owners[0]
    return None
