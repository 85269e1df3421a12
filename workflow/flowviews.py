"""Viewflow's pages, limited to what the user may see (README, viewflow pitfalls).

Viewflow 2.4 lists every process and task of a flow to anyone allowed to open the
flow, and opens any process by its number. Here every list is filtered through the
access rules, and every URL naming a process answers 404 when the process belongs to
an organisation the user may not see, exactly as if it did not exist.
"""

import re
from urllib.parse import urlencode

from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_filters import FilterSet
from viewflow.utils import viewprop
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.flow import FlowAppViewset
from viewflow.workflow.flow import views as flow_views
from viewflow.workflow.flow.views.filters import FlowUserTaskListFilter
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from workflow import access, consistency, deadlines, statements
from workflow.flowperms import SUMMARY
from workflow.responses import refused

# Every concrete flow of the process apps, in definition order (the order their
# apps are loaded): what the engine reads to list a user's tasks across processes
# ("Mes tâches", workflow.mytasks) without importing any process app.
SCOPED_FLOWS: list[type] = []


def flow_named(url_name: str):
    """The registered flow whose `url_name` is `url_name`, or None."""
    return next((f for f in SCOPED_FLOWS if f.url_name == url_name), None)


# The statuses as written into the SQL, not sent as values: PostgreSQL plans a
# prepared statement once for any values (workflow/env.py), and a plan that knows
# the statuses knows how few tasks wait, reading them through the task indexes
# first (« Mes tâches »: 0.9 → 0.3 ms; tests/integration/test_statement_plans.py).
NEW, ASSIGNED = (
    statements.Constant(status) for status in (STATUS.NEW, STATUS.ASSIGNED)
)


def may_take(user) -> Q:
    """The condition on task rows, in any flow, of those waiting to be taken that
    the user may take (viewflow's queue rule)."""
    if user.is_superuser:
        return Q(status=NEW)
    # Unlike viewflow, a task without a permission is nobody's to take: every
    # human task of ours names the role and organisation it waits for (test),
    # which only memberships grant (no query for Django's own permissions). A
    # flat OR: SQLite then reads each side through its own index.
    return Q(owner=user, status=NEW) | Q(
        owner_permission__in=access.role_permissions(user), status=NEW
    )


def to_do_by(user) -> Q:
    """The condition on task rows, in any flow, of what the user may do now: the
    tasks assigned to them (`assigned_to`) or that they may take (`waiting_for`)."""
    return Q(owner=user, status=ASSIGNED) | may_take(user)


