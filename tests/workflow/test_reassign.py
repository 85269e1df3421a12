"""A supervisor reassigns a task (workflow/reassign.py): the IT director of the
organisation the task waits in (and, at the CNAF, the evolutions contact), to a
holder of the task's role only; journalled and notified; nobody else may."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Membership, Role
from evolutions.flows import EvolutionFlow
from tests.workflow.test_mytasks import _second_porteur, _waiting_review_quote
from workflow.models import AuditEntry, Notification


def _url(task) -> str:
    return reverse("task_reassign", args=[EvolutionFlow.url_name, task.pk])


def _order_owner_task() -> Task:
    """A supplier task the flow gave to the order owner (client 23's request)."""
    return (
        Task.objects.filter(
            flow_task=EvolutionFlow.write_quote,
            status=STATUS.ASSIGNED,
            process__evolutionprocess__change_request__organisation__code="23",
        ).first()
        or Task.objects.filter(
            flow_task__in=[
                EvolutionFlow.write_specification,
                EvolutionFlow.propose_release,
            ],
            status=STATUS.ASSIGNED,
            process__evolutionprocess__change_request__organisation__code="23",
        ).first()
    )


def _second_order_owner(world):
    user = get_user_model().objects.create_user(
        "cnaf.commande2", first_name="Inès", last_name="Garnier", email="i@cnaf.invalid"
    )
    Membership.objects.create(
        user=user, organisation=world.supplier, role=Role.PORTEUR_COMMANDE
    )
    return user


def test_the_client_dsi_gives_a_waiting_task_to_a_porteur(demo, client):
    task, second = _waiting_review_quote("23"), _second_porteur(demo)
    second.email = "anne.roux@cd23.invalid"
    second.save()
    client.force_login(demo.user("cd23.dsi"))

    form = client.get(_url(task))
    response = client.post(_url(task), {"to": second.pk}, follow=True)

    assert form.status_code == 200
    assert "Anne Roux" in form.content.decode()
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, second)
    assert "est attribuée à Anne Roux" in response.content.decode()
    entry = AuditEntry.objects.filter(action="tache_reattribuee").get()
    assert (entry.actor, entry.detail["to"]) == ("cd23.dsi", "cd23.porteur2")
    assert Notification.objects.filter(
        kind="task_reassigned", recipient_user=second
    ).exists()


def test_the_cnaf_contact_moves_a_task_from_one_order_owner_to_another(demo, client):
    task = _order_owner_task()
    assert task is not None
    first, second = task.owner, _second_order_owner(demo)
    client.force_login(demo.user("cnaf.contact"))

    client.post(_url(task), {"to": second.pk})

    task.refresh_from_db()
    assert task.owner == second and task.owner != first
    entry = AuditEntry.objects.filter(action="tache_reattribuee").get()
    assert entry.detail["previous"] == first.get_username()


@pytest.mark.parametrize("username", ["cd23.porteur", "cd23.testeur", "cnaf.contact"])
def test_no_one_but_the_supervisor_reassigns_a_client_task(demo, client, username):
    task, second = _waiting_review_quote("23"), _second_porteur(demo)
    client.force_login(demo.user(username))

    response = client.post(_url(task), {"to": second.pk})

    assert response.status_code == 403
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)


def test_another_clients_dsi_does_not_even_find_the_task(demo, client):
    task = _waiting_review_quote("23")
    client.force_login(demo.user("cd57.dsi"))

    assert client.get(_url(task)).status_code == 404


def test_the_task_goes_only_to_a_holder_of_its_role(demo, client):
    task = _waiting_review_quote("23")
    tester = demo.user("cd23.testeur")
    client.force_login(demo.user("cd23.dsi"))

    refused = client.post(_url(task), {"to": tester.pk})
    empty = client.post(_url(task), {"to": ""})

    assert refused.status_code == 400  # not among the choices
    assert empty.status_code == 400
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)


def test_the_request_page_offers_reassignment_to_its_supervisor_only(demo, client):
    task = _waiting_review_quote("23")
    change_request = task.process.coerced.subject
    page = reverse("evolutions:detail", args=[change_request.pk])

    client.force_login(demo.user("cd23.dsi"))
    dsi = client.get(page).content.decode()
    client.force_login(demo.user("cd23.porteur"))
    porteur = client.get(page).content.decode()

    assert f'href="{_url(task)}"' in dsi
    assert f'href="{_url(task)}"' not in porteur
