"""The application shell: viewflow's Site with Tandem's applications."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site

from evolutions import downloads as evolutions_downloads
from evolutions import pages as evolutions_pages
from evolutions.flows import EvolutionFlow
from recette import pages as recette_pages
from recette.flows import RecetteFlow
from workflow import directory, roleviews, views
from workflow.flowviews import ScopedFlowAppViewset


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


class EvolutionsApp(Application):
    """Change requests: list, detail, needs expressions, roadmap."""

    title = _("Demandes d'évolution")
    icon = "lightbulb"
    app_name = "evolutions"
    menu_template_name = None

    index_path = path("", evolutions_pages.change_request_list, name="index")
    create_path = path(
        "nouvelle/", evolutions_pages.change_request_create, name="create"
    )
    detail_path = path(
        "<int:pk>/", evolutions_pages.change_request_detail, name="detail"
    )
    edit_path = path(
        "<int:pk>/modifier/", evolutions_pages.change_request_edit, name="edit"
    )
    submit_path = path(
        "<int:pk>/soumettre/", evolutions_pages.change_request_submit, name="submit"
    )
    withdraw_path = path(
        "<int:pk>/retirer/", evolutions_pages.change_request_withdraw, name="withdraw"
    )
    decline_path = path(
        "<int:pk>/decliner/", evolutions_pages.change_request_decline, name="decline"
    )
    roadmap_path = path("versions/", evolutions_pages.roadmap, name="roadmap")
    announcement_path = path(
        "versions/annonces/nouvelle/",
        evolutions_pages.announcement_create,
        name="announcement_new",
    )
    announcement_publish_path = path(
        "versions/annonces/<int:pk>/publier/",
        evolutions_pages.announcement_publish,
        name="announcement_publish",
    )
    comment_path = path(
        "<int:pk>/messages/", evolutions_pages.comment_post, name="comment"
    )
    attach_path = path(
        "<int:pk>/pieces-jointes/",
        evolutions_pages.attachment_upload,
        name="attach",
    )
    attachment_path = path(
        "<int:pk>/pieces-jointes/<int:attachment_pk>/",
        evolutions_downloads.attachment_download,
        name="attachment",
    )
    specification_document_path = path(
        "<int:pk>/cahiers-des-charges/<int:version>/document/",
        evolutions_downloads.specification_document,
        name="specification_document",
    )
    quote_document_path = path(
        "<int:pk>/devis/<int:version>/document/",
        evolutions_downloads.quote_document,
        name="quote_document",
    )
    needs_expression_pdf_path = path(
        "<int:pk>/expression-de-besoin.pdf",
        evolutions_downloads.needs_expression_pdf,
        name="needs_expression_pdf",
    )
    quote_pdf_path = path(
        "<int:pk>/devis/<int:version>.pdf",
        evolutions_downloads.quote_pdf,
        name="quote_pdf",
    )


class RecettesApp(Application):
    """Acceptance testing: plans, campaigns and their grid, reports, agreements."""

    title = _("Recettes")
    icon = "fact_check"
    app_name = "recettes"
    menu_template_name = None

    index_path = path("", recette_pages.acceptance_list, name="index")
    detail_path = path("<int:pk>/", recette_pages.acceptance_detail, name="detail")
    plan_pdf_path = path(
        "<int:pk>/cahier-de-recette.pdf", recette_pages.plan_pdf, name="plan_pdf"
    )
    report_pdf_path = path(
        "<int:pk>/bilan.pdf", recette_pages.report_pdf, name="report_pdf"
    )
    agreement_pdf_path = path(
        "<int:pk>/accord.pdf", recette_pages.agreement_pdf, name="agreement_pdf"
    )
    cases_import_path = path(
        "<int:pk>/plan/import/", recette_pages.cases_import, name="cases_import"
    )
    case_create_path = path(
        "<int:pk>/plan/cas/nouveau/", recette_pages.case_create, name="case_new"
    )
    plan_reopen_path = path(
        "<int:pk>/plan/rouvrir/", recette_pages.plan_reopen, name="plan_reopen"
    )
    grid_path = path("campagnes/<int:pk>/", recette_pages.campaign_grid, name="grid")
    case_path = path(
        "campagnes/<int:pk>/cas/<int:case_pk>/",
        recette_pages.campaign_case,
        name="case",
    )
    record_path = path(
        "campagnes/<int:pk>/resultats/", recette_pages.campaign_record, name="record"
    )
    assignment_path = path(
        "campagnes/<int:pk>/affectation/",
        recette_pages.campaign_assignment,
        name="assignment",
    )
    dashboard_path = path(
        "campagnes/<int:pk>/tableau-de-bord/",
        recette_pages.campaign_dashboard,
        name="dashboard",
    )
    evidence_path = path(
        "preuves/<int:pk>/", recette_pages.evidence_download, name="evidence"
    )
    evidence_upload_path = path(
        "executions/<int:pk>/preuves/",
        recette_pages.evidence_upload,
        name="evidence_upload",
    )
    defect_create_path = path(
        "<int:pk>/anomalies/nouvelle/", recette_pages.defect_create, name="defect_new"
    )
    defect_action_path = path(
        "anomalies/<int:pk>/<slug:action>/",
        recette_pages.defect_action,
        name="defect_action",
    )


class TandemSite(Site):
    title = "Tandem"
    primary_color = "#000091"  # the French State's blue
    secondary_color = "#e1000f"

    index_path = path("", views.home, name="index")
    notifications_path = path(
        "notifications/", views.notification_list, name="notifications"
    )
    second_factor_path = path(
        "compte/double-authentification/",
        views.second_factor_page,
        name="second_factor",
    )


site = TandemSite(
    viewsets=[
        EvolutionsApp(),
        RecettesApp(),
        ScopedFlowAppViewset(EvolutionFlow, icon="assignment"),
        ScopedFlowAppViewset(RecetteFlow, icon="fact_check"),
        DirectoryApp(),
    ]
)
