"""The showcases (`SHOWCASES`): one payload with markup saved through the page or
task of each text field, the pages, e-mails and PDFs where it is read back, and the
checks of what comes back."""

import html
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release, ReleaseAnnouncement
from recette.flows import RecetteFlow
from recette.models import Defect
from tests.security.hostile.stage import Stage, _first_case, _today
from workflow.demo import DEMO_PASSWORD, demo_totp_code

S = ChangeRequest.Status
E, R = EvolutionFlow, RecetteFlow


PAYLOAD = '<script>alert("x")</script><b>gras</b><img src="/etc/passwd"/>'
ESCAPED = html.escape(PAYLOAD)  # as Django's autoescape writes it
RAW_PIECES = ("<script>alert", "<b>gras</b>", '<img src="/etc/passwd"/>')


@dataclass
class Shown:
    """Where a saved text is read back: pages that must show it escaped, pages
    that must at least not show it raw, and PDFs that must print it literally."""

    pages: list[tuple[str, str]] = field(default_factory=list)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    pdfs: list[tuple[str, str]] = field(default_factory=list)


def _open_task(change_request_pk: int, node) -> Task:
    processes = Q(process__evolutionprocess__change_request_id=change_request_pk) | Q(
        process__recetteprocess__change_request_id=change_request_pk
    )
    return (
        Task.objects.filter(processes, flow_task=node)
        .filter(status__in=[STATUS.NEW, STATUS.ASSIGNED])
        .select_related("owner")
        .get()
    )


def _taken(client: Client, stage: Stage, task: Task) -> str:
    """The task's owner, after taking it from the queue as the first demo user
    who may (through its assign page)."""
    if task.owner is None:
        taker = next(
            user
            for user in get_user_model().objects.order_by("pk")
            if task.flow_task.can_assign(user, task)
        )
        client.force_login(taker)
        url = task.flow_task.reverse("assign", args=[task.process_id, task.pk])
        assert client.post(url).status_code == 302
        task.refresh_from_db()
    return task.owner.username


def _task_page(client: Client, stage: Stage, key: str, node) -> tuple[str, str]:
    task = _open_task(stage.requests[key], node)
    username = _taken(client, stage, task)
    return username, node.reverse("execute", args=[task.process_id, task.pk])


def _post(client: Client, stage: Stage, username: str, url: str, data, **kwargs):
    client.force_login(stage.user(username))
    response = client.post(url, data, **kwargs)
    assert response.status_code in (200, 302), response.content.decode()[:3000]
    return response


