"""Views of the shell shared by both processes."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from workflow import access
from workflow.models import Heartbeat, Notification


@login_required
def home(request):
    """The user's organisations and roles; the background jobs' pulse for admins."""
    memberships = access.memberships_of(request.user)
    by_organisation: dict = {}
    for membership in memberships:
        by_organisation.setdefault(membership.organisation, []).append(
            membership.get_role_display()
        )
    heartbeat = None
    if access.is_administrator(request.user):
        heartbeat = Heartbeat.objects.filter(name="worker").first()
    return render(
        request,
        "workflow/home.html",
        {
            "by_organisation": by_organisation,
            "is_supplier": access.is_supplier_user(request.user),
            "heartbeat": heartbeat,
        },
    )


def notification_list(request):
    """The user's in-app notifications, newest first; opening the list reads them."""
    page = Paginator(
        Notification.objects.filter(recipient_user=request.user).select_related(
            "organisation"
        ),
        25,
    ).get_page(request.GET.get("page"))
    unread = [n.pk for n in page if n.read_at is None]
    response = render(
        request, "workflow/notifications.html", {"page": page, "unread": unread}
    )
    Notification.objects.filter(pk__in=unread).update(read_at=timezone.now())
    return response