class ScopedFlowMixin:
    """For Flow classes whose process model leads to an Organisation."""

    # Lookups from the flow's process model to its subject (what its `subject`
    # property answers: reference, title, get_absolute_url) and its organisation.
    subject_lookup: str = ""
    organisation_lookup: str = ""
    # The subject's fields that « Mes tâches » reads as its reference and title
    # (an incident's are its dossier number and its domain).
    subject_reference_field: str = "reference"
    subject_title_field: str = "title"
    # The flow's URL prefix and namespace (viewflow derives "evolution" from
    # EvolutionFlow: one letter away from the app's "evolutions" pages).
    url_name: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.url_name:
            cls.app_name = cls.url_name
            # A concrete flow: it has its own pages. One flow per URL name: a
            # flow defined again (a module reloaded) takes its former place.
            known = [f.url_name for f in SCOPED_FLOWS]
            if cls.url_name in known:
                SCOPED_FLOWS[known.index(cls.url_name)] = cls
            else:
                SCOPED_FLOWS.append(cls)

    @classmethod
    def scope_processes(cls, queryset: QuerySet, user) -> QuerySet:
        """Processes of the flow the user may see (newest first unless ordered)."""
        scoped = access.scope_to_organisations(
            queryset, user, cls.organisation_lookup
        ).select_related(cls.organisation_lookup)
        return scoped if scoped.ordered else scoped.order_by("-created", "-pk")

    @classmethod
    def human_nodes(cls) -> list:
        """The flow's human tasks."""
        return [
            node
            for node in cls.instance.nodes()
            if getattr(node, "task_type", None) == "HUMAN"
        ]

    @classmethod
    def human_steps(cls) -> list[str]:
        """The references of the flow's human tasks, as stored on task rows."""
        return [get_task_ref(node) for node in cls.human_nodes()]

    @classmethod
    def assigned_to(cls, user) -> QuerySet:
        """The flow's tasks the user holds (viewflow's inbox rule)."""
        return cls.task_class._default_manager.filter(
            flow_task__in=cls.human_steps(), owner=user, status=STATUS.ASSIGNED
        )

    @classmethod
    def to_do(cls, user) -> QuerySet:
        """The flow's tasks the user may do now: assigned to them or waiting for
        one of their roles (`to_do_by`)."""
        return cls.task_class._default_manager.filter(
            to_do_by(user), flow_task__in=cls.human_steps()
        )

    @classmethod
    def waiting_for(cls, user) -> QuerySet:
        """The flow's tasks waiting to be taken that the user may take (viewflow's
        queue rule). Found by their steps' names on the task rows, where viewflow
        joins every process of the flow to read its class: 13 ms of the supplier's
        every page at 200,000 tasks."""
        return cls.task_class._default_manager.filter(
            may_take(user), flow_task__in=cls.human_steps()
        )

    @classmethod
    def process_class_name(cls) -> str:
        """The attribute leading from a viewflow Process row to the flow's own."""
        return cls.process_class._meta.model_name

    @classmethod
    def task_subject_path(cls) -> str:
        """The lookup from a task row to its process's subject."""
        return f"process__{cls.process_class_name()}__{cls.subject_lookup}"

    @classmethod
    def subject_model(cls):
        """The model of the flow's subjects."""
        model = cls.process_class
        for part in cls.subject_lookup.split("__"):
            model = model._meta.get_field(part).related_model
        return model

    @classmethod
    def task_organisation_path(cls) -> str:
        """The lookup from a task row to its process's organisation."""
        return f"process__{cls.process_class_name()}__{cls.organisation_lookup}"

    @classmethod
    def scope_tasks(cls, queryset: QuerySet, user) -> QuerySet:
        """Tasks of the flow the user may see, with what their lists show."""
        process = f"process__{cls.process_class_name()}"
        scoped = access.scope_to_organisations(
            queryset, user, cls.task_organisation_path()
        )
        # Lists show the task's process as its concrete model and summarise it with
        # what it leads to: join them once.
        return scoped.select_related(
            "process", process, f"{process}__{cls.organisation_lookup}", "owner"
        )

    def has_view_permission(self, user, obj=None) -> bool:
        """Anyone holding a role may open the flow's pages; each page is scoped."""
        if obj is not None:
            return self.scope_processes(
                self.process_class._default_manager.filter(pk=obj.pk), user
            ).exists()
        return bool(access.memberships_of(user))

    def has_manage_permission(self, user, obj=None) -> bool:
        """Nobody cancels or rewinds a process by hand: actions go through services."""
        return False


_TASK_ID = re.compile(r"[0-9]{1,18}")


def _scoped_list(view_class, scope: str):
    """A subclass of viewflow's list view whose queryset is scoped."""

    def get_queryset(self):
        # Bulk actions filter on the posted task ids as they come: one that is no
        # id (a forged POST) would be a server error.
        if not all(_TASK_ID.fullmatch(pk) for pk in self.request.POST.getlist("pk")):
            raise BadRequest
        queryset = super(scoped, self).get_queryset()
        return getattr(self.flow_class, scope)(queryset, self.request.user)

    # viewflow hands a view only the arguments it declares: without this one, its
    # bulk actions would get no flow to scope their tasks with.
    flow_class = getattr(view_class, "flow_class", None)
    scoped = type(
        f"Scoped{view_class.__name__}", (view_class,), {"flow_class": flow_class}
    )
    scoped.get_queryset = get_queryset
    return scoped


