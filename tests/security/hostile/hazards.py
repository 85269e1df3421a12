"""The inputs that once made a server error, replayed by name (`HAZARDS`)."""

import json
from collections.abc import Callable

from django.core.files.uploadedfile import SimpleUploadedFile
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from recette.flows import RecetteFlow
from tests.security.hostile.stage import (
    Stage,
    _client,
    _first_case,
    _of_client,
    _today,
)
from tests.security.hostile.strategies import CSV_BYTES, PDF_BYTES

R = RecetteFlow


def _qualify_task(stage: Stage) -> str:
    """The open qualification task, assigned to cnaf.moe."""
    tasks = Task.objects.filter(status=STATUS.ASSIGNED, flow_task=R.qualify)
    return str(_of_client(tasks, _client()).get().pk)


# Each: endpoint, what to send (built from the stage; JSON bodies are bytes), the
# answer expected (200: the form again, with the error).
HAZARDS: dict[str, tuple[str, Callable[[Stage], object], int]] = {
    "json-infinity": (
        "recettes:record",
        lambda s: b'{"results": [{"case": Infinity, "result": "reussi"}]}',
        400,
    ),
    "json-1e400": (
        "recettes:record",
        lambda s: b'{"results": [{"case": -1e400, "result": "reussi"}]}',
        400,
    ),
    "json-nan": (
        "recettes:record",
        lambda s: b'{"results": [{"case": NaN, "result": "reussi"}]}',
        400,
    ),
    "json-huge-id": (
        "recettes:record",
        lambda s: (
            b'{"results": [{"case": 123456789012345678901234567890, '
            b'"result": "reussi"}]}'
        ),
        400,
    ),
    "json-nul-comment": (
        "recettes:record",
        lambda s: json.dumps(
            {
                "results": [
                    {"case": _first_case(s), "result": "echoue", "comment": "a\0"}
                ]
            }
        ).encode(),
        400,
    ),
    "case-page-nul-comment": (
        "recettes:case",
        lambda s: {"result": "echoue", "comment": "a\x00b", "etape-1": "echoue"},
        200,
    ),
    "case-page-nul-step": (
        "recettes:case",
        lambda s: {"result": "echoue", "etape-1": "echoue\x00"},
        200,
    ),
    "attachment-named-dot-pdf": (
        "evolutions:attach",
        lambda s: {"file": SimpleUploadedFile(".pdf", PDF_BYTES)},
        302,
    ),
    "evidence-named-rtl-mark": (
        "recettes:evidence_upload",
        lambda s: {"file": SimpleUploadedFile("\u200e.txt", b"Notes.")},
        302,
    ),
    "specification-named-dot-pdf": (
        "taches-evolutions:write_specification:execute",
        lambda s: {"summary": "CDC", "document": SimpleUploadedFile(".pdf", PDF_BYTES)},
        302,
    ),
    "qualification-report-named-dot-pdf": (
        "taches-recettes:qualify:execute",
        lambda s: {
            "passed": "no",
            "on": _today(),
            "report": SimpleUploadedFile(" .pdf", PDF_BYTES),
        },
        302,
    ),
    "case-without-steps": (
        "recettes:case_new",
        lambda s: {
            "reference": "CT-9",
            "title": "Sans étape",
            "priority": "moyenne",
            "etapes-TOTAL_FORMS": "0",
            "etapes-INITIAL_FORMS": "0",
        },
        400,  # the form again, saying a case has at least one step
    ),
    "bulk-assign-script-id": (
        "taches-evolutions:tasks_assign",
        lambda s: {"pk": ["<script>alert(1)</script>"], "_confirm": "1"},
        400,
    ),
    "bulk-unassign-own-task": (
        "taches-recettes:tasks_unassign",
        lambda s: {"pk": [_qualify_task(s)], "_confirm": "1"},
        302,
    ),
    "plan-in-year-9999": (
        "taches-recettes:prepare_plan:execute",
        lambda s: {"workload": "2", "start": "9999-12-31", "end": "9999-12-31"},
        400,
    ),
    "plan-in-year-1": (
        "taches-recettes:prepare_plan:execute",
        lambda s: {"workload": "2", "start": "0001-01-01", "end": "0001-01-01"},
        400,
    ),
    "quote-valid-until-9999": (
        "taches-evolutions:write_quote:execute",
        lambda s: {"man_days": "1", "amount": "1", "valid_until": "9999-12-31"},
        302,
    ),
    "delivery-in-year-9999": (
        "taches-recettes:deliver:execute",
        lambda s: {"on": "9999-12-31", "environment": "REC"},
        302,
    ),
    "qualification-in-year-1": (
        "taches-recettes:qualify:execute",
        lambda s: {"passed": "yes", "on": "0001-01-01"},
        302,
    ),
    "needs-expression-wished-9999": (
        "evolutions:create",
        lambda s: {
            "title": "T",
            "kind": "technique",
            "data_flows": ["DSG"],
            "description": "D",
            "wished_date": "9999-12-31",
        },
        302,
    ),
    "import-csv-with-nul": (
        "recettes:cases_import",
        lambda s: {
            "file": SimpleUploadedFile("cas.csv", CSV_BYTES + b"CT-2;\x00;a;b\n")
        },
        200,
    ),
    "import-fake-xlsx": (
        "recettes:cases_import",
        lambda s: {"file": SimpleUploadedFile("cas.xlsx", b"PK\x03\x04" + b"\0" * 64)},
        200,
    ),
}
