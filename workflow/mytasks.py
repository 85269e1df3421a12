"""« Mes tâches »: every task a user may do now, in every process, in one list.

The engine knows no process: it reads the flows that `ScopedFlowMixin` recorded
(`workflow.flowviews.SCOPED_FLOWS`) and, of each task's process, only its
`subject` (reference, title, organisation, get_absolute_url). A task is the user's
to do when it is assigned to them (viewflow's inbox rule) or waits for one of their
roles in an organisation (its queue rule): `assigned_to` and `waiting_for`, scoped
by the access rules like every other list.

The list is built in two passes, so that its cost follows the page and not the
queue: the candidate tasks are read bare (no join but the scoping's), filtered,
given their due dates and sorted; then only the page's tasks are read with their
process, subject and organisation (one query per flow).

Opening a waiting task takes it (`take`), "Rendre la tâche" gives it back
(`give_back`): both re-check the rules on the server, under the flow's lock.

A process app may also put links on the home page of the holders of a role
(`register_home_link`, from its AppConfig.ready()).
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import CharField, F
from django.db.models.functions import Cast, TruncDate
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Organisation, Role
from workflow import access, consistency, deadlines
from workflow.calendars import working_days_between
from workflow.flowviews import (
    SCOPED_FLOWS,
    flow_named,
    stale_task_reason,
    taken_task_reason,
)
from workflow.locking import process_locked
from workflow.refusals import refusal_about
from workflow.transitions import ActionRefused

PAGE_SIZE = 50

# --- Links on the home page, declared by the process apps ---------------------------


@dataclass(frozen=True)
class HomeLink:
    label: str
    url_name: str
    roles: frozenset[str]
    # The GET parameter that narrows the page to the user's own objects (set to
    # the user's id), e.g. the change-request list's "owner".
    user_parameter: str | None = None


_HOME_LINKS: list[HomeLink] = []


def register_home_link(label, url_name: str, roles, user_parameter=None) -> None:
    """Show a link to `url_name` on the home page of the holders of any of `roles`
    (role values), once per URL and parameter. The first link a user gets is
    drawn as the page's main action."""
    link = HomeLink(
        label, url_name, frozenset(Role(role).value for role in roles), user_parameter
    )
    if any(
        (known.url_name, known.user_parameter) == (url_name, user_parameter)
        for known in _HOME_LINKS
    ):
        raise ValueError(f"lien d'accueil déjà déclaré : {url_name}")
    _HOME_LINKS.append(link)


def home_links(user) -> list[dict]:
    """The links of the roles the user holds, in registration order: `label`,
    `url`, `primary` (the first)."""
    held = {membership.role for membership in access.memberships_of(user)}
    links = []
    for link in _HOME_LINKS:
        if not link.roles & held:
            continue
        url = reverse(link.url_name)
        if link.user_parameter:
            url = f"{url}?{urlencode({link.user_parameter: user.pk})}"
        links.append({"label": link.label, "url": url, "primary": not links})
    return links


# --- Deadlines in words ----------------------------------------------------------


def working_days_left(due: date, today: date, departement: str | None) -> int:
    """Working days from `today` to `due` in the calendar of `departement`: 0 on the
    day, negative once it is past (at least one day late the day after, even over
    a weekend)."""
    if due < today:
        return -max(1, working_days_between(due, today, departement))
    return working_days_between(today, due, departement)


def deadline_text(days_left: int | None) -> str:
    """« dans 3 jours ouvrés », « aujourd'hui », « en retard de 2 jours ouvrés »."""
    if days_left is None:
        return gettext("sans échéance")
    if days_left > 0:
        return ngettext(
            "dans %(n)d jour ouvré", "dans %(n)d jours ouvrés", days_left
        ) % {"n": days_left}
    if days_left == 0:
        return gettext("aujourd'hui")
    late = -days_left
    return ngettext(
        "en retard de %(n)d jour ouvré", "en retard de %(n)d jours ouvrés", late
    ) % {"n": late}


# --- The list -----------------------------------------------------------------------

URGENT_FIRST = "echeance"
URGENT_LAST = "-echeance"
SORTS = (
    (URGENT_FIRST, _("Échéance la plus proche d'abord")),
    (URGENT_LAST, _("Échéance la plus lointaine d'abord")),
)


def process_label(flow) -> str:
    """What the process is called in the filter: its app's name."""
    return str(capfirst(flow.process_class._meta.app_config.verbose_name))