class TaskListColumnsMixin:
    """Task lists in French: what the task is about, and when it is due."""

    def task_id(self, task):
        return f"#{task.process_id}/{task.pk}"

    task_id.short_description = _("N°")

    def task_title(self, task):
        # The link says which task it opens (RGAA 6.1), where viewflow's read
        # "#12/345".
        url = task.flow_task.reverse("index", args=[task.process_id, task.pk])
        return format_html('<a href="{}">{}</a>', url, task.title)

    task_title.short_description = _("Tâche")

    def subject(self, task):
        node = task.flow_task
        if node.task_summary_template == SUMMARY and not (
            task.finished and node.task_result_template
        ):
            # SUMMARY printed directly: Task.brief compiles its template anew for
            # every row of every list.
            process = getattr(task.process, self.flow_class.process_class_name())
            return f"{process.subject.reference} – {process.subject.title}"
        return task.brief

    subject.short_description = _("Objet")

    def due_date(self, task):
        if not hasattr(self, "_configured_deadlines"):
            self._configured_deadlines = deadlines.configured_days()
        due = deadlines.task_due_date(task, self._configured_deadlines)
        if due is None:
            return "—"
        text = date_format(due, "SHORT_DATE_FORMAT")
        if deadlines.is_overdue(due):
            return format_html(
                '<strong class="tandem-overdue">{} ({})</strong>', text, _("en retard")
            )
        return text

    due_date.short_description = _("Échéance")

    def get_filterset_kwargs(self, filterset_class):
        return {
            **super().get_filterset_kwargs(filterset_class),
            "flow_class": self.flow_class,
        }


class TaskListFilter(FlowUserTaskListFilter):
    """The inbox and queue filters without viewflow's process list: one option per
    waiting process made the supplier's queue page grow with its queue (hundreds of
    options). The steps offered are the flow's human tasks by their French titles,
    not the steps found by a DISTINCT over every waiting task (7 ms at 200,000
    tasks, on every page)."""

    process = None

    def __init__(self, *args, flow_class, **kwargs):
        FilterSet.__init__(self, *args, **kwargs)
        steps = [
            (get_task_ref(node), str(node.task_title or node.name))
            for node in flow_class.human_nodes()
        ]
        self.filters["flow_task"].field.choices = sorted(steps, key=lambda s: s[1])

    class Meta(FlowUserTaskListFilter.Meta):
        fields = ("flow_task", "created")


def _user_task_list(view_class, rows: str):
    """The inbox or the queue: the tasks of `flow_class.<rows>(user)` (viewflow's
    rule, read without its join on every process), with a subject and a due date."""

    @viewprop
    def queryset(self):
        tasks = getattr(self.flow_class, rows)(self.request.user)
        return tasks.select_related("process").order_by("-created")

    columns = tuple("subject" if c == "brief" else c for c in view_class.columns)
    return type(
        view_class.__name__,
        (TaskListColumnsMixin, view_class),
        {
            "columns": (*columns, "due_date"),
            "filterset_class": TaskListFilter,
            "queryset": queryset,
        },
    )


