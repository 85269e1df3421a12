"""What the bench measures on: the users and the objects, named by the dataset's
manifest (`manage.py generate_dataset`) or, without one, found by query."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest
from evolutions.selectors import change_requests_visible_to
from recette.models import Campaign, Execution
from recette.selectors import campaigns_visible_to
from workflow.models import TransitionLog

# What the issue asks for; without a manifest the closest objects are taken.
CAMPAIGN_CASES = 500
REPORT_EXECUTIONS = 2000
HISTORY_ROWS = 30
REPORT_DEFECTS = 300
# The campaign whose results are exported (issue 17).
EXPORT_EXECUTIONS = 5000

DEFAULT_USERS = {
    "supplier_analyst": "cnaf.contact",
    "client_owner": "cd23.porteur",
    "tester": "cd23.testeur",
    # « Mes tâches » is also measured for the supplier's porteur de la commande.
    "order_owner": "cnaf.commande",
}


@dataclass
class Subjects:
    tier: str
    source: str
    analyst: object
    owner: object
    tester: object
    list_filters: dict
    history_request: ChangeRequest
    campaign: Campaign
    report_request: ChangeRequest
    order_owner: object = None
    export_campaign: Campaign | None = None
    flow_class: type = EvolutionFlow
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """Plain data for results.json: who and what was measured."""
        return {
            "source": self.source,
            "users": {
                "supplier_analyst": self.analyst.username,
                "client_owner": self.owner.username,
                "tester": self.tester.username,
                "order_owner": self.order_owner.username,
            },
            "list_filters": self.list_filters,
            "history_request": self.history_request.pk,
            "campaign": self.campaign.pk,
            "report_request": self.report_request.pk,
            "export_campaign": self.export_campaign.pk,
            "notes": self.notes,
        }


def find_manifests(explicit: str | None) -> list[Path]:
    """The manifest given, else those generate_dataset left under var/, newest
    first."""
    if explicit:
        return [Path(explicit)]
    found = [p for p in Path(settings.VAR_DIR).glob("dataset*.json") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _manifest_matches(data: dict) -> bool:
    """Whether the manifest describes this database: a manifest left under var/
    by a generation on another database names objects that are not these."""
    from django.db import connection

    if data.get("database") not in (None, connection.vendor):
        return False
    campaign = Campaign.objects.filter(pk=data.get("campaign_500") or 0).first()
    request = ChangeRequest.objects.filter(pk=data.get("report_2000") or 0).first()
    if campaign is None or request is None:
        return False
    executions = Execution.objects.filter(campaign__change_request=request).count()
    return campaign.campaign_cases.count() == data.get(
        "campaign_500_cases"
    ) and executions == data.get("report_2000_executions")


def load(*, manifests: list[Path], tier: str | None) -> Subjects:
    """The subjects named by the first manifest that describes this database,
    completed by query where it is silent (or when none does)."""
    notes: list[str] = []
    data, manifest = {}, None
    for candidate in manifests:
        content = json.loads(candidate.read_text())
        if _manifest_matches(content):
            data, manifest = content, candidate
            break
        notes.append(f"{candidate} ignored: it describes another database")
    users = data.get("users") or {}
    analyst, owner, tester, order_owner = (
        _user(users.get(role) or default) for role, default in DEFAULT_USERS.items()
    )
    history_request = (
        ChangeRequest.objects.get(pk=data["detail_30"])
        if data.get("detail_30")
        else _request_with_history(analyst)
    )
    campaign = (
        Campaign.objects.get(pk=data["campaign_500"])
        if data.get("campaign_500")
        else _open_campaign(tester)
    )
    report_request = (
        ChangeRequest.objects.get(pk=data["report_2000"])
        if data.get("report_2000")
        else _request_with_executions(analyst)
    )
    export_campaign = (
        Campaign.objects.get(pk=data["campaign_5000"])
        if data.get("campaign_5000")
        else _campaign_with_executions(owner)
    )
    subjects = Subjects(
        tier=tier or data.get("tier") or "demo",
        source=f"manifest {manifest}" if manifest else "query",
        analyst=analyst,
        owner=owner,
        tester=tester,
        order_owner=order_owner,
        list_filters=data.get("list_filters") or _list_filters(analyst),
        history_request=history_request,
        campaign=campaign,
        report_request=report_request,
        export_campaign=export_campaign,
        notes=notes,
    )
    subjects.notes += _shortfalls(subjects)
    return subjects


def _shortfalls(subjects: Subjects) -> list[str]:
    """Where the objects measured are not of the issue's sizes."""
    content_type = ContentType.objects.get_for_model(ChangeRequest)
    history = subjects.history_request
    report = subjects.report_request
    sizes = (
        (
            f"request {history.pk}: history rows",
            TransitionLog.objects.filter(
                content_type=content_type, object_id=history.pk
            ).count(),
            HISTORY_ROWS,
        ),
        (
            f"campaign {subjects.campaign.pk}: cases",
            subjects.campaign.campaign_cases.count(),
            CAMPAIGN_CASES,
        ),
        (
            f"bilan of request {report.pk}: executions",
            Execution.objects.filter(campaign__change_request=report).count(),
            REPORT_EXECUTIONS,
        ),
        (
            f"bilan of request {report.pk}: defects",
            report.defects.count(),
            REPORT_DEFECTS,
        ),
        (
            f"exported campaign {subjects.export_campaign.pk}: executions",
            subjects.export_campaign.executions.count(),
            EXPORT_EXECUTIONS,
        ),
    )
    return [
        f"{what} {found}, not {wanted}"
        for what, found, wanted in sizes
        if found != wanted
    ]


