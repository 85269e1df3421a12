from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from contacts.models import (
    ContactPoint,
    Membership,
    Organisation,
    Person,
    Role,
    SupportHours,
)
from contacts.services import reference_data_load
from workflow.calendars import opening_hours_of


def test_loading_reference_data_twice_keeps_one_supplier_and_101_clients(db):
    first = reference_data_load()
    second = reference_data_load()

    assert first["organisations"] == 102
    assert second == {"organisations": 0, "contact_points": 0, "support_hours": 0}
    assert Organisation.objects.filter(kind="fournisseur").count() == 1
    assert Organisation.objects.filter(kind="client").count() == 101
    assert Organisation.objects.values("code").distinct().count() == 102
    assert ContactPoint.objects.count() == 4
    assert SupportHours.objects.filter(organisation__code="CNAF").count() == 6
    assert SupportHours.objects.filter(organisation__code="23").count() == 5


def test_cnaf_contact_points_of_annexe_3(db):
    reference_data_load()

    points = {
        p.subject: p.mailbox
        for p in ContactPoint.objects.filter(organisation__code="CNAF")
    }
    assert points == {
        "incident": "support-accueil.dsi-doit@cnaf.fr",
        "securite": "florimond@cnaf.fr",
        "expression_besoin": "flux-pmi.projet@cnaf.fr",
        "reclamation": "flux-pmi.projet@cnaf.fr",
    }


def test_reloading_keeps_support_hours_edited_by_an_administrator(db):
    reference_data_load()
    SupportHours.objects.filter(organisation__code="23", weekday=0).update(
        opens=time(8, 30)
    )

    reference_data_load()

    monday = SupportHours.objects.get(organisation__code="23", weekday=0)
    assert monday.opens == time(8, 30)


def test_there_can_be_only_one_supplier(db):
    reference_data_load()

    with pytest.raises(IntegrityError), transaction.atomic():
        Organisation.objects.create(code="XX", kind="fournisseur", name="Autre")


def test_client_code_must_be_a_departement(db):
    organisation = Organisation(code="20", kind="client", name="Corse")

    with pytest.raises(ValidationError, match="n'est pas un code de département"):
        organisation.full_clean()


def test_client_role_cannot_be_held_for_the_supplier(world):
    membership = Membership(
        user=world.user("cnaf.moe"), organisation=world.supplier, role=Role.TESTEUR
    )

    with pytest.raises(ValidationError, match="n'existe pas pour cet organisme"):
        membership.full_clean()


def test_contact_point_needs_a_person_or_a_mailbox(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactPoint.objects.create(organisation=world.creuse, subject="incident")


def test_contact_point_person_must_belong_to_the_organisation(world):
    someone_of_57 = Person.objects.filter(organisation=world.moselle).first()
    point = ContactPoint(
        organisation=world.creuse, subject="incident", person=someone_of_57
    )

    with pytest.raises(ValidationError, match="appartenir à cet organisme"):
        point.full_clean()


def test_support_hours_must_open_before_they_close(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportHours.objects.create(
            organisation=world.creuse, weekday=5, opens=time(18), closes=time(9)
        )


def test_opening_hours_follow_the_organisation_rows_and_calendar(world):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    cnaf = opening_hours_of(world.supplier)
    start = datetime(2027, 5, 15, 15, 20, tzinfo=paris)

    assert cnaf.add(start, timedelta(minutes=15)) == datetime(
        2027, 5, 18, 6, 5, tzinfo=paris
    )
    # Good Friday is a holiday in Moselle: the CD's 9:00-18:00 support is closed.
    moselle = opening_hours_of(world.moselle)
    creuse = opening_hours_of(world.creuse)
    good_friday_noon = datetime(2027, 3, 26, 12, tzinfo=paris)
    assert not moselle.is_open(good_friday_noon)
    assert creuse.is_open(good_friday_noon)
