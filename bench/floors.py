"""The floors: the least work that returns the same rows as each measured page or
service, measured in the same run.

Page floors are bare views mounted under /_bench/floor/<name>/ (bench/urls.py): they
go through the same middleware as the pages (session, login required, CSRF, audit,
CSP…) for the same user, read the same rows in one query (two for the detail: the
request and its history; two for the shell: its two counts) and answer them as
JSON; the shell's second floor answers nothing at all. Service floors are plain
calls. What each one does is said in its docstring and repeated in BENCHMARKS.md.
"""

import time
from collections.abc import Callable
from io import BytesIO

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import CharField, Count, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.http import HttpResponse, JsonResponse
from reportlab.lib.pagesizes import A4
from reportlab.platypus import SimpleDocTemplate, Table
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Membership
from evolutions.models import ChangeRequest
from recette.models import (
    Campaign,
    CampaignCase,
    Defect,
    DefectAttachment,
    DefectComment,
    Evidence,
    Execution,
)
from workflow import access
from workflow.flowviews import SCOPED_FLOWS
from workflow.models import Notification, TransitionLog

# Rows per page of viewflow's task lists, of the change-request list and of
# « Mes tâches » (workflow.mytasks.PAGE_SIZE).
TASK_PAGE_SIZE = 25
LIST_PAGE_SIZE = 25
MY_TASKS_PAGE_SIZE = 50

# name → bare view, filled by the bench before it measures (bench/urls.py).
VIEWS: dict[str, Callable] = {}


class _Rollback(Exception):
    """Leaves a transaction.atomic() block without committing what it wrote."""


def rolled_back(write: Callable[[], object]) -> Callable[[], object]:
    """`write` run inside a transaction that is rolled back afterwards, so that
    every repetition starts from the same rows."""

    def run():
        result = None
        try:
            with transaction.atomic():
                result = write()
                raise _Rollback
        except _Rollback:
            pass
        return result

    return run


def _rows(rows) -> JsonResponse:
    return JsonResponse({"rows": list(rows)})


def inbox_view(flow_class) -> Callable:
    """The tasks of the flow assigned to the user, newest first, one page: the
    page's own rule (`assigned_to`: the flow's human steps as stored on the task
    rows, owner and status), through the same (owner, status) index."""
    steps = flow_class.human_steps()

    def view(request):
        return _rows(
            Task.objects.filter(
                flow_task__in=steps, owner=request.user, status=STATUS.ASSIGNED
            )
            .order_by("-created")
            .values_list("pk", "process_id", "created")[:TASK_PAGE_SIZE]
        )

    return view


def queue_view(flow_class, user) -> Callable:
    """The flow's tasks waiting to be taken that the user may take, newest first,
    one page: the page's own rule (`waiting_for`: the flow's human steps as stored
    on the task rows; status NEW and handed to the user or waiting for one of the
    user's role permissions, computed once before the measure), the same flat OR
    read through the same (owner, status) and (permission, status) indexes. The
    permissions name the organisation, so the page's scoping join returns no
    other rows and the floor leaves it out (a test checks the rows are the
    page's).

    Until issue 18 (2026-12-04) this floor joined viewflow's process table to
    test the flow class and took tasks with no permission too: PostgreSQL then
    walked the `created` index backwards through the flow's tasks, a floor
    dearer than the page's own query (BENCHMARKS.md)."""
    steps = flow_class.human_steps()
    permissions = sorted(access.role_permissions(user))

    def view(request):
        return _rows(
            Task.objects.filter(
                Q(owner=request.user, status=STATUS.NEW)
                | Q(owner_permission__in=permissions, status=STATUS.NEW),
                flow_task__in=steps,
            )
            .order_by("-created")
            .values_list("pk", "process_id", "created")[:TASK_PAGE_SIZE]
        )

    return view


def bare_view(request):
    """An empty answer: the request handling and middleware alone."""
    return HttpResponse(b"")


