"""Every human task of EvolutionFlow: the right role only, never another client."""

import pytest
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow

# node -> (a user who may act, a user of the right side with the wrong role)
ACTORS = {
    "review_submission": ("cnaf.contact", "cnaf.moe"),
    "complete_information": ("cd23.porteur", "cd23.testeur"),
    "write_specification": ("cnaf.commande", "cnaf.contact"),
    "review_specification": ("cd23.porteur", "cd23.dsi"),
    "write_quote": ("cnaf.commande", "cnaf.dsi"),
    "review_quote": ("cd23.porteur", "cd23.testeur"),
    "propose_release": ("cnaf.commande", "cnaf.moe"),
    "confirm_release": ("cd23.porteur", "cd23.dsi"),
    "start_manufacture": ("cnaf.moe", "cnaf.commande"),
    "finish_manufacture": ("cnaf.moe", "cnaf.contact"),
}


def test_every_human_node_is_covered():
    human = {
        node.name
        for node in EvolutionFlow.instance.nodes()
        if node.task_type == "HUMAN"
    }
    assert human == set(ACTORS)


@pytest.fixture
def open_tasks(world):
    evolutions_demo_load()
    tasks = Task.objects.filter(
        process__evolutionprocess__change_request__organisation__code="23",
        flow_task_type="HUMAN",
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )
    return {task.flow_task.name: task for task in tasks}


@pytest.mark.parametrize("node_name", sorted(ACTORS))
def test_task_urls_answer_by_role_and_organisation(
    world, client, open_tasks, node_name
):
    task = open_tasks[node_name]
    node = task.flow_task
    args = [task.process_id, task.pk]
    allowed, wrong_role = ACTORS[node_name]

    client.logout()
    response = client.get(node.reverse("execute", args=args))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))

    client.force_login(world.user("cd57.porteur"))
    for action in ("index", "detail", "assign", "execute"):
        assert client.get(node.reverse(action, args=args)).status_code == 404
        assert client.post(node.reverse(action, args=args)).status_code == 404

    client.force_login(world.user(wrong_role))
    if task.owner_id is None:
        assert client.post(node.reverse("assign", args=args)).status_code == 403
    assert client.post(node.reverse("execute", args=args)).status_code == 403

    client.force_login(world.user(allowed))
    if task.owner_id is None:
        assert client.post(node.reverse("assign", args=args)).status_code == 302
    assert client.get(node.reverse("execute", args=args)).status_code == 200
    assert Task.objects.get(pk=task.pk).status != STATUS.DONE
