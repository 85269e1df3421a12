"""Demo data for `make run`: one account per role, for the supplier and two clients."""

from base64 import b32decode
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.oath import TOTP, hotp
from django_otp.plugins.otp_totp.models import TOTPDevice
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import ContactPoint, Membership, Organisation, Person, Role

DEMO_PASSWORD = "tandem-demo"  # noqa: S105 - demo accounts exist only when DEBUG is on
DEMO_CLIENTS = ("23", "57")
# The demo DSIs' authenticator key (base32, printed by `make run`): one entry in an
# authenticator app serves every demo DSI. Each DSI still has a device of their own,
# so a code spent by one remains valid for the others.
DEMO_TOTP_SECRET = "TANDEMDEMOSIGNATUREDSIDEMOTANDEM"  # noqa: S105 - demo only
DEMO_TOTP_DEVICE_NAME = "Démonstration"
SIGNING_ROLES = (Role.DSI_CLIENT, Role.DSI_FOURNISSEUR)

# Subjects of annexe 3.1: sent to the client's DSI and to the portal's webmaster.
CLIENT_NOTIFIED_SUBJECTS = (
    ContactPoint.Subject.INCIDENT,
    ContactPoint.Subject.EVOLUTION_ANNOUNCEMENT,
    ContactPoint.Subject.EVOLUTION_ROLLOUT,
    ContactPoint.Subject.DELIVERY_PLANNING,
    ContactPoint.Subject.TECHNICAL_INTERVENTION,
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    organisation_code: str
    role: Role
    first_name: str
    last_name: str
    function: str


SUPPLIER_ACCOUNTS = (
    DemoAccount("cnaf.contact", "CNAF", Role.CONTACT_EVOLUTIONS, "Claire", "Moreau",
                "AMOA relation partenaires"),
    DemoAccount("cnaf.commande", "CNAF", Role.PORTEUR_COMMANDE, "Hugo", "Lefèvre",
                "Chef de projet AMOA"),
    DemoAccount("cnaf.moe", "CNAF", Role.MOE, "Inès", "Garnier",
                "Équipe projet MOE"),
    DemoAccount("cnaf.dsi", "CNAF", Role.DSI_FOURNISSEUR, "Nathalie", "Roussel",
                "Directrice des systèmes d'information"),
    DemoAccount("cnaf.admin", "CNAF", Role.ADMINISTRATEUR, "Paul", "Chevalier",
                "Administrateur Tandem"),
    DemoAccount("cnaf.gsi", "CNAF", Role.GSI, "Yannick", "Perrin",
                "Groupe de surveillance et d'intervention"),
    DemoAccount("cnaf.support2", "CNAF", Role.SUPPORT_N2, "Camille", "Fontaine",
                "Support applications CSN"),
    DemoAccount("cnaf.support3", "CNAF", Role.SUPPORT_N3, "Romain", "Girard",
                "Équipe projet MOE, support"),
    DemoAccount("cnaf.crise", "CNAF", Role.GESTION_CRISE, "Élodie", "Marchand",
                "Responsable de la gestion de crise"),
)  # fmt: skip

_CLIENT_PEOPLE = {
    "23": (
        ("Julie", "Bernard"),
        ("Marc", "Petit"),
        ("Sophie", "Durand"),
        ("Karim", "Haddad"),
    ),
    "57": (
        ("Thomas", "Muller"),
        ("Léa", "Schmitt"),
        ("Pierre", "Weber"),
        ("Anne", "Klein"),
    ),
}
_CLIENT_ROLES = (
    ("porteur", Role.PORTEUR_DEMANDE, "Chargée de mission PMI"),
    ("testeur", Role.TESTEUR, "Référent applicatif PMI"),
    ("dsi", Role.DSI_CLIENT, "Directeur des systèmes d'information"),
    ("incidents", Role.CORRESPONDANT_INCIDENTS, "Correspondant incidents, support"),
)

CLIENT_ACCOUNTS = tuple(
    DemoAccount(f"cd{code}.{suffix}", code, role, first, last, function)
    for code in DEMO_CLIENTS
    for (suffix, role, function), (first, last) in zip(
        _CLIENT_ROLES, _CLIENT_PEOPLE[code], strict=True
    )
)
DEMO_ACCOUNTS = SUPPLIER_ACCOUNTS + CLIENT_ACCOUNTS


def complete_open_task(node, user, perform, **process_filter) -> None:
    """Take the open task of `node` as `user`, run `perform`, complete the task,
    as the task's page would (used to stand demo processes at a given step)."""
    task = Task.objects.get(
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
        **{f"process__{k}": v for k, v in process_filter.items()},
    )
    with node.flow_class.lock(task.process_id), transaction.atomic():
        activation = node.activation_class(task)
        if task.status == STATUS.NEW:
            activation.assign(user)
        activation.start(None)
        perform()
        activation.execute()


def demo_data_load() -> list[DemoAccount]:
    """Create the demo accounts, people, roles and client contact points (idempotent).

    Passwords are set only when an account is created, so a second run keeps any
    password changed since.
    """
    organisations = {
        org.code: org
        for org in Organisation.objects.filter(
            code__in=[Organisation.SUPPLIER_CODE, *DEMO_CLIENTS]
        )
    }
    with transaction.atomic():
        for account in DEMO_ACCOUNTS:
            _create_account(account, organisations[account.organisation_code])
        for code in DEMO_CLIENTS:
            _create_client_contact_points(organisations[code])
    return list(DEMO_ACCOUNTS)


def _create_account(account: DemoAccount, organisation: Organisation) -> None:
    user_model = get_user_model()
    email = f"{account.username}@demo.tandem.invalid"
    user, created = user_model.objects.get_or_create(
        username=account.username,
        defaults={
            "first_name": account.first_name,
            "last_name": account.last_name,
            "email": email,
            # Administrators maintain the reference data in the Django admin.
            "is_staff": account.role == Role.ADMINISTRATEUR,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    Person.objects.get_or_create(
        user=user,
        defaults={
            "organisation": organisation,
            "first_name": account.first_name,
            "last_name": account.last_name,
            "function": account.function,
            "email": email,
            "user_code": account.username.upper().replace(".", "-"),
        },
    )
    Membership.objects.get_or_create(
        user=user, organisation=organisation, role=account.role
    )
    # Like the password, only for an account without one: a device enrolled since
    # (or the demo one) is kept, and a second run adds none.
    if (
        account.role in SIGNING_ROLES
        and not TOTPDevice.objects.filter(user=user).exists()
    ):
        TOTPDevice.objects.create(
            user=user,
            name=DEMO_TOTP_DEVICE_NAME,
            key=demo_totp_key(),
            confirmed=True,
        )


def demo_totp_key() -> str:
    """The demo secret as django-otp stores it (hexadecimal)."""
    return b32decode(DEMO_TOTP_SECRET).hex()


def demo_totp_code(user) -> str:
    """A code the user's demo device accepts now: the current one, or the next
    step's when the current one is already spent (the device tolerates one step).

    Raises TOTPDevice.DoesNotExist when the user's device is not the demo one.
    """
    device = TOTPDevice.objects.get(user=user, confirmed=True, key=demo_totp_key())
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    step = min(max(now, device.last_t + 1), now + device.tolerance)
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def _create_client_contact_points(organisation: Organisation) -> None:
    dsi = Person.objects.get(
        organisation=organisation, user__memberships__role=Role.DSI_CLIENT
    )
    webmaster = f"webmaster.portail@cd{organisation.code.lower()}.demo.tandem.invalid"
    for subject in CLIENT_NOTIFIED_SUBJECTS:
        ContactPoint.objects.get_or_create(
            organisation=organisation,
            subject=subject,
            person=dsi,
            defaults={"label": "DSI du Conseil départemental"},
        )
        ContactPoint.objects.get_or_create(
            organisation=organisation,
            subject=subject,
            mailbox=webmaster,
            defaults={"label": "Webmaster du portail"},
        )


# The process apps' demo data, registered from their AppConfig.ready() and loaded by
# `setup_demo` in INSTALLED_APPS order (an app's demo may build on an earlier one's).
DEMO_LOADERS: list = []


def register_demo(loader) -> None:
    """Declare a process app's demo loader (idempotent, no argument)."""
    if loader not in DEMO_LOADERS:
        DEMO_LOADERS.append(loader)


def process_demos_load() -> None:
    """Load every registered app's demo data, in registration order."""
    for loader in DEMO_LOADERS:
        loader()
