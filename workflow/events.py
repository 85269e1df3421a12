"""Events that reach someone, and who they reach: the engine's part.

Each process app declares its event kinds and headlines (`register_headlines`, from
its AppConfig.ready()).

Each event is about one business object, its subject (a change request, an
incident…: `reference`, `title`, `organisation`, `get_absolute_url()`), and is
announced with one headline; `announce()` writes its notification rows (see
workflow.notifications) in the caller's transaction. Messages only ever speak of
the subject concerned.
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
    subject,
    *,
    key: object,
    recipients,
    comment: str = "",
    link: str | None = None,
) -> int:
    """Write the messages of one event about `subject`."""
    return notify(
        event=f"{kind}:{subject.pk}:{key}",
        kind="event",
        organisation=subject.organisation,
        recipients=recipients,
        context={
            "subject": subject,
            "headline": HEADLINES[kind],
            "comment": comment,
        },
        link=link if link is not None else subject.get_absolute_url(),
    )


def client(subject, role: Role) -> list:
    """Holders of a client role in the subject's organisation."""
    return routing.role_holders(role, subject.organisation)


def supplier(role: Role) -> list:
    """Holders of a supplier role."""
    return routing.role_holders(role, routing.supplier())


def order_owner(subject) -> list:
    """The supplier's owner of the subject (its `order_owner`), when named."""
    user = subject.order_owner
    return [routing.Recipient(user.email, user)] if user and user.email else []


def client_contacts(about, topic: str) -> list:
    """The contact points of the client `about` belongs to, for a topic of
    annexe 3.1 (ContactPoint.Subject)."""
    return routing.contact_points(about.organisation, topic)


ROLLOUT = ContactPoint.Subject.EVOLUTION_ROLLOUT
