"""Registering an incident (incidents.services.incident_register): who may, the
dossier number, the deadlines kept from the policy in force, the journal."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from contacts.models import Organisation
from incidents.models import Incident
from incidents.services import incident_register
from workflow.models import AuditEntry, TransitionLog

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
FRIDAY_EVENING = datetime(2026, 12, 4, 19, 50, tzinfo=PARIS)


def user(username):
    return get_user_model().objects.get(username=username)


def client(code):
    return Organisation.objects.get(code=code)


def declaration(**changes):
    fields = {
        "kind": Incident.Kind.TECHNICAL,
        "gravity": Incident.Gravity.CRITICAL,
        "reporter_name": "Karim Haddad",
        "reporter_user_code": "KH23",
        "reporter_phone": "05 55 00 00 00",
        "reporter_email": "karim.haddad@cd23.invalid",
        "reporter_hours": "9 h – 18 h",
        "domain": "Flux DSG",
        "description": "Le flux DSG du jour n'est pas arrivé.",
        "detected_at": datetime(2026, 12, 4, 19, 40, tzinfo=PARIS),
    }
    return {**fields, **changes}


def test_a_client_declares_and_gets_its_number_and_deadlines_at_once(world):
    incident = incident_register(
        by=user("cd23.incidents"),
        organisation=client("23"),
        now=FRIDAY_EVENING,
        **declaration(),
    )
    assert incident.number == "INC-2026-00001"
    assert incident.status == Incident.Status.REGISTERED
    assert incident.level == Incident.Level.GSI
    assert incident.channel == Incident.Channel.PORTAL
    assert incident.take_in_due == datetime(2026, 12, 5, 6, 5, tzinfo=PARIS)
    assert incident.service_back_due == datetime(2026, 12, 5, 13, 50, tzinfo=PARIS)
    assert incident.policy["targets"]["prise_en_compte"] == {
        "minutes": 15,
        "clock": "plages",
    }
    log = TransitionLog.objects.get(object_id=incident.pk, transition="enregistrer")
    assert (log.source, log.target, log.by.username) == (
        "",
        "enregistre",
        "cd23.incidents",
    )
    entry = AuditEntry.objects.get(subject_id=str(incident.pk), action="transition")
    assert entry.organisation == "23"
    assert entry.detail["target"] == "enregistre"


def test_numbers_follow_each_other_and_start_again_each_year(world):
    by, cd57 = user("cd57.dsi"), client("57")
    first = incident_register(
        by=by, organisation=cd57, now=FRIDAY_EVENING, **declaration()
    )
    second = incident_register(
        by=by, organisation=cd57, now=FRIDAY_EVENING, **declaration()
    )
    next_year = incident_register(
        by=by,
        organisation=cd57,
        now=datetime(2027, 1, 4, 9, tzinfo=PARIS),
        **declaration(),
    )
    assert [first.number, second.number, next_year.number] == [
        "INC-2026-00001",
        "INC-2026-00002",
        "INC-2027-00001",
    ]


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("cd23.incidents", "57"),  # another client's
        ("cd23.testeur", "23"),  # not a declaring role
        ("cd23.porteur", "23"),
        ("cnaf.support2", "23"),  # level 2 does not register
    ],
)
def test_only_the_client_dsi_its_correspondent_or_the_gsi_register(
    world, username, code
):
    with pytest.raises(PermissionDenied):
        incident_register(
            by=user(username),
            organisation=client(code),
            now=FRIDAY_EVENING,
            **declaration(),
        )
    assert not Incident.objects.exists()


def test_the_gsi_records_a_call_or_an_email_for_any_client(world):
    gsi = user("cnaf.gsi")
    incident = incident_register(
        by=gsi,
        organisation=client("57"),
        channel=Incident.Channel.PHONE,
        now=FRIDAY_EVENING,
        **declaration(detected_at=None),
    )
    assert incident.channel == Incident.Channel.PHONE
    assert incident.registered_by == gsi
    with pytest.raises(ValidationError) as refused:
        incident_register(
            by=gsi,
            organisation=client("57"),
            channel=Incident.Channel.PORTAL,
            now=FRIDAY_EVENING,
            **declaration(),
        )
    assert "channel" in refused.value.message_dict
    with pytest.raises(ValidationError):
        incident_register(
            by=gsi,
            organisation=client("CNAF"),
            channel=Incident.Channel.PHONE,
            **declaration(),
        )


def test_a_client_says_when_it_detected_or_qualified_and_never_in_the_future(world):
    by, cd23 = user("cd23.dsi"), client("23")
    cases = [
        (declaration(detected_at=None), "detected_at"),
        (
            declaration(kind=Incident.Kind.FUNCTIONAL, detected_at=None),
            "qualified_at",
        ),
        (
            declaration(detected_at=datetime(2026, 12, 5, 9, tzinfo=PARIS)),
            "detected_at",
        ),
        (declaration(earlier_number="dossier 12"), "earlier_number"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as refused:
            incident_register(by=by, organisation=cd23, now=FRIDAY_EVENING, **fields)
        assert field in refused.value.message_dict
        assert all(message for message in refused.value.message_dict[field])
    assert not Incident.objects.exists()
    functional = incident_register(
        by=by,
        organisation=cd23,
        now=FRIDAY_EVENING,
        **declaration(
            kind=Incident.Kind.FUNCTIONAL,
            detected_at=None,
            qualified_at=datetime(2026, 12, 4, 9, tzinfo=PARIS),
            earlier_number=" inc-2026-00007 ",
        ),
    )
    assert functional.earlier_number == "INC-2026-00007"
    assert (functional.take_in_due, functional.service_back_due) == (None, None)


def test_required_fields_of_annexe_1_are_checked(world):
    with pytest.raises(ValidationError) as refused:
        incident_register(
            by=user("cd23.dsi"),
            organisation=client("23"),
            now=FRIDAY_EVENING,
            **declaration(reporter_phone="", description="", reporter_email="nope"),
        )
    assert {"reporter_phone", "description", "reporter_email"} <= set(
        refused.value.message_dict
    )
    assert not Incident.objects.exists()


def test_the_declaration_goes_to_both_sides_incident_contacts_only(world):
    from contacts.models import ContactPoint
    from workflow.models import Notification

    supplier = Organisation.objects.get(kind=Organisation.Kind.SUPPLIER)
    ContactPoint.objects.create(
        organisation=supplier,
        subject=ContactPoint.Subject.INCIDENT,
        label="Support",
        mailbox="support-accueil@cnaf.invalid",
    )
    for code in ("23", "57"):
        ContactPoint.objects.create(
            organisation=client(code),
            subject=ContactPoint.Subject.INCIDENT,
            label="DSI",
            mailbox=f"dsi@cd{code}.invalid",
        )
    incident = incident_register(
        by=user("cd23.incidents"),
        organisation=client("23"),
        now=FRIDAY_EVENING,
        **declaration(description="Le flux <b>DSG</b> manque."),
    )
    sent = Notification.objects.filter(event=f"incident_registered:{incident.pk}")
    addresses = set(sent.values_list("recipient_email", flat=True))
    assert {
        "support-accueil@cnaf.invalid",
        "dsi@cd23.invalid",
        user("cd23.incidents").email.lower(),
        user("cnaf.gsi").email.lower(),
    } <= addresses
    assert not any("cd57" in address for address in addresses)
    message = sent.first()
    assert incident.number in message.subject
    assert (
        "KH23" in message.body_text
        and "Le flux <b>DSG</b> manque." in message.body_text
    )
    assert "&lt;b&gt;DSG" in message.body_html and "<b>DSG" not in message.body_html
    # A message of the GSI goes to the client's incident contacts.
    from incidents.services import incident_inform, incident_take_in

    incident_take_in(pk=incident.pk, by=user("cnaf.gsi"))
    update = incident_inform(pk=incident.pk, by=user("cnaf.gsi"), body="On relance.")
    told = set(
        Notification.objects.filter(event=f"incident_update:{update.pk}").values_list(
            "recipient_email", flat=True
        )
    )
    assert "dsi@cd23.invalid" in told and "support-accueil@cnaf.invalid" not in told
    assert not any("cd57" in address for address in told)