def shell_view(request):
    """What the shell shows that the middleware has not read already: the user's
    unread-notification count (its badge) and whether they hold a membership (the
    menu's directory entry), one query each."""
    return JsonResponse(
        {
            "rows": [],
            "unread": Notification.objects.filter(
                recipient_user=request.user, read_at__isnull=True
            ).count(),
            "member": Membership.objects.filter(user=request.user).exists(),
        }
    )


def my_tasks_view(user) -> Callable:
    """« Mes tâches »' rows in one statement: viewflow's task table through the
    (owner, status) and (permission, status) indexes the page uses, the human
    tasks of every registered flow assigned to the user or waiting for one of the
    user's role permissions (computed once, before the measure; they name the
    organisation, so no condition scopes them), each joined to what the page shows
    of it: its subject's reference and title, its organisation's code and name
    (one SELECT per flow, UNION ALL). Every one is read (the page counts and sorts
    them all); the 50 oldest are answered, with the count."""
    return _my_tasks_view(user, joined=True)


def my_tasks_task_table_view(user) -> Callable:
    """The same tasks from the task table alone, without what the page shows of
    their subject and organisation (the floor of 2026-12-04's first runs)."""
    return _my_tasks_view(user, joined=False)


def _my_tasks_view(user, *, joined: bool) -> Callable:
    permissions = sorted(user.get_all_permissions())
    steps = {flow: flow.human_steps() for flow in SCOPED_FLOWS}
    columns = ["created", "pk", "process_id", "step", "status", "owner_permission"]

    def select(steps, *more):
        return (
            Task.objects.filter(flow_task__in=steps)
            .filter(
                Q(owner=user, status=STATUS.ASSIGNED)
                # Tasks handed to the user while still waiting (the page's rule);
                # this term also keeps PostgreSQL from planning 375 rows with
                # parallel workers, which cost more than the rows (2 cores).
                | Q(owner=user, status=STATUS.NEW)
                | Q(status=STATUS.NEW, owner_permission__in=permissions)
            )
            .order_by()
            # The step as stored (the field would build its node).
            .annotate(step=Cast("flow_task", CharField()))
            .values_list(*columns, *more)
        )

    def shown(flow):
        subject, organisation = flow.task_subject_path(), flow.task_organisation_path()
        return select(
            steps[flow],
            f"{subject}__{flow.subject_reference_field}",
            f"{subject}__{flow.subject_title_field}",
            f"{organisation}__code",
            f"{organisation}__kind",
            f"{organisation}__name",
        )

    # Built once, before the measure (the user is known): each call only runs it.
    if joined:
        selects = [shown(flow) for flow in SCOPED_FLOWS]
        query = selects[0].union(*selects[1:], all=True)
    else:
        query = select([step for flow in steps for step in steps[flow]])

    def view(request):
        tasks = sorted(query.all())
        return JsonResponse({"count": len(tasks), "rows": tasks[:MY_TASKS_PAGE_SIZE]})

    return view


def change_request_list_view(user, filters: dict, page: int) -> Callable:
    """One page of the requests the user sees (supplier: all but drafts; client:
    its own), narrowed by the same filters, in the list's order."""
    visible = ChangeRequest.objects.all()
    if access.is_supplier_user(user):
        visible = visible.exclude(status=ChangeRequest.Status.DRAFT)
    else:
        visible = visible.filter(
            organisation_id__in={m.organisation_id for m in access.memberships_of(user)}
        )
    rows = visible.filter(**filters).order_by("-created_at", "-pk")
    start = (page - 1) * LIST_PAGE_SIZE

    def view(request):
        return _rows(
            rows.values_list(
                "pk",
                "reference",
                "title",
                "status",
                "organisation__name",
                "request_owner__username",
                "release__number",
            )[start : start + LIST_PAGE_SIZE]
        )

    return view


def change_request_detail_view(pk: int) -> Callable:
    """The request's own row, then its history rows (two queries)."""
    content_type_id = ContentType.objects.get_for_model(ChangeRequest).pk

    def view(request):
        change_request = (
            ChangeRequest.objects.filter(pk=pk)
            .values("reference", "title", "status", "organisation__name")
            .get()
        )
        history = TransitionLog.objects.filter(
            content_type_id=content_type_id, object_id=pk
        ).values_list("at", "transition", "source", "target", "by__username")
        return JsonResponse({"request": change_request, "rows": list(history)})

    return view