class ScopedDashboardView(flow_views.DashboardView):
    """The kanban of the flow, with only the tasks the user may see."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, flow_class = self.request.user, self.flow_class
        visible = flow_class.scope_tasks(Task.objects.all(), user)
        for column in context["columns"]:
            column["tasks"] = visible.filter(
                pk__in=[task.pk for task in column["tasks"]]
            )
        context["finished"] = visible.filter(
            pk__in=[task.pk for task in context["finished"]]
        )
        return context


def _guard(view, flow_class):
    """404 for a URL naming a process (or a task of it) the user may not see."""

    def guarded(request, *args, **kwargs):
        process_pk = kwargs.get("process_pk")
        if process_pk is not None:
            processes = flow_class.process_class._default_manager.filter(pk=process_pk)
            if not flow_class.scope_processes(processes, request.user).exists():
                raise Http404
            task_pk = kwargs.get("task_pk")
            if (
                task_pk is not None
                and not Task.objects.filter(pk=task_pk, process_id=process_pk).exists()
            ):
                raise Http404
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied:
            finished = _finished_task_refusal(request, kwargs.get("task_pk"))
            if finished is None:
                raise
            return finished

    guarded.tandem_guarded = True
    for attr in ("view_class", "view_initkwargs", "csrf_exempt"):
        if hasattr(view, attr):
            setattr(guarded, attr, getattr(view, attr))
    return guarded


# The pages where a user acts on a task (not viewflow's undo, cancel, revive,
# which nobody may use: they stay refused).
_ACTING = frozenset({"execute", "assign", "unassign"})


def _finished_task_refusal(request, task_pk):
    """The page telling who handled a task (done or cancelled) or who holds it
    (taken by someone else), with a link to its object: a second tab's submit, or
    the browser's "back" to a task's page. 409 on a POST (nothing was saved)."""
    match = request.resolver_match
    if task_pk is None or (match and match.url_name not in _ACTING):
        return None
    task = Task.objects.filter(pk=task_pk).select_related("owner", "process").first()
    if task is None:
        return None
    if task.status == STATUS.ASSIGNED:
        # Taken by someone else: said to those who could have taken it only.
        could = bool(task.owner_permission) and request.user.has_perm(
            task.owner_permission
        )
        if task.owner_id in (None, request.user.pk) or not could:
            return None
        reason = taken_task_reason(task)
    else:
        reason = stale_task_reason(task)
    if reason is None:
        return None
    return refused(
        request,
        reason,
        subject=task.process.coerced.subject,
        status=409 if request.method == "POST" else 200,
    )


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _date_and_time(moment) -> dict[str, str]:
    moment = timezone.localtime(moment)
    return {
        "date": date_format(moment, "DATE_FORMAT"),
        "time": date_format(moment, "TIME_FORMAT"),
    }


def stale_task_reason(task) -> str | None:
    """Why a task shown on someone's screen can no longer be done: handled by
    someone (who, when), or cancelled (what the process waits for now). None
    while it is waiting or assigned."""
    if task.status == STATUS.CANCELED:
        waiting = [
            f"« {consistency.step_title(t.flow_task)} »"
            for t in consistency.open_tasks(task.process)
        ]
        if waiting:
            # Sent back to an earlier step (e.g. a validated plan reopened).
            return gettext(
                "Cette tâche a été annulée entre-temps : le dossier attend "
                "maintenant %(steps)s."
            ) % {"steps": ", ".join(waiting)}
        return gettext(
            "Cette tâche a été annulée : la demande a été close entre-temps."
        )
    if task.status in (STATUS.NEW, STATUS.ASSIGNED):
        return None
    if task.owner is None or task.finished is None:
        return gettext("Cette tâche a déjà été traitée.")
    return gettext(
        "Cette tâche a déjà été traitée par %(name)s le %(date)s à %(time)s."
    ) % {"name": _name(task.owner), **_date_and_time(task.finished)}


def taken_task_reason(task) -> str:
    """Why a task assigned to someone else cannot be taken: who took it, and when
    when it is known (viewflow does not record it; Tandem's "Mes tâches" does)."""
    if task.assigned is None:
        return gettext("Cette tâche a été prise par %(name)s.") % {
            "name": _name(task.owner)
        }
    return gettext("Cette tâche a été prise par %(name)s le %(date)s à %(time)s.") % {
        "name": _name(task.owner),
        **_date_and_time(task.assigned),
    }


def _guard_patterns(patterns, flow_class) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _guard_patterns(pattern.url_patterns, flow_class)
        elif isinstance(pattern, URLPattern) and not getattr(
            pattern.callback, "tandem_guarded", False
        ):
            pattern.callback = _guard(pattern.callback, flow_class)


# viewflow's own pages, which users no longer see (Tandem's shell has « Mes tâches »
# and each object's page): its lists lead to « Mes tâches » filtered on the flow, a
# process's or a task's page to the object's page. Its task forms (execute) stay,
# rendered by our views; assign/unassign stay for a POST.
_LISTS = frozenset({"index", "inbox", "queue", "archive", "process_list", "task_list"})
_NODE_PAGES = frozenset({"index", "detail"})
_NODE_GET_ONLY = frozenset({"assign", "unassign"})


def _to_my_tasks(flow_class):
    def view(request, *args, **kwargs):
        return redirect(
            f"{reverse('index')}?{urlencode({'processus': flow_class.url_name})}"
        )

    return view


def _to_object(flow_class, fallback=None):
    """The object's page of the process named by the URL (already scoped by
    _guard); `fallback` (viewflow's view) still answers a POST."""

    def view(request, *args, **kwargs):
        if fallback is not None and request.method != "GET":
            return fallback(request, *args, **kwargs)
        process = get_object_or_404(
            flow_class.process_class._default_manager, pk=kwargs["process_pk"]
        )
        landing = getattr(process, "landing_url", None)
        return redirect(landing or process.subject.get_absolute_url())

    for attr in ("view_class", "view_initkwargs", "csrf_exempt"):
        if fallback is not None and hasattr(fallback, attr):
            setattr(view, attr, getattr(fallback, attr))
    return view


def _replace_viewflow_pages(patterns, flow_class, node=False) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _replace_viewflow_pages(pattern.url_patterns, flow_class, node=True)
        elif not isinstance(pattern, URLPattern):
            continue
        elif not node and pattern.name in _LISTS:
            pattern.callback = _to_my_tasks(flow_class)
        elif (not node and pattern.name == "process_detail") or (
            node and pattern.name in _NODE_PAGES
        ):
            pattern.callback = _to_object(flow_class)
        elif node and pattern.name in _NODE_GET_ONLY:
            pattern.callback = _to_object(flow_class, fallback=pattern.callback)


class ScopedFlowAppViewset(FlowAppViewset):
    """FlowAppViewset whose every page is limited by the access rules."""

    dashboard_view_class = ScopedDashboardView
    process_list_view_class = _scoped_list(
        flow_views.DashboardProcessListView, "scope_processes"
    )
    task_list_view_class = _scoped_list(flow_views.DashboardTaskListView, "scope_tasks")
    inbox_view_class = _user_task_list(
        _scoped_list(flow_views.FlowInboxListView, "scope_tasks"), "assigned_to"
    )
    queue_view_class = _user_task_list(
        _scoped_list(flow_views.FlowQueueListView, "scope_tasks"), "waiting_for"
    )
    archive_view_class = _scoped_list(flow_views.FlowArchiveListView, "scope_tasks")
    tasks_assign_view_class = _scoped_list(
        flow_views.BulkAssignTasksActionView, "scope_tasks"
    )
    tasks_unassign_view_class = _scoped_list(
        flow_views.BulkUnassignTasksActionView, "scope_tasks"
    )

    def get_context_data(self, request):
        """The menu's inbox and queue counts, scoped."""
        flow_class, user = self._flow_class, request.user
        if not flow_class.instance.has_view_permission(user):
            return {
                "user_inbox": Task.objects.none(),
                "user_queue": Task.objects.none(),
            }
        return {
            "user_inbox": flow_class.scope_tasks(flow_class.assigned_to(user), user),
            "user_queue": flow_class.scope_tasks(flow_class.waiting_for(user), user),
        }

    def _get_urls(self):
        patterns = super()._get_urls()
        _replace_viewflow_pages(patterns, self._flow_class)
        _guard_patterns(patterns, self._flow_class)
        return patterns