def _act(client: Client, stage: Stage, key: str, node, data: dict) -> None:
    """Complete the open task of request `key` at `node` through its page."""
    username, url = _task_page(client, stage, key, node)
    response = _post(client, stage, username, url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def _detail(stage: Stage, key: str, *usernames: str) -> list[tuple[str, str]]:
    url = reverse("evolutions:detail", args=[stage.requests[key]])
    return [(username, url) for username in usernames]


def _acceptance(stage: Stage, key: str, *usernames: str) -> list[tuple[str, str]]:
    url = reverse("recettes:detail", args=[stage.requests[key]])
    return [(username, url) for username in usernames]


def _notifications(*usernames: str) -> list[tuple[str, str]]:
    return [(username, reverse("notifications")) for username in usernames]


NEEDS_EXPRESSION = {
    "title": PAYLOAD,
    "kind": "technique",
    "data_flows": ["DSG", "autre"],
    "description": f"{PAYLOAD}\n{PAYLOAD}",
    "expected_benefit": PAYLOAD,
}


def _needs_expression(client, stage):
    _post(client, stage, "cd23.porteur", reverse("evolutions:create"), NEEDS_EXPRESSION)
    pk = ChangeRequest.objects.get(title=PAYLOAD).pk
    stage.requests["payload"] = pk
    _post(client, stage, "cd23.porteur", reverse("evolutions:submit", args=[pk]), {})
    review = _task_page(client, stage, "payload", E.review_submission)
    return Shown(
        pages=[
            *_detail(stage, "payload", "cd23.porteur", "cnaf.contact"),
            ("cd23.porteur", reverse("evolutions:index")),
            ("cnaf.contact", f"{reverse('evolutions:index')}?q=script"),
            ("cnaf.contact", reverse("index")),
            review,
            ("cd23.porteur", reverse("evolutions:edit", args=[pk])),
        ],
        pdfs=[("cnaf.contact", reverse("evolutions:needs_expression_pdf", args=[pk]))],
    )


def _completed_information(client, stage):
    data = {**NEEDS_EXPRESSION, "comment": PAYLOAD}
    _act(client, stage, S.INFO_REQUESTED, E.complete_information, data)
    pk = stage.requests[S.INFO_REQUESTED]
    return Shown(
        pages=[
            *_detail(stage, S.INFO_REQUESTED, "cd23.porteur", "cnaf.contact"),
            _task_page(client, stage, S.INFO_REQUESTED, E.review_submission),
        ],
        elsewhere=_notifications("cnaf.contact"),
        pdfs=[("cd23.porteur", reverse("evolutions:needs_expression_pdf", args=[pk]))],
    )


def _information_question(client, stage):
    data = {"decision": "request_information", "question": PAYLOAD}
    _act(client, stage, S.SUBMITTED, E.review_submission, data)
    return Shown(
        pages=_detail(stage, S.SUBMITTED, "cd23.porteur"),
        elsewhere=[
            _task_page(client, stage, S.SUBMITTED, E.complete_information),
            *_notifications("cd23.porteur"),
        ],
    )


def _message(client, stage):
    url = reverse("evolutions:comment", args=[stage.requests[S.IN_STUDY]])
    _post(client, stage, "cd23.porteur", url, {"body": PAYLOAD})
    return Shown(pages=_detail(stage, S.IN_STUDY, "cd23.porteur", "cnaf.commande"))


def _withdrawal(client, stage):
    url = reverse("evolutions:withdraw", args=[stage.requests[S.IN_STUDY]])
    _post(client, stage, "cd23.porteur", url, {"reason": PAYLOAD})
    return Shown(
        pages=_detail(stage, S.IN_STUDY, "cd23.porteur", "cnaf.commande"),
        elsewhere=_notifications("cnaf.commande"),
    )


def _decline(client, stage):
    url = reverse("evolutions:decline", args=[stage.requests[S.SUBMITTED]])
    _post(client, stage, "cnaf.contact", url, {"reason": PAYLOAD})
    return Shown(
        pages=_detail(stage, S.SUBMITTED, "cd23.porteur"),
        elsewhere=_notifications("cd23.porteur"),
    )


def _specification(client, stage):
    _act(client, stage, S.IN_STUDY, E.write_specification, {"summary": PAYLOAD})
    return Shown(
        pages=[
            *_detail(stage, S.IN_STUDY, "cd23.porteur"),
            _task_page(client, stage, S.IN_STUDY, E.review_specification),
        ]
    )


def _decision(key: str, node, next_node=None, data=None):
    """A client's refusal, with its mandatory comment."""

    def showcase(client, stage):
        _act(client, stage, key, node, data or {"decision": "no", "comment": PAYLOAD})
        shown = Shown(
            pages=_detail(stage, key, "cd23.porteur", "cnaf.commande"),
            elsewhere=_notifications("cnaf.commande"),
        )
        if next_node is not None:
            # The next task's page says why it came back (issue 17).
            shown.pages.append(_task_page(client, stage, key, next_node))
        return shown

    return showcase


def _quote_refusal(client, stage):
    shown = _decision(S.QUOTE_REVIEW, E.review_quote, E.write_quote)(client, stage)
    change_request = stage.request(S.QUOTE_REVIEW)
    version = change_request.quotes.order_by("version").last().version
    url = reverse("evolutions:quote_pdf", args=[change_request.pk, version])
    shown.pdfs.append(("cd23.porteur", url))
    return shown


def _release_proposal(client, stage):
    release = Release.objects.filter(production_date__gte=timezone.localdate()).first()
    data = {"release": release.pk, "comment": PAYLOAD}
    _act(client, stage, S.PLANNING, E.propose_release, data)
    return Shown(
        pages=[
            *_detail(stage, S.PLANNING, "cd23.porteur"),
            _task_page(client, stage, S.PLANNING, E.confirm_release),
        ],
        elsewhere=_notifications("cd23.porteur"),
    )


def _manufacture(client, stage):
    _act(client, stage, S.PLANNED, E.start_manufacture, {"comment": PAYLOAD})
    return Shown(pages=_detail(stage, S.PLANNED, "cd23.porteur", "cnaf.moe"))


def _announcement(client, stage):
    release = Release.objects.order_by("production_date").first()
    data = {
        "release": release.pk,
        "kind": ReleaseAnnouncement.Kind.EVOLUTION,
        "title": PAYLOAD,
        "changes": PAYLOAD,
        "schedule": PAYLOAD,
        "client_actions": PAYLOAD,
    }
    _post(client, stage, "cnaf.contact", reverse("evolutions:announcement_new"), data)
    announcement = ReleaseAnnouncement.objects.get(title=PAYLOAD)
    url = reverse("evolutions:announcement_publish", args=[announcement.pk])
    _post(client, stage, "cnaf.contact", url, {})
    roadmap = reverse("evolutions:roadmap")
    return Shown(
        pages=[
            ("cnaf.contact", roadmap),
            ("cd23.porteur", roadmap),
            *_notifications("cd23.dsi"),
        ]
    )


def _test_case(client, stage):
    data = {
        "reference": "CT-<b>",
        "title": PAYLOAD,
        "objective": PAYLOAD,
        "priority": "haute",
        "preconditions": PAYLOAD,
        "section": PAYLOAD,
        "etapes-TOTAL_FORMS": "1",
        "etapes-INITIAL_FORMS": "0",
        "etapes-0-action": PAYLOAD,
        "etapes-0-expected": PAYLOAD,
    }
    url = reverse("recettes:case_new", args=[stage.requests["prepare_plan"]])
    _post(client, stage, "cnaf.commande", url, data)
    pk = stage.requests["prepare_plan"]
    return Shown(
        pages=_acceptance(stage, "prepare_plan", "cnaf.commande", "cd23.porteur"),
        elsewhere=[_task_page(client, stage, "prepare_plan", R.prepare_plan)],
        pdfs=[("cd23.porteur", reverse("recettes:plan_pdf", args=[pk]))],
    )


def _imported_cases(client, stage):
    import csv

    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";")
    headers = "référence;titre;objectif;préconditions;section;action;résultat attendu"
    writer.writerow(headers.split(";"))
    writer.writerow(["CT-1", PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD, PAYLOAD])
    upload = SimpleUploadedFile("cas.csv", rows.getvalue().encode())
    pk = stage.requests["prepare_plan"]
    url = reverse("recettes:cases_import", args=[pk])
    preview = _post(client, stage, "cnaf.commande", url, {"file": upload})
    _assert_escaped(preview, "aperçu de l'import")
    token = re.search(r'name="confirm" value="([^"]+)"', preview.content.decode())
    _post(client, stage, "cnaf.commande", url, {"confirm": token[1]})
    return Shown(
        pages=_acceptance(stage, "prepare_plan", "cnaf.commande", "cd23.porteur"),
        pdfs=[("cd23.porteur", reverse("recettes:plan_pdf", args=[pk]))],
    )


