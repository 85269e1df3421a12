"""The directory: organisations, people, contact points, support hours.

Every lookup goes through the selectors of workflow.access: an object outside the
user's organisations is a 404, exactly like an object that does not exist.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from workflow import access


@login_required
def organisation_list(request):
    organisations = access.organisations_visible_to(request.user)
    return render(
        request, "directory/organisation_list.html", {"organisations": organisations}
    )


@login_required
def organisation_detail(request, code: str):
    organisation = get_object_or_404(
        access.organisations_visible_to(request.user), code=code
    )
    user = request.user
    context = {
        "organisation": organisation,
        "people": access.people_visible_to(user).filter(organisation=organisation),
        "memberships": access.memberships_visible_to(user).filter(
            organisation=organisation
        ),
        "contact_points": access.contact_points_visible_to(user).filter(
            organisation=organisation
        ),
        "support_hours": access.support_hours_visible_to(user).filter(
            organisation=organisation
        ),
    }
    return render(request, "directory/organisation_detail.html", context)


@login_required
def person_detail(request, pk: int):
    person = get_object_or_404(access.people_visible_to(request.user), pk=pk)
    roles = (
        access.memberships_visible_to(request.user).filter(user=person.user)
        if person.user_id
        else []
    )
    return render(
        request, "directory/person_detail.html", {"person": person, "roles": roles}
    )


@login_required
def contact_point_detail(request, pk: int):
    contact_point = get_object_or_404(
        access.contact_points_visible_to(request.user), pk=pk
    )
    return render(
        request, "directory/contact_point_detail.html", {"contact_point": contact_point}
    )
