"""What a user is told once a task is done: what comes next, for whom, by when.

The steps an action opened are the human tasks created since it started, in any
process on the same subject (the end of a change request's manufacture opens its
acceptance's first step). Read after the action, under its transaction.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Role
from workflow import consistency, deadlines
from workflow.mytasks import deadline_text, working_days_left
from workflow.reminders import acting

OPEN = (STATUS.NEW, STATUS.ASSIGNED)


@dataclass
class NextStep:
    step: str
    who: str
    due: date | None
    deadline: str  # « dans 3 jours ouvrés »

    def sentence(self) -> str:
        if self.due is None:
            return gettext("« %(step)s », pour %(who)s.") % {
                "step": self.step,
                "who": self.who,
            }
        return gettext(
            "« %(step)s », pour %(who)s, d'ici le %(due)s (%(deadline)s)."
        ) % {
            "step": self.step,
            "who": self.who,
            "due": date_format(self.due, "SHORT_DATE_FORMAT"),
            "deadline": self.deadline,
        }


def _who(task, user) -> str:
    if task.owner_id is not None:
        if task.owner_id == user.pk:
            return gettext("vous")
        return task.owner.get_full_name() or task.owner.get_username()
    role, organisation = acting(task)
    if role is None:
        return gettext("l'équipe concernée")
    label = Role(role).label if role in Role.values else role
    if organisation is None:
        return str(label)
    return f"{label} ({organisation})"


def _next_step(task, user, today: date) -> NextStep:
    due = deadlines.task_due_date(task)
    days_left = (
        None
        if due is None
        else working_days_left(due, today, deadlines.acting_departement(task))
    )
    return NextStep(
        step=consistency.step_title(task.flow_task),
        who=_who(task, user),
        due=due,
        deadline=deadline_text(days_left),
    )


def opened_since(subject, since: datetime) -> list[Task]:
    """The human tasks on `subject` created since `since` and still to do."""
    tasks = (
        Task.objects.filter(created__gte=since, flow_task_type="HUMAN", status__in=OPEN)
        .select_related("owner", "process")
        .order_by("pk")
    )
    return [
        task
        for task in tasks
        if getattr(task.process.coerced, "subject", None) == subject
    ]


def what_comes_next(subject, process, since: datetime, user) -> str:
    """« Étape suivante : « Valider le devis », pour Porteur de la demande
    (23 – Creuse), d'ici le 18/12/2026 (dans 10 jours ouvrés). »"""
    tasks = opened_since(subject, since) or list(consistency.open_tasks(process))
    tasks = [task for task in tasks if task.flow_task_type == "HUMAN"]
    if not tasks:
        return gettext("Aucune autre étape n'attend sur ce dossier pour l'instant.")
    today = timezone.localdate()
    sentences = " ".join(_next_step(task, user, today).sentence() for task in tasks)
    return ngettext(
        "Étape suivante : %(steps)s", "Étapes suivantes : %(steps)s", len(tasks)
    ) % {"steps": sentences}
