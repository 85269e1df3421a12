"""The acceptance's pages and task pages, as the shell mounts them (registered
in RecetteConfig.ready(), see workflow.shell)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from recette import exports, lists, pages
from recette.flows import RecetteFlow
from workflow.flowviews import ScopedFlowAppViewset


class RecettesApp(Application):
    """Acceptance testing: plans, campaigns and their grid, reports, agreements."""

    title = _("Recettes")
    icon = "fact_check"
    app_name = "recettes"
    menu_template_name = None

    index_path = path("", lists.acceptance_list, name="index")
    detail_path = path("<int:pk>/", pages.acceptance_detail, name="detail")
    plan_pdf_path = path(
        "<int:pk>/cahier-de-recette.pdf", pages.plan_pdf, name="plan_pdf"
    )
    report_pdf_path = path("<int:pk>/bilan.pdf", pages.report_pdf, name="report_pdf")
    agreement_pdf_path = path(
        "<int:pk>/accord.pdf", pages.agreement_pdf, name="agreement_pdf"
    )
    cases_import_path = path(
        "<int:pk>/plan/import/", pages.cases_import, name="cases_import"
    )
    case_create_path = path(
        "<int:pk>/plan/cas/nouveau/", pages.case_create, name="case_new"
    )
    case_edit_path = path(
        "<int:pk>/plan/cas/<int:case_pk>/", pages.case_edit, name="case_edit"
    )
    case_delete_path = path(
        "<int:pk>/plan/cas/<int:case_pk>/supprimer/",
        pages.case_delete,
        name="case_delete",
    )
    case_move_path = path(
        "<int:pk>/plan/cas/<int:case_pk>/deplacer/",
        pages.case_move,
        name="case_move",
    )
    plan_reopen_path = path(
        "<int:pk>/plan/rouvrir/", pages.plan_reopen, name="plan_reopen"
    )
    grid_path = path("campagnes/<int:pk>/", pages.campaign_grid, name="grid")
    case_path = path(
        "campagnes/<int:pk>/cas/<int:case_pk>/",
        pages.campaign_case,
        name="case",
    )
    record_path = path(
        "campagnes/<int:pk>/resultats/", pages.campaign_record, name="record"
    )
    assignment_path = path(
        "campagnes/<int:pk>/affectation/",
        pages.campaign_assignment,
        name="assignment",
    )
    dashboard_path = path(
        "campagnes/<int:pk>/tableau-de-bord/",
        pages.campaign_dashboard,
        name="dashboard",
    )
    evidence_path = path("preuves/<int:pk>/", pages.evidence_download, name="evidence")
    evidence_upload_path = path(
        "executions/<int:pk>/preuves/",
        pages.evidence_upload,
        name="evidence_upload",
    )
    defect_create_path = path(
        "<int:pk>/anomalies/nouvelle/", pages.defect_create, name="defect_new"
    )
    defect_path = path("anomalies/<int:pk>/", pages.defect_detail, name="defect")
    defect_comment_path = path(
        "anomalies/<int:pk>/message/", pages.defect_comment, name="defect_comment"
    )
    defect_files_path = path(
        "anomalies/<int:pk>/fichiers/", pages.defect_files, name="defect_files"
    )
    defect_attachment_path = path(
        "anomalies/fichiers/<int:pk>/",
        pages.defect_attachment_download,
        name="defect_attachment",
    )
    defect_action_path = path(
        "anomalies/<int:pk>/<slug:action>/",
        pages.defect_action,
        name="defect_action",
    )

    # Exports (recette/exports.py): each table in CSV and in XLSX.
    campaign_export_csv_path = path(
        "campagnes/<int:pk>/resultats.csv",
        exports.campaign_results_export,
        {"fmt": "csv"},
        name="campaign_export_csv",
    )
    campaign_export_xlsx_path = path(
        "campagnes/<int:pk>/resultats.xlsx",
        exports.campaign_results_export,
        {"fmt": "xlsx"},
        name="campaign_export_xlsx",
    )
    executions_export_csv_path = path(
        "<int:pk>/executions.csv",
        exports.executions_export,
        {"fmt": "csv"},
        name="executions_export_csv",
    )
    executions_export_xlsx_path = path(
        "<int:pk>/executions.xlsx",
        exports.executions_export,
        {"fmt": "xlsx"},
        name="executions_export_xlsx",
    )
    defects_export_csv_path = path(
        "<int:pk>/anomalies.csv",
        exports.defects_export,
        {"fmt": "csv"},
        name="defects_export_csv",
    )
    defects_export_xlsx_path = path(
        "<int:pk>/anomalies.xlsx",
        exports.defects_export,
        {"fmt": "xlsx"},
        name="defects_export_xlsx",
    )
    # The defects of every acceptance the user sees, filtered (recette.lists).
    defects_path = path("anomalies/", lists.defect_list, name="defects")


def applications() -> list:
    """The pages at /recettes/, the flow's task pages at /taches-recettes/."""
    return [RecettesApp(), ScopedFlowAppViewset(RecetteFlow, icon="fact_check")]