def _defect(client, stage):
    pk = stage.requests["run_campaign"]
    data = {"title": PAYLOAD, "severity": "majeure", "description": PAYLOAD}
    _post(
        client, stage, "cd23.testeur", reverse("recettes:defect_new", args=[pk]), data
    )
    return Shown(
        pages=_acceptance(stage, "run_campaign", "cd23.testeur", "cnaf.moe"),
        elsewhere=_notifications("cnaf.moe", "cnaf.commande"),
    )


def _report(client, stage):
    pk = stage.requests["write_report"]
    data = {"title": PAYLOAD, "severity": "majeure", "description": PAYLOAD}
    _post(
        client, stage, "cd23.testeur", reverse("recettes:defect_new", args=[pk]), data
    )
    defect = Defect.objects.get(change_request_id=pk, title=PAYLOAD)
    data = {"verdict": "reserves", "reserves": PAYLOAD, "reserved_defects": [defect.pk]}
    _act(client, stage, "write_report", R.write_report, data)
    return Shown(
        pages=[
            *_acceptance(stage, "write_report", "cd23.porteur", "cnaf.dsi"),
            _task_page(client, stage, "write_report", R.sign_client),
        ],
        elsewhere=_notifications("cnaf.dsi"),
        pdfs=[
            ("cd23.dsi", reverse("recettes:report_pdf", args=[pk])),
            ("cnaf.dsi", reverse("recettes:agreement_pdf", args=[pk])),
        ],
    )