class MyTasksFilters(forms.Form):
    """The list's filters and sort (GET). A bad value is ignored, the others
    apply; the field says what was wrong."""

    processus = forms.ChoiceField(label=_("Processus"), required=False)
    organisme = forms.ChoiceField(label=_("Organisme"), required=False)
    tri = forms.ChoiceField(label=_("Tri"), required=False, choices=SORTS)

    def __init__(self, *args, flows, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["processus"].choices = [
            ("", _("Tous")),
            *((flow.url_name, process_label(flow)) for flow in flows),
        ]
        self.fields["organisme"].choices = [
            ("", _("Tous")),
            *((o.code, str(o)) for o in organisations),
        ]

    def value(self, name: str) -> str:
        """The field's valid value, or "" (not sent, or refused)."""
        if not self.is_bound:
            return ""
        self.is_valid()
        return self.cleaned_data.get(name) or ""


def step_title(task) -> str:
    """The task's step in plain French (« Valider le cahier des charges »)."""
    return consistency.step_title(task.flow_task)


@dataclass
class TaskRow:
    """One line of the list: the task, what it is about, when it is due."""

    task: Task
    flow: type
    subject: object
    organisation: Organisation
    due: date | None
    days_left: int | None

    @property
    def step(self) -> str:
        return step_title(self.task)

    @property
    def mine(self) -> bool:
        return self.task.status == STATUS.ASSIGNED

    @property
    def deadline(self) -> str:
        return deadline_text(self.days_left)

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0

    @property
    def execute_url(self) -> str:
        return self.task.flow_task.reverse(
            "execute", args=[self.task.process_id, self.task.pk]
        )

    @property
    def open_url(self) -> str:
        return reverse("task_open", args=[self.flow.url_name, self.task.pk])

    @property
    def give_back_url(self) -> str:
        return reverse("task_give_back", args=[self.flow.url_name, self.task.pk])


@dataclass
class MyTasks:
    page: Page  # of TaskRow
    count: int  # every task the user may do, before the filters
    filters: MyTasksFilters
    sort: str
    query: str  # the filters, without the page, for the page links
    filtered: bool  # by process or organisation


class _Candidate(NamedTuple):
    """A task the user may do, as the first pass reads it."""

    flow: type
    pk: int
    created: datetime
    organisation_pk: int
    due: date | None
    days_left: int | None


def _candidates(user, flows) -> list[_Candidate]:
    """Every task the user may do now, in every flow, with its due date.

    Read as bare values (no model instance, the step as its stored reference) and
    dated once per step, day and acting organisation: thousands of waiting tasks
    cost a few milliseconds, not a due-date computation each."""
    configured = deadlines.configured_days()
    today = timezone.localdate()
    dated: dict[tuple, tuple[date | None, int | None]] = {}
    found = []
    for flow in flows:
        nodes = {get_task_ref(node): node for node in flow.human_nodes()}
        tasks = flow.assigned_to(user) | flow.waiting_for(user)
        rows = (
            flow.scope_tasks(tasks, user)
            .select_related(None)
            .order_by()
            .annotate(
                step=Cast("flow_task", CharField()),
                day=TruncDate("created"),
                organisation_pk=F(flow.task_organisation_path()),
            )
            .values_list(
                "pk", "step", "created", "day", "owner_permission", "organisation_pk"
            )
        )
        for pk, step, created, day, permission, organisation_pk in rows:
            key = (step, day, permission)
            if key not in dated:
                dated[key] = _due(nodes[step], created, permission, configured, today)
            found.append(_Candidate(flow, pk, created, organisation_pk, *dated[key]))
    return found


def _due(node, created, permission, configured, today):
    """(due date, working days left) of a task of `node` created at `created`
    for the holders of `permission`."""
    task = Task(flow_task=node, created=created, owner_permission=permission)
    due = deadlines.task_due_date(task, configured)
    if due is None:
        return None, None
    return due, working_days_left(due, today, deadlines.acting_departement(task))


def my_tasks(user, query: QueryDict | None = None) -> MyTasks:
    """The user's tasks, filtered and sorted by `query` (the page's GET)."""
    query = QueryDict() if query is None else query
    flows = list(SCOPED_FLOWS)
    candidates = _candidates(user, flows)
    organisations = list(
        Organisation.objects.filter(pk__in={c.organisation_pk for c in candidates})
    )
    filters = MyTasksFilters(query or None, flows=flows, organisations=organisations)
    flow_name, code = filters.value("processus"), filters.value("organisme")
    sort = filters.value("tri") or URGENT_FIRST
    organisation_pk = next((o.pk for o in organisations if o.code == code), None)
    chosen = [
        candidate
        for candidate in candidates
        if (not flow_name or candidate.flow.url_name == flow_name)
        and (not code or candidate.organisation_pk == organisation_pk)
    ]
    chosen.sort(key=_sort_key(sort))
    page = Paginator(chosen, PAGE_SIZE).get_page(query.get("page"))
    page.object_list = _rows(user, page.object_list, organisations)
    kept = query.copy()
    kept.pop("page", None)
    return MyTasks(
        page=page,
        count=len(candidates),
        filters=filters,
        sort=sort,
        query=kept.urlencode(),
        filtered=bool(flow_name or code),
    )


def _sort_key(sort: str):
    """Tasks without a deadline last either way, then the oldest first."""
    sign = -1 if sort == URGENT_LAST else 1

    def key(candidate: _Candidate):
        due = candidate.due
        return (
            due is None,
            sign * due.toordinal() if due else 0,
            candidate.created,
            candidate.pk,
        )

    return key


def _rows(user, candidates, organisations) -> list[TaskRow]:
    """The page's tasks read whole (one query per flow), in the page's order."""
    by_pk = {o.pk: o for o in organisations}
    loaded = {}
    for flow in {candidate.flow for candidate in candidates}:
        pks = [candidate.pk for candidate in candidates if candidate.flow is flow]
        tasks = flow.scope_tasks(
            flow.task_class._default_manager.filter(pk__in=pks), user
        )
        loaded |= {task.pk: task for task in tasks}
    rows = []
    for candidate in candidates:
        task = loaded.get(candidate.pk)
        if task is None:  # done or gone between the two reads
            continue
        subject = subject_of(candidate.flow, task)
        rows.append(
            TaskRow(
                task=task,
                flow=candidate.flow,
                subject=subject,
                organisation=by_pk.get(candidate.organisation_pk, subject.organisation),
                due=candidate.due,
                days_left=candidate.days_left,
            )
        )
    return rows


# --- Taking a task, giving it back ---------------------------------------------------


def task_of(user, flow_name: str, task_pk: int):
    """(flow, task) for a human task the user may see; 404 otherwise (an unknown
    flow, another client's task, a task that is not a person's)."""
    flow = flow_named(flow_name)
    if flow is None:
        raise Http404
    tasks = flow.task_class._default_manager.filter(
        pk=task_pk, flow_task__in=flow.human_steps()
    )
    task = flow.scope_tasks(tasks, user).first()
    if task is None:
        raise Http404
    return flow, task


def subject_of(flow, task):
    """What the task's process runs on (a change request…)."""
    return getattr(task.process, flow.process_class_name()).subject


def _may_act(user, task) -> bool:
    """Does the user hold the task, or the role (in the organisation) it waits for?"""
    return task.owner_id == user.pk or bool(
        task.owner_permission and user.has_perm(task.owner_permission)
    )


def _current(flow, task):
    """The task as it is now, read under the flow's lock."""
    return flow.task_class._default_manager.select_related("owner").get(pk=task.pk)


def take(user, flow, task) -> str:
    """Assign a waiting task to the user (viewflow's assign, under the flow's
    lock); the URL of its page. A task already the user's is just opened."""
    if not _may_act(user, task):
        raise PermissionDenied
    node = task.flow_task
    with (
        refusal_about(lambda: subject_of(flow, task)),
        process_locked(flow, task.process),
    ):
        current = _current(flow, task)
        if current.status == STATUS.NEW:
            may_take = flow.waiting_for(user).filter(pk=current.pk).exists()
            if not (may_take and node.can_assign(user, current)):
                raise PermissionDenied
            # viewflow records no time of assignment: "prise par X le …" needs it.
            current.assigned = timezone.now()
            node.activation_class(current).assign(user)
        elif current.status != STATUS.ASSIGNED:
            raise ActionRefused(
                stale_task_reason(current) or gettext("Cette tâche n'est plus à faire.")
            )
        elif current.owner_id != user.pk:
            raise ActionRefused(taken_task_reason(current))
    return node.reverse("execute", args=[task.process_id, task.pk])


def give_back(user, flow, task) -> None:
    """Unassign a task of the user's: it waits again for its role."""
    if not _may_act(user, task):
        raise PermissionDenied
    node = task.flow_task
    with (
        refusal_about(lambda: subject_of(flow, task)),
        process_locked(flow, task.process),
    ):
        current = _current(flow, task)
        if current.status == STATUS.NEW:
            raise ActionRefused(
                gettext(
                    "Cette tâche ne vous est plus attribuée : elle attend d'être prise."
                )
            )
        if current.status != STATUS.ASSIGNED:
            raise ActionRefused(
                stale_task_reason(current) or gettext("Cette tâche n'est plus à faire.")
            )
        if current.owner_id != user.pk:
            raise ActionRefused(taken_task_reason(current))
        current.assigned = None
        node.activation_class(current).unassign()
