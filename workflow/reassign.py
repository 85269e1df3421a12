"""A supervisor gives a task to someone else (an absence, a workload to share).

The supervisors of a task are the IT director of the organisation whose role the
task waits for (DSI client, DSI fournisseur) and, for the supplier's tasks, its
evolutions contact, who dispatches the work. The new holder must hold the task's
role in that organisation. Done under the flow's lock, journalled (who, from whom,
to whom), and the new holder is notified.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext
from viewflow.workflow.status import STATUS

from contacts.models import Membership, Role
from workflow import access, audit
from workflow.flowviews import stale_task_reason
from workflow.locking import process_locked
from workflow.mytasks import step_title, subject_of
from workflow.notifications import Recipient, notify
from workflow.refusals import refusal_about
from workflow.reminders import acting
from workflow.transitions import ActionRefused

SUPERVISORS = {
    False: (Role.DSI_CLIENT,),  # a client's task
    True: (Role.DSI_FOURNISSEUR, Role.CONTACT_EVOLUTIONS),  # the supplier's
}


# Whoever holds none of these supervises no task: no need to read the task's
# organisation (a request's page asks for each of its open tasks).
_SUPERVISING = frozenset(role for roles in SUPERVISORS.values() for role in roles)


def may_reassign(user, task) -> bool:
    """Is the user a supervisor of this open task's organisation?"""
    if task.status not in (STATUS.NEW, STATUS.ASSIGNED):
        return False
    if not any(m.role in _SUPERVISING for m in access.memberships_of(user)):
        return False
    _role, organisation = acting(task)
    if organisation is None:
        return False
    return access.may_act_any(user, SUPERVISORS[organisation.is_supplier], organisation)


def candidates(task) -> list:
    """The active users holding the task's role in its organisation, by name."""
    role, organisation = acting(task)
    if organisation is None:
        return []
    users = get_user_model().objects.filter(
        is_active=True,
        pk__in=Membership.objects.filter(role=role, organisation=organisation).values(
            "user"
        ),
    )
    return sorted(users, key=lambda u: (u.last_name, u.first_name, u.username))


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def reassign(by, flow, task, to_user_pk: int) -> object:
    """Give the task to the user `to_user_pk`; returns that user."""
    if not may_reassign(by, task):
        raise PermissionDenied
    subject = subject_of(flow, task)
    with refusal_about(lambda: subject), process_locked(flow, task.process):
        current = flow.task_class._default_manager.select_related("owner").get(
            pk=task.pk
        )
        if current.status not in (STATUS.NEW, STATUS.ASSIGNED):
            raise ActionRefused(
                stale_task_reason(current) or gettext("Cette tâche n'est plus à faire.")
            )
        to_user = next((u for u in candidates(current) if u.pk == to_user_pk), None)
        if to_user is None:
            raise ActionRefused(
                gettext(
                    "Cette personne ne tient pas le rôle que la tâche demande dans "
                    "cet organisme."
                )
            )
        if current.owner_id == to_user.pk:
            raise ActionRefused(
                gettext("Cette tâche est déjà attribuée à %(name)s.")
                % {"name": _name(to_user)}
            )
        previous = current.owner
        activation = current.flow_task.activation_class(current)
        current.assigned = timezone.now()
        if current.status == STATUS.NEW:
            activation.assign(to_user)
        else:
            activation.reassign(to_user)
        audit.record(
            "tache_reattribuee",
            by=by,
            subject=subject,
            step=step_title(current),
            task=current.pk,
            previous=previous.get_username() if previous else "",
            to=to_user.get_username(),
        )
        if to_user.email:
            notify(
                event=f"task_reassigned:{current.pk}:{to_user.pk}:{timezone.now():%s}",
                kind="task_reassigned",
                recipients=[Recipient(to_user.email, to_user)],
                organisation=subject.organisation,
                link=subject.get_absolute_url(),
                context={
                    "subject": subject,
                    "step": step_title(current),
                    "by": _name(by),
                },
            )
    return to_user
