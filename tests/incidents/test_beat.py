"""The incidents' beat job: warnings at 75 % and 100 % of a target, once per
incident, target and threshold; the close without the client's answer, with
its notice and the flow ended."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from viewflow.workflow.status import PROCESS

from contacts.models import Organisation
from incidents import services
from incidents.consistency import incident_problems
from incidents.models import Incident, IncidentProcess
from incidents.tasks import incident_clocks
from workflow.models import Notification

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
TUESDAY = datetime(2026, 12, 8, 9, 0, tzinfo=PARIS)


def user(username):
    return get_user_model().objects.get(username=username)


def registered(now=TUESDAY):
    return services.incident_register(
        by=user("cd23.incidents"),
        organisation=Organisation.objects.get(code="23"),
        now=now,
        kind=Incident.Kind.TECHNICAL,
        gravity=Incident.Gravity.MAJOR,
        reporter_name="Karim Haddad",
        reporter_phone="05 55 00 00 00",
        reporter_email="karim.haddad@cd23.invalid",
        domain="Flux DSG",
        description="Panne",
        detected_at=now - timedelta(minutes=5),
    )


def warned(incident, target, threshold):
    return set(
        Notification.objects.filter(
            event=f"incident_clock:{incident.pk}:{target}:{threshold}"
        ).values_list("recipient_email", flat=True)
    )


def test_warnings_at_three_quarters_then_past_the_deadline_once_each(world):
    incident = registered()  # taking in due at 9:15
    gsi, dsi = user("cnaf.gsi").email.lower(), user("cnaf.dsi").email.lower()
    assert services.incident_clock_warnings(TUESDAY + timedelta(minutes=10)) == 0
    services.incident_clock_warnings(TUESDAY + timedelta(minutes=12))
    assert warned(incident, "prise_en_compte", 75) == {gsi}
    assert warned(incident, "prise_en_compte", 100) == set()
    services.incident_clock_warnings(TUESDAY + timedelta(minutes=16))
    assert warned(incident, "prise_en_compte", 100) == {gsi, dsi}
    # Beat runs again: nothing new.
    assert services.incident_clock_warnings(TUESDAY + timedelta(minutes=20)) == 0
    # Taken in: the taking-in clock stops; service back (due 17:00) runs on,
    # level 2's pool warned once the incident is theirs.
    services.incident_take_in(pk=incident.pk, by=user("cnaf.gsi"))
    services.incident_escalate(
        pk=incident.pk, by=user("cnaf.gsi"), level="2", reason="CSN"
    )
    services.incident_clock_warnings(TUESDAY + timedelta(hours=6, minutes=1))
    n2 = user("cnaf.support2").email.lower()
    assert warned(incident, "remise_en_service", 75) == {n2}


def test_no_warning_for_a_closed_or_functional_incident(world):
    functional = services.incident_register(
        by=user("cd23.incidents"),
        organisation=Organisation.objects.get(code="23"),
        now=TUESDAY,
        kind=Incident.Kind.FUNCTIONAL,
        gravity=Incident.Gravity.MINOR,
        reporter_name="K",
        reporter_phone="0",
        reporter_email="k@cd23.invalid",
        domain="Flux",
        description="Données",
        qualified_at=TUESDAY,
    )
    assert services.incident_clock_warnings(TUESDAY + timedelta(days=30)) == 0
    assert not Notification.objects.filter(
        event__contains=f":{functional.pk}:"
    ).exists()


def test_an_unanswered_service_back_closes_with_a_notice_and_ends_the_flow(
    world, settings
):
    from incidents.flows import IncidentFlow
    from workflow.demo import complete_open_task

    settings.TANDEM_INCIDENT_CONFIRM_DAYS = 5
    incident = registered()
    gsi = user("cnaf.gsi")
    here = {"incidentprocess__incident": incident}
    complete_open_task(
        IncidentFlow.take_in,
        gsi,
        lambda: services.incident_take_in(pk=incident.pk, by=gsi),
        **here,
    )
    complete_open_task(
        IncidentFlow.handle_gsi,
        gsi,
        lambda: services.incident_restore(
            pk=incident.pk, by=gsi, resolution="x", now=TUESDAY + timedelta(hours=1)
        ),
        **here,
    )
    # Five working days: Wednesday 9 to Tuesday 15 December.
    assert (
        services.incidents_close_unanswered(datetime(2026, 12, 15, 23, tzinfo=PARIS))
        == []
    )
    closed = services.incidents_close_unanswered(
        datetime(2026, 12, 16, 8, tzinfo=PARIS)
    )
    assert [i.pk for i in closed] == [incident.pk]
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == Incident.Status.CLOSED and incident.closed_automatically
    assert IncidentProcess.objects.get(incident=incident).status == PROCESS.CANCELED
    assert not incident_problems(incident)
    notice = Notification.objects.filter(
        event=f"incident_closed_unanswered:{incident.pk}"
    )
    assert user("cd23.incidents").email.lower() in set(
        notice.values_list("recipient_email", flat=True)
    )
    assert "5 jours ouvrés" in notice.first().body_text


def test_the_beat_task_runs_both(world):
    assert incident_clocks() == {"warned": 0, "closed": 0}
