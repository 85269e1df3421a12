"""Inbox and queue read viewflow's task table by step names (workflow/flowviews.py)."""

import pytest
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task

from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from recette.demo import recette_demo_load
from recette.flows import RecetteFlow


@pytest.mark.parametrize("flow_class", [EvolutionFlow, RecetteFlow])
def test_every_human_task_waits_for_a_permission(flow_class):
    # The queues leave out tasks without a permission (viewflow shows them to
    # everyone): none of ours may be one.
    nodes = flow_class.human_nodes()

    assert nodes
    assert all(node._owner_permission for node in nodes)
    assert len(flow_class.human_steps()) == len(nodes)


def test_no_waiting_task_of_the_demo_lacks_a_permission(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()

    human = Task.objects.filter(flow_task_type="HUMAN")

    assert human.filter(status="NEW").exists()
    assert not human.filter(owner_permission__isnull=True).exists()
    steps = set(EvolutionFlow.human_steps()) | set(RecetteFlow.human_steps())
    stored = {get_task_ref(node) for node in human.values_list("flow_task", flat=True)}
    assert stored <= steps
