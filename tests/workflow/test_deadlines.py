from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from viewflow.workflow.models import Task

from contacts.models import Role
from evolutions import services
from evolutions.flows import EvolutionFlow
from workflow.deadlines import acting_departement, step_key, task_due_date
from workflow.models import StepDeadline

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def submitted_57(world):
    porteur = world.client_user(world.moselle, Role.PORTEUR_DEMANDE)
    cr = services.change_request_create(
        by=porteur, organisation=world.moselle, title="x", kind="technique",
        data_flows=["DSG"], description="x",
    )  # fmt: skip
    services.change_request_submit(pk=cr.pk, by=porteur)
    return cr


def _task(cr, node):
    return Task.objects.get(
        process__evolutionprocess__change_request=cr, flow_task=node
    )


def _created_on(task, day: date) -> Task:
    Task.objects.filter(pk=task.pk).update(
        created=datetime(day.year, day.month, day.day, 10, tzinfo=PARIS)
    )
    return Task.objects.get(pk=task.pk)


def test_supplier_task_uses_the_national_calendar(submitted_57):
    task = _created_on(
        _task(submitted_57, EvolutionFlow.review_submission), date(2027, 5, 5)
    )

    assert acting_departement(task) is None
    # 5 working days from Wed 5 May 2027, Ascension (Thu 6) skipped.
    assert task_due_date(task) == date(2027, 5, 13)


def test_client_task_uses_its_departements_calendar(world, client, submitted_57):
    contact = world.user("cnaf.contact")
    review = _task(submitted_57, EvolutionFlow.review_submission)
    activation = EvolutionFlow.review_submission.activation_class(review)
    activation.assign(contact)
    activation.start(None)
    services.change_request_request_information(
        pk=submitted_57.pk, by=contact, question="?"
    )
    activation.execute()
    complete = _task(submitted_57, EvolutionFlow.complete_information)
    StepDeadline.objects.create(step=step_key(EvolutionFlow.complete_information),
                                working_days=1)  # fmt: skip

    task = _created_on(complete, date(2027, 3, 25))

    assert acting_departement(task) == "57"
    # Good Friday 26 March 2027 is a holiday in Moselle: due on Monday 29 is
    # Easter Monday, so Tuesday 30.
    assert task_due_date(task) == date(2027, 3, 30)


def test_configured_deadline_overrides_the_default(submitted_57):
    task = _created_on(
        _task(submitted_57, EvolutionFlow.review_submission), date(2027, 1, 4)
    )
    StepDeadline.objects.create(
        step=step_key(EvolutionFlow.review_submission), working_days=2
    )

    assert task_due_date(task) == date(2027, 1, 6)


def test_overdue_task_stands_out_in_my_tasks_and_detail(world, client, submitted_57):
    _created_on(_task(submitted_57, EvolutionFlow.review_submission), date(2020, 1, 6))
    client.force_login(world.user("cnaf.contact"))

    queue = client.get("/").content.decode()
    detail = client.get(reverse("evolutions:detail", args=[submitted_57.pk]))

    assert "Échéance" in queue and "en retard" in queue
    assert "échéance dépassée : 13/01/2020" in detail.content.decode()
