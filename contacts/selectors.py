"""Reads on organisations that are not about visibility (see workflow.access)."""

from collections import defaultdict

from contacts.models import Organisation
from workflow.calendars import OpeningHours


def opening_hours_of(organisation: Organisation) -> OpeningHours:
    """The organisation's support hours (annexe 1) with its public holidays."""
    weekly: dict[int, list] = defaultdict(list)
    for hours in organisation.support_hours.all():
        weekly[hours.weekday].append((hours.opens, hours.closes))
    return OpeningHours(weekly, departement=organisation.departement)
