"""Events that reach someone, and who they reach: the engine's part.

Each process app declares its event kinds and headlines (`register_headlines`, from
its AppConfig.ready()).

Each event of a change request is announced with one headline; `announce()` writes
its notification rows (see workflow.notifications) in the caller's transaction.
Messages only ever speak of the change request concerned.
"""

from contacts.models import ContactPoint, Role
from workflow import routing
from workflow.notifications import notify

# The headline of each kind of event, registered by the process apps from their
# AppConfig.ready() (`register_headlines`): the engine knows no process.
HEADLINES: dict[str, str] = {}


def register_headlines(headlines: dict) -> None:
    """Declare event kinds and their headlines (a kind is declared once)."""
    clash = set(headlines) & set(HEADLINES)
    if clash:
        raise ValueError(f"types d'événement déjà déclarés : {sorted(clash)}")
    HEADLINES.update(headlines)


def announce(
    kind: str,
    change_request,
    *,
    key: object,
    recipients,
    comment: str = "",
    link: str | None = None,
) -> int:
    """Write the messages of one event about a change request."""
    return notify(
        event=f"{kind}:{change_request.pk}:{key}",
        kind="event",
        organisation=change_request.organisation,
        recipients=recipients,
        context={
            "cr": change_request,
            "headline": HEADLINES[kind],
            "comment": comment,
        },
        link=link if link is not None else change_request.get_absolute_url(),
    )


def client(change_request, role: Role) -> list:
    """Holders of a client role in the request's organisation."""
    return routing.role_holders(role, change_request.organisation)


def supplier(role: Role) -> list:
    """Holders of a supplier role."""
    return routing.role_holders(role, routing.supplier())


def order_owner(change_request) -> list:
    """The supplier's owner of the request, when named."""
    user = change_request.order_owner
    return [routing.Recipient(user.email, user)] if user and user.email else []


def client_contacts(change_request, subject: str) -> list:
    """The client's contact points for a subject (annexe 3.1)."""
    return routing.contact_points(change_request.organisation, subject)


ROLLOUT = ContactPoint.Subject.EVOLUTION_ROLLOUT
