"""Deadline reminders and escalations, sent by Celery beat once a day (or more).

A reminder goes to whoever must act (the task's owner, else its role pool) from a
few working days before the due date; an escalation goes to the DSI of the acting
organisation once the task is overdue. Each is sent at most once per task and
level: its event key is the task and the level, and the outbox keeps one message
per event and recipient.
"""

from django.db import transaction
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Organisation, Role
from workflow import deadlines, routing
from workflow.access import ROLE_PERMISSION_PREFIX, permission_organisation_code
from workflow.notifications import Recipient, notify


def acting(task) -> tuple[str | None, Organisation | None]:
    """The role and organisation a task's permission names (None, None for a task
    without one): who acts, for reminders, « Mes tâches » and reassignment."""
    permission = task.owner_permission or ""
    code = permission_organisation_code(permission)
    if code is None:
        return None, None
    role = permission[len(ROLE_PERMISSION_PREFIX) + 1 : -len(code) - 1]
    return role, Organisation.objects.filter(code=code).first()


def _who_must_act(task, role, organisation) -> list[Recipient]:
    if task.owner_id and task.owner.email:
        return [Recipient(task.owner.email, task.owner)]
    if role and organisation:
        return routing.role_holders(role, organisation)
    return []


def _dsi_of(organisation: Organisation) -> list[Recipient]:
    role = Role.DSI_FOURNISSEUR if organisation.is_supplier else Role.DSI_CLIENT
    return routing.role_holders(role, organisation)


def send_deadline_messages(today=None) -> int:
    """Write today's reminders and escalations; returns how many rows were new."""
    today = today or timezone.localdate()
    configured = deadlines.configured_days()
    written = 0
    open_tasks = Task.objects.filter(
        flow_task_type="HUMAN", status__in=[STATUS.NEW, STATUS.ASSIGNED]
    ).select_related("owner", "process")
    for task in open_tasks:
        levels = deadlines.deadline_levels(task, today, configured)
        if not levels:
            continue
        subject = getattr(task.process.coerced, "subject", None)
        role, organisation = acting(task)
        if subject is None or organisation is None:
            continue
        due = deadlines.task_due_date(task, configured)
        for level in levels:
            recipients = (
                _who_must_act(task, role, organisation)
                if level == "rappel"
                else _dsi_of(organisation)
            )
            with transaction.atomic():
                written += notify(
                    event=f"{level}:{subject.pk}:{task.pk}",
                    kind=f"deadline_{level}",
                    organisation=subject.organisation,
                    recipients=recipients,
                    context={
                        "subject": subject,
                        "task_title": task.flow_task.task_title,
                        "due": due,
                        "acting": organisation,
                    },
                    link=subject.get_absolute_url(),
                )
    return written
