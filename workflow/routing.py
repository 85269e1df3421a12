"""Who receives a message: the people of a role, and the contact points of annexe 3."""

from contacts.models import ContactPoint, Membership, Organisation
from workflow.notifications import Recipient


def role_holders(role: str, organisation: Organisation) -> list[Recipient]:
    """The active users holding `role` for `organisation`, as in-app recipients."""
    memberships = Membership.objects.filter(
        role=role, organisation=organisation, user__is_active=True
    ).select_related("user")
    return [Recipient(m.user.email, m.user) for m in memberships if m.user.email]


def contact_points(organisation: Organisation, subject: str) -> list[Recipient]:
    """The organisation's contact points for a subject (annexe 3)."""
    points = ContactPoint.objects.filter(
        organisation=organisation, subject=subject
    ).select_related("person__user")
    return [
        Recipient(point.address, point.person.user if point.person_id else None)
        for point in points
        if point.address
    ]


def supplier() -> Organisation:
    return Organisation.objects.get(kind=Organisation.Kind.SUPPLIER)
