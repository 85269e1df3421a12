"""Concurrent actions on one change request, on PostgreSQL: exactly one wins."""

import pytest

from contacts.models import Role
from evolutions import services
from evolutions.models import ChangeRequest
from tests.integration.conftest import REPETITIONS, THREADS, race
from workflow.transitions import ActionRefused, history_of

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_concurrent_acknowledgements_have_exactly_one_winner(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    contact, commande = world.user("cnaf.contact"), world.user("cnaf.commande")

    for _ in range(REPETITIONS):
        cr = services.change_request_create(
            by=porteur, organisation=world.creuse, title="Course", kind="technique",
            data_flows=["DSG"], description="x",
        )  # fmt: skip
        services.change_request_submit(pk=cr.pk, by=porteur)

        outcomes = race(
            lambda pk=cr.pk: services.change_request_acknowledge(
                pk=pk, by=contact, order_owner=commande
            )
        )

        winners = [o for o in outcomes if isinstance(o, ChangeRequest)]
        losers = [o for o in outcomes if isinstance(o, ActionRefused)]
        assert (len(winners), len(losers)) == (1, THREADS - 1), outcomes
        assert all("En étude" in str(o) for o in losers)
        moves = [h for h in history_of(cr) if h.transition == "acknowledge"]
        assert len(moves) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_completions_of_one_task_make_one_next_task(world):
    from django.test import Client
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    from evolutions.flows import EvolutionFlow

    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    contact, commande = world.user("cnaf.contact"), world.user("cnaf.commande")
    node = EvolutionFlow.review_submission

    for _ in range(REPETITIONS):
        cr = services.change_request_create(
            by=porteur, organisation=world.creuse, title="Course", kind="technique",
            data_flows=["DSG"], description="x",
        )  # fmt: skip
        services.change_request_submit(pk=cr.pk, by=porteur)
        task = Task.objects.get(
            process__evolutionprocess__change_request=cr, flow_task=node
        )
        node.activation_class(task).assign(contact)
        url = node.reverse("execute", args=[task.process_id, task.pk])
        data = {"decision": "acknowledge", "order_owner": commande.pk}

        def complete(url=url, data=data):
            browser = Client()
            browser.force_login(contact)
            return browser.post(url, data).status_code

        outcomes = race(complete)

        # The others are told the task was already handled (409), nothing else.
        assert sorted(outcomes) == [302] + [409] * (THREADS - 1), outcomes
        next_tasks = Task.objects.filter(
            process_id=task.process_id, flow_task=EvolutionFlow.write_specification
        )
        assert next_tasks.count() == 1
        assert next_tasks.get().status == STATUS.ASSIGNED
        moves = [h for h in history_of(cr) if h.transition == "acknowledge"]
        assert len(moves) == 1