def defect_page_view(defect_pk: int) -> Callable:
    """What the defect page prints: the defect with its request, campaign,
    delivery, case and author; its executions with their case, campaign and
    tester; their evidence; its files; its messages with their authors; its
    history. Six queries, values only."""
    content_type_id = ContentType.objects.get_for_model(Defect).pk

    def view(request):
        defect = (
            Defect.objects.filter(pk=defect_pk)
            .values(
                "number",
                "title",
                "severity",
                "status",
                "description",
                "steps_to_reproduce",
                "expected",
                "observed",
                "step",
                "rejection_reason",
                "opened_at",
                "opened_by__first_name",
                "opened_by__last_name",
                "organisation__name",
                "change_request__reference",
                "change_request__title",
                "campaign__number",
                "campaign__delivery__number",
                "case__reference",
                "case__title",
                "fixed_in__number",
            )
            .get()
        )
        executions = list(
            Execution.objects.filter(defects=defect_pk).values_list(
                "pk",
                "case__reference",
                "campaign__number",
                "result",
                "tester__first_name",
                "tester__last_name",
                "executed_at",
                "comment",
            )
        )
        evidence = list(
            Evidence.objects.filter(
                execution_id__in=[row[0] for row in executions]
            ).values_list("execution_id", "pk", "original_name")
        )
        files = list(
            DefectAttachment.objects.filter(defect_id=defect_pk).values_list(
                "pk",
                "original_name",
                "size",
                "uploaded_at",
                "uploaded_by__first_name",
                "uploaded_by__last_name",
            )
        )
        messages = list(
            DefectComment.objects.filter(defect_id=defect_pk).values_list(
                "text", "written_at", "author__first_name", "author__last_name"
            )
        )
        history = list(
            TransitionLog.objects.filter(
                content_type_id=content_type_id, object_id=defect_pk
            ).values_list(
                "at", "source", "target", "comment", "by__first_name", "by__last_name"
            )
        )
        return JsonResponse(
            {
                "defect": defect,
                "rows": executions + evidence + files + messages + history,
            }
        )

    return view


def _latest_result(field: str = "result"):
    return (
        Execution.objects.filter(campaign=OuterRef("campaign"), case=OuterRef("case"))
        .order_by("-executed_at", "-pk")
        .values(field)[:1]
    )


def campaign_grid_view(campaign_pk: int) -> Callable:
    """The campaign's cases in order, each with its tester, its latest result and
    who recorded it (the grid shows them)."""

    def view(request):
        return _rows(
            CampaignCase.objects.filter(campaign_id=campaign_pk)
            .annotate(
                result=Subquery(_latest_result()),
                recorded_by=Subquery(_latest_result("tester")),
            )
            .order_by("case__position")
            .values_list(
                "case_id",
                "case__reference",
                "case__title",
                "tester_id",
                "result",
                "recorded_by",
            )
        )

    return view


def campaign_dashboard_view(campaign_pk: int) -> Callable:
    """The campaign's cases counted by tester and latest result (one aggregate)."""

    def view(request):
        return _rows(
            CampaignCase.objects.filter(campaign_id=campaign_pk)
            .annotate(result=Subquery(_latest_result()))
            .order_by()
            .values_list("tester_id", "result")
            .annotate(n=Count("pk"))
        )

    return view


# A campaign's cases in order, each joined to its latest execution by its id (one
# correlated subquery per case; a window over the campaign's executions cost 40
# times more on SQLite), with the assigned tester and the recorder.
_CAMPAIGN_RESULTS = """
SELECT tc.reference, tc.title, t.first_name, t.last_name, t.username,
       e.result, r.first_name, r.last_name, r.username, e.executed_at, e.comment
FROM recette_campaigncase cc
JOIN recette_testcase tc ON tc.id = cc.case_id
LEFT JOIN auth_user t ON t.id = cc.tester_id
LEFT JOIN recette_execution e ON e.id = (
    SELECT x.id FROM recette_execution x
    WHERE x.campaign_id = cc.campaign_id AND x.case_id = cc.case_id
    ORDER BY x.executed_at DESC, x.id DESC LIMIT 1
)
LEFT JOIN auth_user r ON r.id = e.tester_id
WHERE cc.campaign_id = %s
ORDER BY tc.position
"""


