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
from functools import lru_cache
from html import escape
from typing import NamedTuple
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.status import STATUS

from contacts.models import Organisation, Role
from workflow import access, consistency, deadlines, statements
from workflow.calendars import add_working_days, working_days_between
from workflow.flowviews import (
    SCOPED_FLOWS,
    flow_named,
    stale_task_reason,
    taken_task_reason,
    to_do_by,
)
from workflow.forms import QuickSelect
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

    # Printed in one pass: the supplier's list names a hundred organisations.
    processus = forms.ChoiceField(
        label=_("Processus"), required=False, widget=QuickSelect
    )
    organisme = forms.ChoiceField(
        label=_("Organisme"), required=False, widget=QuickSelect
    )
    tri = forms.ChoiceField(
        label=_("Tri"), required=False, choices=SORTS, widget=QuickSelect
    )

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


# Stand-ins for the ids in a URL reversed once and filled in per row: reverse()
# (through viewflow's namespaces, for a task) costs more than the rest of a row.
_PROCESS_MARKER, _ID_MARKER = 999_999_991, 999_999_992


class TaskLinks:
    """The URLs of one page's task rows (a task's page, « Prendre et ouvrir »,
    « Rendre la tâche », its subject's page), each pattern reversed once."""

    def __init__(self):
        self._execute: dict = {}
        self._flow: dict = {}
        self._subject: dict = {}

    def execute(self, node, process_pk: int, task_pk: int) -> str:
        pattern = self._execute.get(node)
        if pattern is None:
            url = node.reverse("execute", args=[_PROCESS_MARKER, _ID_MARKER])
            pattern = self._execute[node] = _fillable(url)
        return pattern.format(process=process_pk, id=task_pk)

    def subject(self, flow, pk: int) -> str:
        """The page of the flow's subject `pk`: its model's get_absolute_url,
        which names the subject by its id."""
        pattern = self._subject.get(flow)
        if pattern is None:
            url = flow.subject_model()(pk=_ID_MARKER).get_absolute_url()
            pattern = self._subject[flow] = _fillable(url)
        return pattern.format(id=pk)

    def of_flow(self, flow, task_pk: int) -> tuple[str, str]:
        """(open, give back) of a task of `flow`."""
        patterns = self._flow.get(flow)
        if patterns is None:
            patterns = self._flow[flow] = tuple(
                _fillable(reverse(name, args=[flow.url_name, _ID_MARKER]))
                for name in ("task_open", "task_give_back")
            )
        return tuple(pattern.format(id=task_pk) for pattern in patterns)


def _fillable(url: str) -> str:
    """`url` with its markers as format fields (ids are digits: nothing to quote)."""
    escaped = url.replace("{", "{{").replace("}", "}}")
    return escaped.replace(str(_PROCESS_MARKER), "{process}").replace(
        str(_ID_MARKER), "{id}"
    )


@dataclass(slots=True)
class TaskRow:
    """One line of a task list, ready to print: the task, what it is about (its
    subject's reference, title and page), when it is due, where its buttons go."""

    pk: int
    flow: type
    step: str
    mine: bool  # assigned to the user; otherwise waiting to be taken
    organisation: Organisation
    reference: str
    title: str
    subject_url: str
    execute_url: str
    open_url: str
    give_back_url: str
    due: date | None = None
    days_left: int | None = None

    @classmethod
    def of(cls, flow, task, subject, links: "TaskLinks | None" = None) -> "TaskRow":
        """The row of a task read whole (pages that show a few)."""
        links = links or TaskLinks()
        open_url, give_back_url = links.of_flow(flow, task.pk)
        return cls(
            pk=task.pk,
            flow=flow,
            step=step_title(task),
            mine=task.status == STATUS.ASSIGNED,
            organisation=subject.organisation,
            reference=subject.reference,
            title=subject.title,
            subject_url=subject.get_absolute_url(),
            execute_url=links.execute(task.flow_task, task.process_id, task.pk),
            open_url=open_url,
            give_back_url=give_back_url,
        )

    @property
    def deadline(self) -> str:
        return deadline_text(self.days_left)

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


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
    node: object
    mine: bool
    process_pk: int
    subject: tuple[int, str, str]  # pk, reference, title
    organisation: Organisation
    created: datetime
    due: date | None
    days_left: int | None