def _case_page(stage: Stage) -> str:
    return reverse("recettes:case", args=[stage.campaign().pk, _first_case(stage)])


def _grid_comment(client, stage):
    entry = {"case": _first_case(stage), "result": "echoue", "comment": PAYLOAD}
    url = reverse("recettes:record", args=[stage.campaign().pk])
    body = json.dumps({"results": [entry]})
    _post(client, stage, "cd23.testeur", url, body, content_type="application/json")
    grid = reverse("recettes:grid", args=[stage.campaign().pk])
    return Shown(
        pages=[("cd23.testeur", _case_page(stage)), ("cnaf.moe", _case_page(stage))],
        elsewhere=[("cd23.testeur", grid)],
    )


def _case_page_comment(client, stage):
    data = {"result": "echoue", "comment": PAYLOAD, "etape-1": "echoue"}
    _post(client, stage, "cd23.testeur", _case_page(stage), data)
    return Shown(pages=[("cd23.porteur", _case_page(stage))])


def _qualification(client, stage):
    data = {"passed": "no", "on": _today(), "comment": PAYLOAD}
    _act(client, stage, "qualify", R.qualify, data)
    return Shown(
        elsewhere=[
            *_acceptance(stage, "qualify", "cd23.porteur", "cnaf.moe"),
            *_notifications("cnaf.commande", "cd23.porteur"),
        ]
    )


def _delivery(client, stage):
    data = {"on": _today(), "environment": PAYLOAD, "release_notes": PAYLOAD}
    _act(client, stage, "deliver", R.deliver, data)
    campaign = stage.campaign("deliver")
    return Shown(
        elsewhere=[
            *_acceptance(stage, "deliver", "cd23.testeur"),
            ("cd23.testeur", reverse("recettes:grid", args=[campaign.pk])),
            ("cd23.testeur", reverse("recettes:dashboard", args=[campaign.pk])),
            *_notifications("cd23.porteur", "cd23.dsi"),
        ]
    )


def _plan_review(client, stage):
    data = {"decision": "no", "comment": PAYLOAD}
    _act(client, stage, "review_plan", R.review_plan, data)
    return Shown(
        pages=[_task_page(client, stage, "review_plan", R.prepare_plan)],
        elsewhere=[
            *_acceptance(stage, "review_plan", "cnaf.commande"),
            *_notifications("cnaf.commande"),
        ],
    )


def _campaign_close(client, stage):
    data = {"outcome": "corrections", "comment": PAYLOAD}
    _act(client, stage, "run_campaign", R.run_campaign, data)
    return Shown(
        pages=[_task_page(client, stage, "run_campaign", R.deliver)],
        elsewhere=_acceptance(stage, "run_campaign", "cnaf.moe"),
    )


def _defect_rejection(client, stage):
    defect = stage.request("run_campaign").defects.order_by("number").first()
    url = reverse("recettes:defect_action", args=[defect.pk, "rejeter"])
    _post(client, stage, "cnaf.commande", url, {"reason": PAYLOAD})
    page = reverse("recettes:defect", args=[defect.pk])
    return Shown(pages=[("cd23.testeur", page), ("cnaf.moe", page)])


def _defect_message(client, stage):
    defect = stage.request("run_campaign").defects.order_by("number").last()
    url = reverse("recettes:defect_comment", args=[defect.pk])
    _post(client, stage, "cnaf.moe", url, {"text": PAYLOAD})
    page = reverse("recettes:defect", args=[defect.pk])
    return Shown(
        pages=[("cd23.testeur", page), ("cnaf.commande", page)],
        elsewhere=_notifications("cd23.porteur"),
    )


