"""A change request's status and EvolutionFlow's open tasks never disagree."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions import services
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, EvolutionProcess
from tests.consistency import assert_consistent, open_steps
from workflow.demo import complete_open_task

F = EvolutionFlow
S = ChangeRequest.Status


def _open_steps(change_request) -> list[str]:
    return open_steps(EvolutionProcess, change_request)


@pytest.fixture
def info_requested(world):
    porteur, contact = world.user("cd23.porteur"), world.user("cnaf.contact")
    cr = services.change_request_create(
        by=porteur,
        organisation=world.creuse,
        title="Contrôler la date présumée",
        kind="technique",
        data_flows=["DSG"],
        description="Refuser une déclaration sans date.",
    )
    services.change_request_submit(pk=cr.pk, by=porteur)
    complete_open_task(
        F.review_submission,
        contact,
        lambda: services.change_request_request_information(
            pk=cr.pk, by=contact, question="Combien par mois ?"
        ),
        evolutionprocess__change_request=cr,
    )
    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == S.INFO_REQUESTED
    return cr


def test_stale_submit_tab_after_information_request_is_refused(
    world, client, info_requested
):
    """Defect 1: an old "Soumettre" tab, posted after the CNAF asked for more
    information, moved the request on while the client's task stayed open."""
    cr = info_requested
    client.force_login(world.user("cd23.porteur"))

    response = client.post(reverse("evolutions:submit", args=[cr.pk]))

    assert response.status_code == 409
    assert "plus un brouillon" in response.content.decode()
    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == S.INFO_REQUESTED
    assert _open_steps(cr) == ["complete_information"]
    assert_consistent(cr)


def test_completing_the_information_resubmits_through_the_task_only(
    world, client, info_requested
):
    cr = info_requested
    porteur = world.user("cd23.porteur")
    with pytest.raises(services.ActionRefused, match="plus un brouillon"):
        services.change_request_submit(pk=cr.pk, by=porteur)
    task = Task.objects.get(
        process__evolutionprocess__change_request=cr,
        flow_task=F.complete_information,
        status=STATUS.NEW,
    )
    client.force_login(porteur)
    args = [task.process_id, task.pk]
    assert (
        client.post(F.complete_information.reverse("assign", args=args)).status_code
        == 302
    )
    form = {
        "title": cr.title,
        "kind": cr.kind,
        "data_flows": ["DSG"],
        "description": "Environ 300 par mois.",
        "comment": "Précisé.",
    }
    response = client.post(F.complete_information.reverse("execute", args=args), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == S.SUBMITTED
    assert _open_steps(cr) == ["review_submission"]
    assert_consistent(cr)
    # The task's service refuses to run without its task open.
    with pytest.raises(services.ActionRefused, match="Prendre en compte la demande"):
        services.change_request_resubmit(pk=cr.pk, by=porteur)


def test_check_consistency_names_every_bad_request(world, info_requested):
    call_command("check_consistency")  # the fixture's request is consistent
    # A status moved without its flow: what the stale tab used to do.
    ChangeRequest.objects.filter(pk=info_requested.pk).update(status=S.SUBMITTED)

    with pytest.raises(CommandError, match="1 dossier"):
        call_command("check_consistency")
