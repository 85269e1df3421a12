"""Due dates of human tasks, in working days of the party that must act."""

from datetime import date

from django.conf import settings
from django.utils import timezone

from contacts.models import Organisation
from workflow import statements
from workflow.access import permission_organisation_code
from workflow.calendars import add_working_days
from workflow.models import StepDeadline


def step_key(node) -> str:
    """The StepDeadline key of a node, e.g. 'evolutions.evolution.write_quote'."""
    flow = node.flow_class.instance
    return f"{flow.app_label}.{flow.flow_label}.{node.name}"


def configured_days() -> dict[str, int]:
    """Working days configured by the administrators, by step key (one statement
    written once: « Mes tâches » and a request's page read it each time,
    workflow/statements.py)."""
    connection, sql = statements.prepared("deadlines", StepDeadline, _configured_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def _configured_sql(connection) -> str:
    column = statements.columns(StepDeadline, connection)
    return (
        f"SELECT {column['step']}, {column['working_days']}"  # noqa: S608 - names from the model
        f" FROM {statements.table(StepDeadline, connection)}"
    )


def acting_departement(task) -> str | None:
    """Whose calendar applies: the organisation named in the task's permission."""
    return permission_departement(task.owner_permission)


def permission_departement(permission: str | None) -> str | None:
    """The département whose calendar a task waiting for `permission` follows
    (None: the supplier's, the national one)."""
    code = permission_organisation_code(permission or "")
    return None if code in (None, Organisation.SUPPLIER_CODE) else code


def task_due_date(task, configured: dict[str, int] | None = None) -> date | None:
    """When the task is due, or None when its step has no deadline."""
    configured = configured_days() if configured is None else configured
    days = step_days(task.flow_task, configured)
    if days is None:
        return None
    created = timezone.localdate(task.created)
    return add_working_days(created, days, acting_departement(task))


def step_days(node, configured: dict[str, int]) -> int | None:
    """The working days a task of `node` has (None: no deadline): configured by
    the administrators, or the flow's default."""
    defaults = getattr(node.flow_class, "deadlines", {})
    return configured.get(step_key(node), defaults.get(node.name))


def is_overdue(due: date | None) -> bool:
    """Is a due date already past (today still counts)?"""
    return due is not None and due < timezone.localdate()


def reminder_days() -> int:
    """How many working days before a task is due its reminder goes out."""
    return int(getattr(settings, "TANDEM_REMINDER_DAYS", 2))


def reminder_date(due: date, departement: str | None) -> date:
    """The working day the reminder of a task due on `due` is sent."""
    return add_working_days(due, -reminder_days(), departement)


def deadline_levels(task, today: date, configured: dict[str, int]) -> list[str]:
    """Which messages a task deserves today: "rappel" before it is due (from the
    reminder date), "relance" once it is overdue."""
    due = task_due_date(task, configured)
    if due is None:
        return []
    if today > due:
        return ["relance"]
    if today >= reminder_date(due, acting_departement(task)):
        return ["rappel"]
    return []