def _candidates(user, flows) -> list[_Candidate]:
    """Every task the user may do now, in every flow, with its due date and what
    the list shows of its subject and organisation.

    One query for every flow (one SELECT per flow, joined by UNION ALL): the task
    table as its indexes answer it, joined to the task's process, subject and
    organisation (the scoping), read as bare values (no model instance but one per
    organisation, the step as its stored reference); dated once per step, day and
    acting organisation: thousands of waiting tasks cost a few milliseconds, not a
    due-date computation each."""
    configured = deadlines.configured_days()
    steps, days = _steps_and_days(tuple(flows), tuple(sorted(configured.items())))
    if not steps:
        return []

    def union():
        selects = [
            access.scope_to_organisations(
                _listed(flow).filter(to_do_by(user)),
                user,
                flow.task_organisation_path(),
            )
            for flow in flows
        ]
        return (
            selects[0].union(*selects[1:], all=True) if len(selects) > 1 else selects[0]
        )

    # Compiled once per user's conditions: compiling costs more than running it.
    rows = statements.compiled_rows(
        ("my_tasks", *flows, access.scope_signature(user)),
        flows[0].task_class,
        union,
    )
    dates = _Dates(timezone.localdate())
    zone = timezone.get_current_timezone()
    departements: dict[str | None, str | None] = {}
    organisations: dict[int, Organisation] = {}
    found = []
    for (
        pk,
        step,
        status,
        process,
        created,
        permission,
        subject_pk,
        reference,
        title,
        organisation_pk,
        code,
        kind,
        name,
    ) in rows:
        flow, node = steps[step]
        if permission not in departements:
            departements[permission] = deadlines.permission_departement(permission)
        due, days_left = dates.due(
            days[node], created.astimezone(zone).date(), departements[permission]
        )
        organisation = organisations.get(organisation_pk)
        if organisation is None:
            organisation = organisations[organisation_pk] = Organisation(
                pk=organisation_pk, code=code, kind=kind, name=name
            )
        found.append(
            _Candidate(
                flow,
                pk,
                node,
                status == STATUS.ASSIGNED,
                process,
                (subject_pk, reference, title),
                organisation,
                created,
                due,
                days_left,
            )
        )
    return found


@lru_cache(maxsize=64)
def _steps_and_days(flows: tuple, configured: tuple) -> tuple[dict, dict]:
    """The flows' human steps by stored reference, and each one's working days
    under the `configured` deadlines ((step key, days) pairs): the same for
    every page until the flows or the deadlines change."""
    steps = {
        get_task_ref(node): (flow, node)
        for flow in flows
        for node in flow.human_nodes()
    }
    configured_days = dict(configured)
    days = {
        node: deadlines.step_days(node, configured_days) for _, node in steps.values()
    }
    return steps, days


class _Dates:
    """Due dates and working days left, each computed once per page: a
    thousand tasks share a few dozen steps, days and calendars."""

    def __init__(self, today: date):
        self.today = today
        self._due: dict[tuple, date | None] = {}
        self._left: dict[tuple, int] = {}

    def due(self, days: int | None, created: date, departement: str | None):
        """(due date, working days left) of a task created on `created` with
        `days` working days to do it, on the calendar of `departement`."""
        if days is None:
            return None, None
        key = (days, created, departement)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = add_working_days(created, days, departement)
        key = (due, departement)
        left = self._left.get(key)
        if left is None:
            left = self._left[key] = working_days_left(due, self.today, departement)
        return due, left


# What the list reads of each flow's tasks, before the user's conditions: built
# once per flow (building it costs more than running it).
_LISTED: dict[type, QuerySet] = {}


def _listed(flow) -> QuerySet:
    """The flow's human tasks as the list reads them: the step as stored (the
    field would build its node), the subject's reference and title, the
    organisation's code, kind and name."""
    listed = _LISTED.get(flow)
    if listed is None:
        subject, organisation = flow.task_subject_path(), flow.task_organisation_path()
        listed = _LISTED[flow] = (
            flow.task_class._default_manager.filter(flow_task__in=flow.human_steps())
            .order_by()
            .annotate(step=Cast("flow_task", CharField()))
            .values_list(
                "pk",
                "step",
                "status",
                "process_id",
                "created",
                "owner_permission",
                subject,
                f"{subject}__{flow.subject_reference_field}",
                f"{subject}__{flow.subject_title_field}",
                organisation,
                f"{organisation}__code",
                f"{organisation}__kind",
                f"{organisation}__name",
            )
        )
    return listed


