"""Writes on organisations and their reference data."""

from django.db import transaction

from contacts.models import ContactPoint, Organisation, SupportHours
from contacts.reference import (
    CD_SUPPORT_HOURS,
    CNAF_CONTACT_POINTS,
    CNAF_SUPPORT_HOURS,
    DEPARTEMENTS,
    SUPPLIER_NAME,
)


def reference_data_load() -> dict[str, int]:
    """Create the missing reference rows; never duplicates nor overwrites edits.

    Loads the supplier, the 101 client organisations, the CNAF's contact points of
    annexe 3 and the support hours of annexe 1 (for organisations that have none yet,
    so that hours edited in the admin are kept).
    """
    created = {"organisations": 0, "contact_points": 0, "support_hours": 0}
    with transaction.atomic():
        supplier, supplier_created = Organisation.objects.get_or_create(
            code=Organisation.SUPPLIER_CODE,
            defaults={"kind": Organisation.Kind.SUPPLIER, "name": SUPPLIER_NAME},
        )
        created["organisations"] += supplier_created

        existing = set(Organisation.objects.values_list("code", flat=True))
        missing = [
            Organisation(code=code, kind=Organisation.Kind.CLIENT, name=name)
            for code, name in DEPARTEMENTS.items()
            if code not in existing
        ]
        Organisation.objects.bulk_create(missing)
        created["organisations"] += len(missing)

        subjects_present = set(
            ContactPoint.objects.filter(organisation=supplier).values_list(
                "subject", flat=True
            )
        )
        new_points = [
            ContactPoint(
                organisation=supplier,
                subject=subject,
                label=label,
                mailbox=mailbox,
                phone=phone,
            )
            for subject, label, mailbox, phone in CNAF_CONTACT_POINTS
            if subject not in subjects_present
        ]
        ContactPoint.objects.bulk_create(new_points)
        created["contact_points"] = len(new_points)

        with_hours = set(SupportHours.objects.values_list("organisation_id", flat=True))
        new_hours = [
            SupportHours(organisation=org, weekday=weekday, opens=opens, closes=closes)
            for org in Organisation.objects.exclude(pk__in=with_hours)
            for weekday, intervals in (
                CNAF_SUPPORT_HOURS if org.is_supplier else CD_SUPPORT_HOURS
            ).items()
            for opens, closes in intervals
        ]
        SupportHours.objects.bulk_create(new_hours)
        created["support_hours"] = len(new_hours)
    return created
