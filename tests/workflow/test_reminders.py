"""Reminders before a task is due and escalations after, on the acting party's
working days, each at most once per task and level."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest
from workflow.deadlines import step_key
from workflow.models import Notification, StepDeadline
from workflow.reminders import send_deadline_messages

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def demo(world):
    evolutions_demo_load()
    Notification.objects.all().delete()
    return world


def _task(code: str, status: str, node):
    cr = ChangeRequest.objects.get(organisation__code=code, status=status)
    task = Task.objects.get(
        process__evolutionprocess__change_request=cr,
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )
    return cr, task


def _created(task, day: date):
    Task.objects.filter(pk=task.pk).update(
        created=datetime(day.year, day.month, day.day, 9, tzinfo=PARIS)
    )


def _count(cr) -> int:
    return Notification.objects.filter(
        event__regex=rf"^(rappel|relance):{cr.pk}:"
    ).count()


def _recipients(level: str, cr) -> set[str]:
    return set(
        Notification.objects.filter(event__startswith=f"{level}:{cr.pk}:").values_list(
            "recipient_email", flat=True
        )
    )


def test_supplier_task_due_after_ascension_for_client_23(demo):
    cr, task = _task("23", "soumise", EvolutionFlow.review_submission)
    _created(task, date(2027, 5, 3))  # 5 working days: due Tue 11 May (Ascension 6)

    send_deadline_messages(today=date(2027, 5, 6))
    assert _count(cr) == 0
    send_deadline_messages(today=date(2027, 5, 7))  # two working days before
    assert _recipients("rappel", cr) == {"cnaf.contact@demo.tandem.invalid"}
    send_deadline_messages(today=date(2027, 5, 7))  # never twice
    send_deadline_messages(today=date(2027, 5, 11))  # due day: already reminded
    assert _count(cr) == 1

    send_deadline_messages(today=date(2027, 5, 12))
    assert _recipients("relance", cr) == {"cnaf.dsi@demo.tandem.invalid"}
    send_deadline_messages(today=date(2027, 5, 13))
    assert _count(cr) == 2


def test_client_task_across_good_friday_for_client_57(demo):
    cr, task = _task("57", "complement_demande", EvolutionFlow.complete_information)
    StepDeadline.objects.create(
        step=step_key(EvolutionFlow.complete_information), working_days=3
    )
    # 3 working days in Moselle from Tue 23 March 2027: 24, 25, then Good Friday
    # (26, Moselle) and Easter Monday (29) are skipped: due Tue 30; reminder two
    # working days before: Wed 24.
    _created(task, date(2027, 3, 23))

    send_deadline_messages(today=date(2027, 3, 23))
    assert _count(cr) == 0
    send_deadline_messages(today=date(2027, 3, 24))
    assert _recipients("rappel", cr) == {"cd57.porteur@demo.tandem.invalid"}
    send_deadline_messages(today=date(2027, 3, 30))
    assert _count(cr) == 1
    send_deadline_messages(today=date(2027, 3, 31))
    assert _recipients("relance", cr) == {"cd57.dsi@demo.tandem.invalid"}
    send_deadline_messages(today=date(2027, 4, 1))
    assert _count(cr) == 2


def test_assigned_task_reminds_its_owner_only(demo):
    cr, task = _task("23", "cdc_a_valider", EvolutionFlow.review_specification)
    porteur = demo.user("cd23.porteur")
    EvolutionFlow.review_specification.activation_class(task).assign(porteur)
    _created(task, date(2027, 1, 4))  # 10 working days: due Mon 18 January

    send_deadline_messages(today=date(2027, 1, 14))

    assert _recipients("rappel", cr) == {"cd23.porteur@demo.tandem.invalid"}
    assert (
        Notification.objects.get(event__startswith=f"rappel:{cr.pk}:").recipient_user
        == porteur
    )