def _plan_reopening(client, stage):
    url = reverse("recettes:plan_reopen", args=[stage.requests["qualify"]])
    _post(client, stage, "cnaf.commande", url, {"reason": PAYLOAD})
    return Shown(elsewhere=_acceptance(stage, "qualify", "cnaf.commande"))


def _agreement_refusal(client, stage):
    data = {
        "decision": "refuse",
        "reason": PAYLOAD,
        "password": DEMO_PASSWORD,
        "otp_token": demo_totp_code(stage.user("cd23.dsi")),
    }
    _act(client, stage, "signatures", R.sign_client, data)
    pk = stage.requests["signatures"]
    # The agreement's PDF states what was signed (report, reserves), not refusals.
    return Shown(
        pages=_acceptance(stage, "signatures", "cd23.porteur", "cnaf.dsi"),
        elsewhere=[
            *_notifications("cnaf.dsi", "cnaf.commande"),
            ("cnaf.dsi", reverse("recettes:agreement_pdf", args=[pk])),
        ],
    )


# Showcases whose text also goes out in the e-mails of the event: escaped in their
# HTML part, as typed in their text part.
MAILED = {
    "accord-refuse",
    "annonce",
    "anomalie",
    "bilan",
    "cahier-des-charges-renvoye",
    "complement-d-information",
    "devis-refuse",
    "expression-de-besoin",
    "livraison",
    "plan-renvoye",
    "question-du-point-de-contact",
    "refus-du-fournisseur",
    "retrait",
    "version-proposee",
    "version-refusee",
}

SHOWCASES: dict[str, Callable[[Client, Stage], Shown]] = {
    "expression-de-besoin": _needs_expression,
    "complement-d-information": _completed_information,
    "question-du-point-de-contact": _information_question,
    "message": _message,
    "retrait": _withdrawal,
    "refus-du-fournisseur": _decline,
    "cahier-des-charges": _specification,
    "cahier-des-charges-renvoye": _decision(
        S.SPEC_REVIEW, E.review_specification, E.write_specification
    ),
    "devis-refuse": _quote_refusal,
    "version-proposee": _release_proposal,
    "version-refusee": _decision(
        S.RELEASE_PROPOSED, E.confirm_release, E.propose_release
    ),
    "fabrication": _manufacture,
    "annonce": _announcement,
    "cas-de-test": _test_case,
    "cas-importes": _imported_cases,
    "anomalie": _defect,
    "bilan": _report,
    "commentaire-grille": _grid_comment,
    "commentaire-cas": _case_page_comment,
    "qualification": _qualification,
    "livraison": _delivery,
    "plan-renvoye": _plan_review,
    "campagne-close": _campaign_close,
    "anomalie-rejetee": _defect_rejection,
    "anomalie-message": _defect_message,
    "plan-rouvert": _plan_reopening,
    "accord-refuse": _agreement_refusal,
}


def _assert_escaped(response, what: str, *, shown: bool = True) -> None:
    assert response.status_code == 200, f"{what} : {response.status_code}"
    page = response.content.decode()
    raw = [piece for piece in RAW_PIECES if piece in page]
    assert not raw, f"{what} : balisage tel quel {raw}"
    if shown:
        assert ESCAPED in page, f"{what} : le texte saisi n'y est pas (échappé)"


def _pdf_text(response, what: str) -> str:
    assert response.status_code == 200, f"{what} : {response.status_code}"
    assert response["Content-Type"] == "application/pdf", what
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    reader = PdfReader(io.BytesIO(content))
    for page in reader.pages:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources else None
        xobjects = xobjects.get_object() if xobjects is not None else {}
        images = [
            name
            for name in xobjects
            if xobjects[name].get_object().get("/Subtype") == "/Image"
        ]
        assert not images, f"{what} : image incorporée {images}"
    return "".join("".join(page.extract_text().split()) for page in reader.pages)
