"""The application shell: viewflow's Site with Tandem's applications."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site

from contacts import views as contacts_views
from workflow import views


class DirectoryApp(Application):
    """Organisations, people, roles, contact points and support hours."""

    title = _("Annuaire")
    icon = "contacts"
    app_name = "annuaire"
    menu_template_name = None  # its pages are reached from the home page and lists

    index_path = path("", contacts_views.organisation_list, name="index")
    organisation_path = path(
        "organismes/<str:code>/",
        contacts_views.organisation_detail,
        name="organisation",
    )
    person_path = path(
        "personnes/<int:pk>/", contacts_views.person_detail, name="person"
    )
    contact_point_path = path(
        "points-de-contact/<int:pk>/",
        contacts_views.contact_point_detail,
        name="contact_point",
    )


class TandemSite(Site):
    title = "Tandem"
    primary_color = "#000091"  # the French State's blue
    secondary_color = "#e1000f"

    index_path = path("", views.home, name="index")


site = TandemSite(viewsets=[DirectoryApp()])
