"""The change requests' pages and task pages, as the shell mounts them
(registered in EvolutionsConfig.ready(), see workflow.shell)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from evolutions import downloads, exports, pages
from evolutions.flows import EvolutionFlow
from workflow.flowviews import ScopedFlowAppViewset


class EvolutionsApp(Application):
    """Change requests: list, detail, needs expressions, roadmap."""

    title = _("Demandes d'évolution")
    icon = "lightbulb"
    app_name = "evolutions"
    menu_template_name = None

    index_path = path("", pages.change_request_list, name="index")
    export_csv_path = path(
        "export.csv", exports.change_request_export, {"fmt": "csv"}, name="export_csv"
    )
    export_xlsx_path = path(
        "export.xlsx",
        exports.change_request_export,
        {"fmt": "xlsx"},
        name="export_xlsx",
    )
    create_path = path("nouvelle/", pages.change_request_create, name="create")
    detail_path = path("<int:pk>/", pages.change_request_detail, name="detail")
    edit_path = path("<int:pk>/modifier/", pages.change_request_edit, name="edit")
    submit_path = path(
        "<int:pk>/soumettre/", pages.change_request_submit, name="submit"
    )
    withdraw_path = path(
        "<int:pk>/retirer/", pages.change_request_withdraw, name="withdraw"
    )
    decline_path = path(
        "<int:pk>/decliner/", pages.change_request_decline, name="decline"
    )
    roadmap_path = path("versions/", pages.roadmap, name="roadmap")
    announcement_path = path(
        "versions/annonces/nouvelle/",
        pages.announcement_create,
        name="announcement_new",
    )
    announcement_publish_path = path(
        "versions/annonces/<int:pk>/publier/",
        pages.announcement_publish,
        name="announcement_publish",
    )
    comment_path = path("<int:pk>/messages/", pages.comment_post, name="comment")
    attach_path = path(
        "<int:pk>/pieces-jointes/",
        pages.attachment_upload,
        name="attach",
    )
    attachment_path = path(
        "<int:pk>/pieces-jointes/<int:attachment_pk>/",
        downloads.attachment_download,
        name="attachment",
    )
    specification_document_path = path(
        "<int:pk>/cahiers-des-charges/<int:version>/document/",
        downloads.specification_document,
        name="specification_document",
    )
    quote_document_path = path(
        "<int:pk>/devis/<int:version>/document/",
        downloads.quote_document,
        name="quote_document",
    )
    needs_expression_pdf_path = path(
        "<int:pk>/expression-de-besoin.pdf",
        downloads.needs_expression_pdf,
        name="needs_expression_pdf",
    )
    quote_pdf_path = path(
        "<int:pk>/devis/<int:version>.pdf",
        downloads.quote_pdf,
        name="quote_pdf",
    )


def applications() -> list:
    """The pages at /evolutions/, the flow's task pages at /taches-evolutions/."""
    return [EvolutionsApp(), ScopedFlowAppViewset(EvolutionFlow, icon="assignment")]