def _nearest(model, counts: dict[int, int], target: int, missing: str):
    """The `model` row whose count is nearest to `target` (the larger on a tie);
    LookupError(`missing`) when there is none."""
    if not counts:
        raise LookupError(missing)
    pk = min(counts, key=lambda pk: (abs(counts[pk] - target), -counts[pk], pk))
    return model.objects.get(pk=pk)


def _request_with_history(user) -> ChangeRequest:
    content_type = ContentType.objects.get_for_model(ChangeRequest)
    visible = change_requests_visible_to(user).values("pk")
    counts = dict(
        TransitionLog.objects.filter(content_type=content_type, object_id__in=visible)
        .order_by()
        .values_list("object_id")
        .annotate(n=Count("pk"))
    )
    return _nearest(
        ChangeRequest, counts, HISTORY_ROWS, "no change request with history rows"
    )


def _open_campaign(tester) -> Campaign:
    counts = dict(
        campaigns_visible_to(tester)
        .filter(status=Campaign.Status.OPEN)
        .order_by()
        .values_list("pk")
        .annotate(n=Count("campaign_cases"))
    )
    return _nearest(
        Campaign,
        counts,
        CAMPAIGN_CASES,
        f"no open campaign {tester.username} may record in",
    )


def _campaign_with_executions(user) -> Campaign:
    counts = dict(
        campaigns_visible_to(user)
        .order_by()
        .values_list("pk")
        .annotate(n=Count("executions"))
    )
    return _nearest(
        Campaign,
        counts,
        EXPORT_EXECUTIONS,
        f"no campaign {user.username} may see",
    )


def _request_with_executions(user) -> ChangeRequest:
    visible = change_requests_visible_to(user).values("pk")
    counts = dict(
        Execution.objects.filter(campaign__change_request__in=visible)
        .order_by()
        .values_list("campaign__change_request")
        .annotate(n=Count("pk"))
    )
    return _nearest(
        ChangeRequest, counts, REPORT_EXECUTIONS, "no acceptance with executions"
    )


def _list_filters(user) -> dict:
    """The kind with the most requests the user sees: the filter with most pages."""
    counts = dict(
        change_requests_visible_to(user)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    if not counts:
        return {}
    kind = max(counts, key=lambda k: (counts[k], k))
    return {"kind": kind}