def campaign_results_view(campaign_pk: int) -> Callable:
    """What the campaign's results export writes: each case in order with its
    reference, title and assigned tester, and its latest execution's result,
    recorder, date and comment (users as first name, last name, username). One
    statement written once, answered as JSON."""

    def view(request):
        with connection.cursor() as cursor:
            cursor.execute(_CAMPAIGN_RESULTS, [campaign_pk])
            return _rows(cursor.fetchall())

    return view


def report_figures(change_request_pk: int) -> Callable[[], list]:
    """The request's executions counted by campaign and result, and its defects by
    severity and status: two aggregates over the same rows, no latest-result rule."""

    def run():
        executions = list(
            Execution.objects.filter(campaign__change_request_id=change_request_pk)
            .order_by()
            .values_list("campaign_id", "result")
            .annotate(n=Count("pk"))
        )
        defects = list(
            Defect.objects.filter(change_request_id=change_request_pk)
            .order_by()
            .values_list("severity", "status")
            .annotate(n=Count("pk"))
        )
        return executions + defects

    return run


def _new_executions(campaign: Campaign, case_pks: list[int], tester) -> list:
    return [
        Execution(
            campaign=campaign,
            case_id=case_pk,
            result=Execution.Result.PASSED,
            tester=tester,
        )
        for case_pk in case_pks
    ]


def record_bulk_create(campaign: Campaign, case_pks: list[int], tester) -> Callable:
    """The same results written by one bulk_create, in one (rolled back)
    transaction: what the service ends with, without the request around it."""

    def write():
        return Execution.objects.bulk_create(
            _new_executions(campaign, case_pks, tester)
        )

    return rolled_back(write)


def record_one_update(campaign: Campaign, case_pks: list[int], tester) -> Callable:
    """One UPDATE of as many execution rows (the peer's floor). The rows are
    inserted first, untimed, in the same rolled-back transaction: the call returns
    the seconds of the UPDATE alone."""

    def write():
        created = Execution.objects.bulk_create(
            _new_executions(campaign, case_pks, tester)
        )
        pks = [execution.pk for execution in created]
        started = time.perf_counter()
        Execution.objects.filter(pk__in=pks).update(result=Execution.Result.FAILED)
        return time.perf_counter() - started

    return rolled_back(write)


def bilan_table(change_request_pk: int) -> Callable[[], bytes]:
    """A bare reportlab document with the same tables as the bilan: the results of
    each campaign (one aggregate) and the defect list (one query), plain strings
    in plain Tables, no header, footer, styles, chart nor escaping."""

    def run():
        counts: dict[int, dict[str, int]] = {}
        for campaign_id, result, n in (
            Execution.objects.filter(campaign__change_request_id=change_request_pk)
            .order_by()
            .values_list("campaign_id", "result")
            .annotate(n=Count("pk"))
        ):
            counts.setdefault(campaign_id, {})[result] = n
        results = [("Campagne", *Execution.Result.values, "Exécutés", "Prévus")]
        for campaign_id, by_result in sorted(counts.items()):
            values = [by_result.get(value, 0) for value in Execution.Result.values]
            results.append((str(campaign_id), *map(str, values), "", ""))
        results.append(("final", *([""] * (len(results[0]) - 1))))
        defects = [("Référence", "Titre", "Gravité", "État")]
        defects += [
            (str(number), title, severity, status)
            for number, title, severity, status in Defect.objects.filter(
                change_request_id=change_request_pk
            )
            .order_by("number")
            .values_list("number", "title", "severity", "status")
        ]
        output = BytesIO()
        SimpleDocTemplate(output, pagesize=A4).build(
            [Table(results), Table(defects, repeatRows=1)]
        )
        return output.getvalue()

    return run
