"""IncidentFlow walked through the HTTP test client: declared by client 23's
correspondent, taken in by the GSI, escalated to level 2, back in service,
confirmed by the client; each step by the right user only, the status and the
open tasks agreeing after each."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from incidents.consistency import incident_problems
from incidents.flows import IncidentFlow
from incidents.models import Incident, IncidentProcess

pytestmark = pytest.mark.django_db
F = IncidentFlow
S = Incident.Status


def user(username):
    return get_user_model().objects.get(username=username)


def declaration(**changes):
    detected = timezone.localtime() - timedelta(minutes=5)
    data = {
        "kind": "technique",
        "gravity": "majeure",
        "domain": "Flux DSG",
        "description": "Le flux DSG du jour n'est pas arrivé.",
        "detected_at": detected.strftime("%Y-%m-%dT%H:%M"),
        "reporter_name": "Karim Haddad",
        "reporter_phone": "05 55 00 00 00",
        "reporter_email": "karim.haddad@cd23.invalid",
    }
    return {**data, **changes}


def open_task(incident, node):
    return Task.objects.get(
        process__incidentprocess__incident=incident,
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def act(client, username, incident, node, data, *, expect=302):
    """Take the task (if free) and post its form; `expect` 403 or 404: the user
    may not even take it."""
    task = open_task(incident, node)
    client.force_login(user(username))
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        response = client.post(node.reverse("assign", args=args))
        if expect in (403, 404):
            assert response.status_code == expect, response
            return response
        assert response.status_code == 302, response
    response = client.post(node.reverse("execute", args=args), data)
    assert response.status_code == expect, response.content.decode()[:2000]
    current = Incident.objects.get(pk=incident.pk)
    assert not incident_problems(current), incident_problems(current)
    return response


def test_declared_taken_in_escalated_restored_and_confirmed(world, client):
    client.force_login(user("cd23.incidents"))
    response = client.post(reverse("incidents:declare"), declaration())
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    page = client.get(response["Location"])
    assert incident.number in page.content.decode()
    assert "Le GSI de la CNAF le prend en compte" in page.content.decode()

    # It waits in the GSI's « Mes tâches », in no one else's.
    client.force_login(user("cnaf.gsi"))
    home = client.get("/").content.decode()
    assert incident.number in home and "Prendre en compte l&#x27;incident" in home
    for username in ("cnaf.support2", "cd57.incidents", "cnaf.contact"):
        client.force_login(user(username))
        assert incident.number not in client.get("/").content.decode()
    # Only the GSI takes it in: level 2 may not even take the task.
    act(client, "cnaf.support2", incident, F.take_in, {}, expect=403)
    act(
        client,
        "cnaf.gsi",
        incident,
        F.take_in,
        {"kind": "technique", "gravity": "critique", "comment": "Bien reçu."},
    )
    assert Incident.objects.get(pk=incident.pk).status == S.TAKEN_IN
    act(
        client,
        "cnaf.gsi",
        incident,
        F.handle_gsi,
        {"decision": "escalate", "level": "2", "reason": "Chaîne CSN."},
    )
    assert Incident.objects.get(pk=incident.pk).level == "2"
    act(
        client,
        "cnaf.support2",
        incident,
        F.handle_second,
        {"decision": "restore", "resolution": "Flux relancé."},
    )
    assert Incident.objects.get(pk=incident.pk).status == S.SERVICE_BACK
    act(client, "cd57.incidents", incident, F.confirm, {}, expect=404)
    act(client, "cd23.incidents", incident, F.confirm, {"decision": "confirm"})
    closed = Incident.objects.get(pk=incident.pk)
    assert closed.status == S.CLOSED
    assert IncidentProcess.objects.get(incident=closed).status == PROCESS.DONE


def test_a_reopened_incident_goes_back_to_the_level_that_holds_it(world, client):
    client.force_login(user("cd23.dsi"))
    client.post(reverse("incidents:declare"), declaration())
    incident = Incident.objects.get()
    act(
        client,
        "cnaf.gsi",
        incident,
        F.take_in,
        {"kind": "technique", "gravity": "majeure"},
    )
    act(
        client,
        "cnaf.gsi",
        incident,
        F.handle_gsi,
        {"decision": "restore", "resolution": "Relancé."},
    )
    # A blank reason: the form again, a 400, nothing moved.
    act(
        client,
        "cd23.incidents",
        incident,
        F.confirm,
        {"decision": "reopen"},
        expect=400,
    )
    act(
        client,
        "cd23.incidents",
        incident,
        F.confirm,
        {"decision": "reopen", "reason": "Toujours rien."},
    )
    assert Incident.objects.get(pk=incident.pk).status == S.TAKEN_IN
    assert open_task(incident, F.handle_gsi)


def test_the_gsi_records_a_call_for_a_client(world, client):
    client.force_login(user("cnaf.gsi"))
    data = declaration(
        organisation=world.creuse.pk, channel="telephone", detected_at=""
    )
    response = client.post(reverse("incidents:declare"), data)
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.organisation, incident.channel) == (world.creuse, "telephone")
    # The supplier is not a client: the field offers the clients only.
    response = client.post(
        reverse("incidents:declare"),
        declaration(organisation=world.supplier.pk, channel="telephone"),
    )
    assert response.status_code == 400
    assert Incident.objects.count() == 1


def test_bad_input_is_a_400_with_the_form_and_nothing_saved(world, client):
    client.force_login(user("cd23.incidents"))
    response = client.post(
        reverse("incidents:declare"),
        declaration(detected_at="", reporter_email="pas une adresse", kind="x"),
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Indiquez quand" in body or "Sélectionnez un choix valide" in body
    assert not Incident.objects.exists()


def test_who_may_declare_and_who_sees(world, client):
    client.force_login(user("cd23.testeur"))
    assert client.get(reverse("incidents:declare")).status_code == 403
    client.force_login(user("cd23.incidents"))
    client.post(reverse("incidents:declare"), declaration())
    incident = Incident.objects.get()
    detail = reverse("incidents:detail", args=[incident.pk])
    for username, status in [
        ("cd23.testeur", 200),  # its own organisation's incident
        ("cd57.dsi", 404),
        ("cd57.incidents", 404),
        ("cnaf.support3", 200),
        ("cnaf.admin", 404),  # reference data only
    ]:
        client.force_login(user(username))
        assert client.get(detail).status_code == status, username
    client.force_login(user("cd57.incidents"))
    listing = client.get(reverse("incidents:index")).content.decode()
    assert incident.number not in listing


def test_page_actions_check_role_and_state(world, client):
    client.force_login(user("cd23.incidents"))
    client.post(reverse("incidents:declare"), declaration())
    incident = Incident.objects.get()
    message = reverse("incidents:message", args=[incident.pk])
    assert client.post(message, {"body": "Des nouvelles ?"}).status_code == 302
    assert client.post(message, {"body": ""}).status_code == 400
    workaround = reverse("incidents:workaround", args=[incident.pk])
    assert (
        client.post(
            workaround, {"workaround_scope": "partiel", "workaround": "x"}
        ).status_code
        == 403
    )
    client.force_login(user("cd57.incidents"))
    assert client.post(message, {"body": "Fuite ?"}).status_code == 404
    client.force_login(user("cnaf.gsi"))
    # Not taken in yet: no workaround (a 409 naming the state).
    response = client.post(
        workaround, {"workaround_scope": "partiel", "workaround": "x"}
    )
    assert response.status_code == 409
    assert incident.updates.count() == 1
