"""Views of the shell shared by both processes."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from workflow import access
from workflow.models import Heartbeat


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
