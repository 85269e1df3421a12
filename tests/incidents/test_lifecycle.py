"""An incident's life after registration (incidents.services): taken in by the
GSI, the information thread, escalation between levels with a reason, the
workaround, service back, the client's confirmation or reopening, and the close
without an answer. Each move checks role, organisation and state on the server."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from contacts.models import Organisation
from incidents import services
from incidents.models import Escalation, Incident
from workflow.models import AuditEntry, TransitionLog
from workflow.transitions import ActionRefused

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
FRIDAY_EVENING = datetime(2026, 12, 4, 19, 50, tzinfo=PARIS)
L = Incident.Level


def user(username):
    return get_user_model().objects.get(username=username)


def registered(kind=Incident.Kind.TECHNICAL, gravity=Incident.Gravity.CRITICAL):
    return services.incident_register(
        by=user("cd23.incidents"),
        organisation=Organisation.objects.get(code="23"),
        now=FRIDAY_EVENING,
        kind=kind,
        gravity=gravity,
        reporter_name="Karim Haddad",
        reporter_phone="05 55 00 00 00",
        reporter_email="karim.haddad@cd23.invalid",
        domain="Flux DSG",
        description="Le flux DSG du jour n'est pas arrivé.",
        detected_at=datetime(2026, 12, 4, 19, 40, tzinfo=PARIS),
        qualified_at=datetime(2026, 12, 4, 19, 40, tzinfo=PARIS),
    )


def taken_in(**kwargs):
    incident = registered(**kwargs)
    return services.incident_take_in(pk=incident.pk, by=user("cnaf.gsi"))


def moves(incident):
    return list(
        TransitionLog.objects.filter(object_id=incident.pk)
        .order_by("pk")
        .values_list("transition", "source", "target")
    )


def test_the_gsi_takes_in_and_only_the_gsi(world):
    incident = registered()
    for username in ("cnaf.support2", "cd23.incidents", "cnaf.dsi"):
        with pytest.raises(PermissionDenied):
            services.incident_take_in(pk=incident.pk, by=user(username))
    services.incident_take_in(pk=incident.pk, by=user("cnaf.gsi"), comment="Reçu.")
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == Incident.Status.TAKEN_IN
    assert incident.taken_in_by == user("cnaf.gsi")
    with pytest.raises(ActionRefused, match="Pris en compte"):
        services.incident_take_in(pk=incident.pk, by=user("cnaf.gsi"))
    assert moves(incident) == [
        ("enregistrer", "", "enregistre"),
        ("take_in", "enregistre", "pris_en_compte"),
    ]


def test_a_type_corrected_at_take_in_sets_the_deadlines_from_the_kept_policy(
    world, settings
):
    incident = registered(kind=Incident.Kind.FUNCTIONAL)
    assert incident.take_in_due is None
    # Changed after registration: the incident keeps the policy it was given.
    settings.TANDEM_INCIDENT_CLOCK_TAKE_IN = "continu"
    services.incident_take_in(
        pk=incident.pk, by=user("cnaf.gsi"), kind=Incident.Kind.TECHNICAL
    )
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.kind == Incident.Kind.TECHNICAL
    assert incident.take_in_due == datetime(2026, 12, 5, 6, 5, tzinfo=PARIS)
    assert incident.service_back_due == datetime(2026, 12, 5, 13, 50, tzinfo=PARIS)
    with pytest.raises(ValidationError):
        services.incident_take_in(pk=registered().pk, by=user("cnaf.gsi"), kind="x")


def test_both_sides_write_in_the_thread_and_no_one_else(world):
    incident = taken_in()
    for username in ("cd23.incidents", "cd23.dsi", "cnaf.gsi", "cnaf.support3"):
        services.incident_inform(pk=incident.pk, by=user(username), body="Point.")
    assert incident.updates.count() == 4
    for username in ("cd23.testeur", "cd57.incidents", "cnaf.commande"):
        with pytest.raises(PermissionDenied):
            services.incident_inform(pk=incident.pk, by=user(username), body="Point.")
    with pytest.raises(ValidationError):
        services.incident_inform(pk=incident.pk, by=user("cnaf.gsi"), body="  ")
    assert incident.updates.count() == 4


def test_escalation_goes_up_and_back_with_a_reason_by_the_level_that_holds_it(world):
    incident = taken_in()
    gsi, n2, n3 = user("cnaf.gsi"), user("cnaf.support2"), user("cnaf.support3")
    with pytest.raises(ValidationError):
        services.incident_escalate(pk=incident.pk, by=gsi, level=L.SECOND, reason="")
    with pytest.raises(PermissionDenied):  # level 1 is the GSI's
        services.incident_escalate(pk=incident.pk, by=n2, level=L.THIRD, reason="x")
    with pytest.raises(ActionRefused, match="niveaux 2 et 3"):
        services.incident_escalate(pk=incident.pk, by=gsi, level=L.CRISIS, reason="x")
    services.incident_escalate(
        pk=incident.pk, by=gsi, level=L.SECOND, reason="Chaîne CSN"
    )
    with pytest.raises(PermissionDenied):  # level 2 now: not level 3's
        services.incident_escalate(pk=incident.pk, by=n3, level=L.THIRD, reason="x")
    services.incident_escalate(pk=incident.pk, by=n2, level=L.THIRD, reason="MOE")
    services.incident_escalate(pk=incident.pk, by=n3, level=L.CRISIS, reason="Majeur")
    services.incident_escalate(
        pk=incident.pk, by=user("cnaf.crise"), level=L.GSI, reason="Résolu"
    )
    with pytest.raises(ActionRefused, match="déjà"):
        services.incident_escalate(pk=incident.pk, by=gsi, level=L.GSI, reason="x")
    hops = list(
        Escalation.objects.filter(incident=incident).values_list(
            "from_level", "to_level", "reason", "by__username"
        )
    )
    assert hops == [
        ("1", "2", "Chaîne CSN", "cnaf.gsi"),
        ("2", "3", "MOE", "cnaf.support2"),
        ("3", "crise", "Majeur", "cnaf.support3"),
        ("crise", "1", "Résolu", "cnaf.crise"),
    ]
    journal = AuditEntry.objects.filter(
        subject_id=str(incident.pk), detail__transition="escalader"
    )
    assert journal.count() == 4


def test_a_minor_incident_gets_no_crisis_unit(world):
    incident = taken_in(gravity=Incident.Gravity.MINOR)
    gsi = user("cnaf.gsi")
    services.incident_escalate(pk=incident.pk, by=gsi, level=L.SECOND, reason="x")
    with pytest.raises(ActionRefused):
        services.incident_escalate(pk=incident.pk, by=gsi, level=L.CRISIS, reason="x")


def test_a_registered_incident_is_not_escalated_before_it_is_taken_in(world):
    incident = registered()
    with pytest.raises(ActionRefused):
        services.incident_escalate(
            pk=incident.pk, by=user("cnaf.gsi"), level=L.SECOND, reason="x"
        )


def test_workaround_service_back_and_the_client_confirms(world):
    incident = taken_in()
    gsi, client = user("cnaf.gsi"), user("cd23.incidents")
    with pytest.raises(ValidationError):
        services.incident_work_around(
            pk=incident.pk, by=gsi, scope="", workaround="Relance manuelle"
        )
    services.incident_work_around(
        pk=incident.pk, by=gsi, scope="partiel", workaround="Relance manuelle"
    )
    with pytest.raises(PermissionDenied):  # the client does not restore
        services.incident_restore(pk=incident.pk, by=client, resolution="x")
    services.incident_restore(pk=incident.pk, by=gsi, resolution="Flux relancé")
    for username in ("cd57.incidents", "cnaf.gsi", "cd23.testeur"):
        with pytest.raises(PermissionDenied):
            services.incident_confirm(pk=incident.pk, by=user(username))
    services.incident_confirm(pk=incident.pk, by=client)
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == Incident.Status.CLOSED
    assert incident.confirmed_at == incident.closed_at
    assert not incident.closed_automatically
    assert moves(incident)[2:] == [
        ("work_around", "pris_en_compte", "contourne"),
        ("restore", "contourne", "remis_en_service"),
        ("confirm", "remis_en_service", "clos"),
    ]
    with pytest.raises(ActionRefused):
        services.incident_inform(pk=incident.pk, by=client, body="Encore ?")


def test_the_client_reopens_with_a_reason(world):
    incident = taken_in()
    services.incident_restore(pk=incident.pk, by=user("cnaf.gsi"), resolution="x")
    with pytest.raises(ValidationError):
        services.incident_reopen(pk=incident.pk, by=user("cd23.dsi"), reason="")
    services.incident_reopen(
        pk=incident.pk, by=user("cd23.dsi"), reason="Le flux manque toujours."
    )
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == Incident.Status.TAKEN_IN
    assert incident.service_back_at is None
    log = TransitionLog.objects.filter(object_id=incident.pk).latest("pk")
    assert (log.transition, log.comment) == ("reopen", "Le flux manque toujours.")


def test_an_unanswered_service_back_closes_after_the_working_days(world, settings):
    settings.TANDEM_INCIDENT_CONFIRM_DAYS = 5
    incident = taken_in()
    back = datetime(2026, 12, 4, 10, 0, tzinfo=PARIS)  # a Friday
    services.incident_restore(
        pk=incident.pk, by=user("cnaf.gsi"), resolution="x", now=back
    )
    # Five working days of the client: Monday 7 to Friday 11 December.
    last_day = datetime(2026, 12, 11, 23, 0, tzinfo=PARIS)
    assert services.incident_close_unanswered(pk=incident.pk, now=last_day) is None
    closed = services.incident_close_unanswered(
        pk=incident.pk, now=datetime(2026, 12, 14, 0, 5, tzinfo=PARIS)
    )
    assert closed.status == Incident.Status.CLOSED
    assert closed.closed_automatically and closed.confirmed_at is None
    log = TransitionLog.objects.filter(object_id=incident.pk).latest("pk")
    assert (log.transition, log.by) == ("close_unanswered", None)
    assert "5 jours ouvrés" in log.comment
    assert services.incident_close_unanswered(pk=incident.pk) is None
