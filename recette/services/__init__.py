"""Writes on acceptance testing: each service checks the actor's role for the
organisation, locks what it changes, fires the lifecycle transition and records it.

One module per topic, everything public re-exported here (`services.plan_submit`):

    plan            the acceptance's start (receiver of manufacture_finished), the
                    plan's workload and schedule, submission, the client's decision,
                    reopening, the margin before production, the plan's actions
    cases           test cases typed in, changed, reordered, deleted, or imported
                    from a file (added and updated, or replacing them all)
    qualification   the technical qualification
    delivery        deliveries, each opening a campaign (first run or re-test)
    campaigns       assigning cases, recording results and evidence, closing
    defects         raising a defect, its thread and files, rejecting, verifying,
                    reopening; its actions
    report          the acceptance report: verdict, reserves, submission and PDF
    agreement       the go-live agreement: signatures, refusal, what blocks signing
    _common         who does what (the roles of each service), shared helpers

A test replacing a name replaces it in the module that uses it.
"""

from recette.services._common import (
    CLIENT_LEADS,
    PLAN_AUTHORS,
    SUPPLIER_FIXERS,
    TESTERS,
    R,
)
from recette.services.agreement import (
    agreement_refuse,
    agreement_sign,
    signing_obstacles,
)
from recette.services.campaigns import (
    GRID_BATCH_MAX,
    GRID_IDLE_MS,
    Recorded,
    campaign_assign,
    campaign_close,
    evidence_add,
    executions_record,
    may_record_results,
    results_record,
)
from recette.services.cases import (
    IMPORT_MERGE,
    IMPORT_MODES,
    IMPORT_REPLACE,
    MAX_STEPS,
    CaseLocks,
    ImportChanges,
    case_add,
    case_delete,
    case_locks,
    case_move,
    case_state,
    case_update,
    cases_import,
    import_changes,
)
from recette.services.defects import (
    defect_accept_rejection,
    defect_allowed_actions,
    defect_attachments_add,
    defect_comment_add,
    defect_link,
    defect_may_discuss,
    defect_open,
    defect_reject,
    defect_reopen,
    defect_verify,
)
from recette.services.delivery import delivery_record
from recette.services.plan import (
    PlanMargin,
    acceptance_start,
    acceptance_start_on_manufacture,
    margin_days,
    plan_allowed_actions,
    plan_decide,
    plan_margin,
    plan_margin_warning,
    plan_prepare,
    plan_reopen,
    plan_submit,
    plan_update,
)
from recette.services.qualification import qualification_record
from recette.services.report import report_prepare, report_submit, report_update

__all__ = [
    "CLIENT_LEADS",
    "GRID_BATCH_MAX",
    "GRID_IDLE_MS",
    "IMPORT_MERGE",
    "IMPORT_MODES",
    "IMPORT_REPLACE",
    "MAX_STEPS",
    "PLAN_AUTHORS",
    "SUPPLIER_FIXERS",
    "TESTERS",
    "CaseLocks",
    "ImportChanges",
    "PlanMargin",
    "R",
    "Recorded",
    "acceptance_start",
    "acceptance_start_on_manufacture",
    "agreement_refuse",
    "agreement_sign",
    "campaign_assign",
    "campaign_close",
    "case_add",
    "case_delete",
    "case_locks",
    "case_move",
    "case_state",
    "case_update",
    "cases_import",
    "defect_accept_rejection",
    "defect_allowed_actions",
    "defect_attachments_add",
    "defect_comment_add",
    "defect_link",
    "defect_may_discuss",
    "defect_open",
    "defect_reject",
    "defect_reopen",
    "defect_verify",
    "delivery_record",
    "evidence_add",
    "executions_record",
    "import_changes",
    "margin_days",
    "may_record_results",
    "plan_allowed_actions",
    "plan_decide",
    "plan_margin",
    "plan_margin_warning",
    "plan_prepare",
    "plan_reopen",
    "plan_submit",
    "plan_update",
    "qualification_record",
    "report_prepare",
    "report_submit",
    "report_update",
    "results_record",
    "signing_obstacles",
]
