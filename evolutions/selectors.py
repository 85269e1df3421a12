"""Reads on change requests, always through the access rules."""

from django.db.models import Q, QuerySet
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.models import ChangeRequest
from workflow import access


def change_requests_visible_to(user) -> QuerySet[ChangeRequest]:
    """Change requests of the organisations the user may see.

    A draft is the client's own work until it is submitted: the supplier does not
    see it.
    """
    visible = access.scope_to_organisations(
        ChangeRequest.objects.select_related(
            "organisation", "request_owner", "order_owner", "release"
        ),
        user,
    )
    if access.is_supplier_user(user):
        visible = visible.exclude(status=ChangeRequest.Status.DRAFT)
    return visible


def change_requests_search(queryset: QuerySet, text: str) -> QuerySet:
    """Requests whose reference, title or description contains `text`."""
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(
        Q(reference__icontains=text)
        | Q(title__icontains=text)
        | Q(description__icontains=text)
    )


def open_tasks_of(change_request: ChangeRequest | int) -> QuerySet[Task]:
    """The human tasks waiting on the request (or its id): its current step(s),
    in the change process or, once manufactured, in its acceptance."""
    return (
        Task.objects.filter(
            Q(process__evolutionprocess__change_request=change_request)
            | Q(process__recetteprocess__change_request=change_request),
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
        )
        .select_related("owner", "process")
        .order_by("created")
    )
