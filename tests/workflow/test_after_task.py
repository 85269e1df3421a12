"""After a task: the user lands on the object's page, told what was done and who
acts next, by when (workflow/nextsteps.py, workflow/taskviews.py); a task page
reached again once the task is done or taken says by whom, with the object's link."""

import re
from html import unescape

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.flows import EvolutionFlow
from recette.models import RecetteProcess
from tests.workflow.test_mytasks import (
    _execute_url,
    _open_url,
    _second_porteur,
    _waiting_review_quote,
)
from workflow import deadlines, nextsteps
from workflow.mytasks import deadline_text, working_days_left


def _text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def _decide_quote(client, porteur, task):
    client.force_login(porteur)
    client.post(_open_url(task))
    return client.post(
        _execute_url(task), {"decision": "yes", "comment": ""}, follow=True
    )


def test_after_a_task_the_user_lands_on_the_request_told_who_acts_next(demo, client):
    task = _waiting_review_quote("23")
    change_request = task.process.coerced.subject

    response = _decide_quote(client, demo.user("cd23.porteur"), task)

    assert response.redirect_chain[-1] == (change_request.get_absolute_url(), 302)
    following = Task.objects.get(
        flow_task=EvolutionFlow.propose_release,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
        process=task.process,
    )
    due = deadlines.task_due_date(following)
    left = working_days_left(due, timezone.localdate(), None)
    owner = following.owner
    assert owner is not None  # the order owner, by the flow's .Assign
    message = (
        "Votre décision sur le devis est enregistrée. Étape suivante : "
        f"« Proposer une version », pour {owner.get_full_name()}, d'ici le "
        f"{date_format(due, 'SHORT_DATE_FORMAT')} ({deadline_text(left)})."
    )
    assert message in _text(response)


def test_a_step_waiting_for_a_role_names_the_role_and_the_organisation(demo):
    task = _waiting_review_quote("23")  # for any porteur of client 23
    order_owner = demo.user("cnaf.commande")

    step = nextsteps.what_comes_next(
        task.process.coerced.subject, task.process, task.created, order_owner
    )

    assert step.startswith(
        "Étape suivante : « Accepter ou refuser le devis », pour Porteur de la "
        "demande (23 – Creuse), d'ici le "
    ), step


def test_the_end_of_manufacture_names_the_acceptance_step_it_opens(demo, client):
    moe = demo.user("cnaf.moe")
    task = Task.objects.filter(
        flow_task=EvolutionFlow.finish_manufacture,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
        process__evolutionprocess__change_request__organisation__code="23",
    ).first()
    assert task is not None, "the demo has a request in manufacture"
    client.force_login(moe)
    client.post(reverse("task_open", args=[EvolutionFlow.url_name, task.pk]))

    response = client.post(_execute_url(task), {"comment": ""}, follow=True)

    change_request = task.process.coerced.subject
    assert response.redirect_chain[-1][0] == change_request.get_absolute_url()
    text = _text(response)
    assert "Étape suivante : « Préparer le plan de recette »" in text, text[-3000:]


def test_after_an_acceptance_task_the_user_lands_on_the_acceptance(demo):
    process = RecetteProcess.objects.first()

    assert process.landing_url == reverse(
        "recettes:detail", args=[process.change_request_id]
    )


def test_back_to_a_done_task_says_by_whom_and_links_to_the_request(demo, client):
    porteur, task = demo.user("cd23.porteur"), _waiting_review_quote("23")
    _decide_quote(client, porteur, task)
    task.refresh_from_db()

    response = client.get(_execute_url(task))  # the browser's "back"

    assert response.status_code == 200
    when = timezone.localtime(task.finished)
    text = _text(response)
    assert (
        f"Cette tâche a déjà été traitée par Julie Bernard le "
        f"{date_format(when, 'DATE_FORMAT')} à {date_format(when, 'TIME_FORMAT')}."
    ) in text
    assert "no transition" not in text
    change_request = task.process.coerced.subject
    assert f'href="{change_request.get_absolute_url()}"' in response.content.decode()


def test_a_task_taken_by_someone_else_says_so_on_its_page(demo, client):
    task = _waiting_review_quote("23")
    client.force_login(demo.user("cd23.porteur"))
    client.post(_open_url(task))

    client.force_login(_second_porteur(demo))
    response = client.get(_execute_url(task))

    assert response.status_code == 200
    assert "Cette tâche a été prise par Julie Bernard le" in _text(response)
    task.refresh_from_db()
    assert task.owner.username == "cd23.porteur"
