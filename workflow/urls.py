"""The engine's own pages in the shell: the directory (organisations, people,
contact points, signing-role requests)."""

from functools import lru_cache

from django.urls import URLResolver, path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from workflow import directory, roleviews


class DirectoryApp(Application):
    """Organisations, people, roles, contact points and support hours."""

    title = _("Annuaire")
    icon = "contacts"
    app_name = "annuaire"
    menu_template_name = None  # its pages are reached from the home page and lists

    index_path = path("", directory.organisation_list, name="index")
    organisation_path = path(
        "organismes/<str:code>/",
        directory.organisation_detail,
        name="organisation",
    )
    person_path = path("personnes/<int:pk>/", directory.person_detail, name="person")
    contact_point_path = path(
        "points-de-contact/<int:pk>/",
        directory.contact_point_detail,
        name="contact_point",
    )
    role_requests_path = path(
        "roles-de-signature/", roleviews.role_requests, name="role_requests"
    )
    role_request_decide_path = path(
        "roles-de-signature/<int:pk>/<slug:decision>/",
        roleviews.role_request_decide,
        name="role_request_decide",
    )


# Addresses whose resolution is kept, per worker: about 5.5 kB each (the match and
# the patterns tried before it), 5.5 MB at most.
RESOLVED_KEPT = 1024


def resolutions_kept(resolver: URLResolver) -> URLResolver:
    """`resolver` (the site's, `path("", site.urls)`) with each address's
    resolution kept: walking the processes' and the directory's patterns took
    about a third of a millisecond of CPU per request, the same for every request
    to the same address. The patterns are fixed once the apps are loaded, and a
    resolution depends on the address only; Django's resolver above makes each
    request its own match from the kept one (its own arguments' dictionary). An
    address nothing matches is not kept."""
    if not isinstance(resolver, URLResolver):
        raise TypeError("resolutions_kept: a resolver, as path('', site.urls) gives")
    resolver.resolve = lru_cache(maxsize=RESOLVED_KEPT)(resolver.resolve)
    return resolver