def my_tasks(user, query: QueryDict | None = None) -> MyTasks:
    """The user's tasks, filtered and sorted by `query` (the page's GET)."""
    query = QueryDict() if query is None else query
    flows = list(SCOPED_FLOWS)
    candidates = _candidates(user, flows)
    # The supplier first, then the clients by code (the directory's order).
    organisations = sorted(
        {c.organisation.pk: c.organisation for c in candidates}.values(),
        key=lambda o: (not o.is_supplier, o.code),
    )
    filters = MyTasksFilters(query or None, flows=flows, organisations=organisations)
    flow_name, code = filters.value("processus"), filters.value("organisme")
    sort = filters.value("tri") or URGENT_FIRST
    chosen = [
        candidate
        for candidate in candidates
        if (not flow_name or candidate.flow.url_name == flow_name)
        and (not code or candidate.organisation.code == code)
    ]
    chosen.sort(key=_sort_key(sort))
    page = Paginator(chosen, PAGE_SIZE).get_page(query.get("page"))
    page.object_list = _rows(page.object_list)
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


def _rows(candidates) -> list[TaskRow]:
    """The page's rows, in its order."""
    links = TaskLinks()
    titles = {}
    rows = []
    for candidate in candidates:
        node = candidate.node
        if node not in titles:
            titles[node] = consistency.step_title(node)
        subject_pk, reference, title = candidate.subject
        open_url, give_back_url = links.of_flow(candidate.flow, candidate.pk)
        rows.append(
            TaskRow(
                pk=candidate.pk,
                flow=candidate.flow,
                step=titles[node],
                mine=candidate.mine,
                organisation=candidate.organisation,
                reference=reference,
                title=title,
                subject_url=links.subject(candidate.flow, subject_pk),
                execute_url=links.execute(node, candidate.process_pk, candidate.pk),
                open_url=open_url,
                give_back_url=give_back_url,
                due=candidate.due,
                days_left=candidate.days_left,
            )
        )
    return rows


def rows_html(rows: list[TaskRow], csrf_token: str) -> SafeString:
    """The list's table body, every value escaped. Printed here rather than by a
    template loop: fifty rows of six cells and two forms cost the template more
    than the page's queries (bench row `my_tasks_*`, BENCHMARKS.md)."""
    labels = {
        "step": escape(gettext("Étape")),
        "organisation": escape(gettext("Organisme")),
        "due": escape(gettext("Échéance")),
        "holder": escape(gettext("Attribution")),
    }
    mine, to_take = escape(gettext("À vous")), escape(gettext("À prendre"))
    open_, give_back = escape(gettext("Ouvrir")), escape(gettext("Rendre la tâche"))
    take = escape(gettext("Prendre et ouvrir"))
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
    )
    deadlines_in_words: dict = {}
    days: dict = {}  # due date → its <time> element
    lines = []
    for row in rows:
        hidden = (
            f'<span class="tandem-visually-hidden"> : {escape(row.step)}, '
            f"{escape(row.reference)}</span>"
        )
        words = deadlines_in_words.get(row.days_left)
        if words is None:
            words = deadlines_in_words[row.days_left] = escape(row.deadline)
        if row.overdue:
            words = f'<strong class="tandem-overdue">{words}</strong>'
        if row.due:
            day = days.get(row.due)
            if day is None:
                shown = escape(date_format(row.due, "SHORT_DATE_FORMAT"))
                day = days[row.due] = (
                    f' <span class="tandem-muted">(<time datetime="'
                    f'{row.due.isoformat()}">{shown}</time>)</span>'
                )
            words += day
        if row.mine:
            action = (
                f'<div class="tandem-actions"><a class="tandem-button '
                f'tandem-button--primary" href="{escape(row.execute_url)}">'
                f"{open_}{hidden}</a>"
                f'<form method="post" action="{escape(row.give_back_url)}">{csrf}'
                f'<button type="submit" class="tandem-button">{give_back}{hidden}'
                f"</button></form></div>"
            )
        else:
            action = (
                f'<form method="post" action="{escape(row.open_url)}">{csrf}'
                f'<button type="submit" class="tandem-button tandem-button--primary">'
                f"{take}{hidden}</button></form>"
            )
        lines.append(
            f'<tr><td><a href="{escape(row.subject_url)}">{escape(row.reference)} – '
            f"{escape(row.title)}</a></td>"
            f'<td data-label="{labels["step"]}">{escape(row.step)}</td>'
            f'<td data-label="{labels["organisation"]}">'
            f"{escape(str(row.organisation))}</td>"
            f'<td data-label="{labels["due"]}">{words}</td>'
            f'<td data-label="{labels["holder"]}">{mine if row.mine else to_take}</td>'
            f"<td>{action}</td></tr>"
        )
    return mark_safe("\n".join(lines))  # noqa: S308 (every value escaped above)


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
