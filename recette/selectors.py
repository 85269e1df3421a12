"""Reads on acceptance testing, always through the access rules; figures are
computed by the database."""

from collections import defaultdict
from dataclasses import dataclass
from html import escape

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from evolutions.selectors import change_requests_visible_to
from recette.models import (
    AcceptancePlan,
    Campaign,
    CampaignCase,
    Defect,
    Execution,
    TestCase,
)
from workflow import access
from workflow.labels import choice_labels
from workflow.rowlinks import url_pattern

R = Execution.Result


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    """Campaigns of the organisations the user may see."""
    return access.scope_to_organisations(
        Campaign.objects.select_related("change_request", "delivery", "organisation"),
        user,
    )


def acceptances_visible_to(user) -> QuerySet:
    """The change requests the user sees that have an acceptance (a plan)."""
    return change_requests_visible_to(user).filter(acceptance_plan__isnull=False)


def defects_visible_to(user) -> QuerySet[Defect]:
    """Defects of the organisations the user may see."""
    return access.scope_to_organisations(
        Defect.objects.select_related("change_request", "fixed_in"), user
    )


def unresolved_defects(change_request) -> QuerySet[Defect]:
    """The acceptance's defects still to be dealt with (they block or reserve the
    go-live), by number."""
    return Defect.objects.filter(
        change_request=change_request, status__in=Defect.UNRESOLVED
    ).order_by("number")


def latest_executions() -> QuerySet[Execution]:
    """The executions of the outer campaign case (its campaign and case), latest
    first: the first one is the case's result in the campaign."""
    return Execution.objects.filter(
        campaign=OuterRef("campaign"), case=OuterRef("case")
    ).order_by("-executed_at", "-pk")


def campaign_cases_with_result(campaign: Campaign) -> QuerySet[CampaignCase]:
    """The campaign's cases, each annotated with its latest result (or to run)
    and who recorded it (`recorded_by`, a user id, or None)."""
    latest = latest_executions()
    return (
        CampaignCase.objects.filter(campaign=campaign)
        .annotate(
            result=Coalesce(Subquery(latest.values("result")[:1]), Value(R.TO_RUN)),
            recorded_by=Subquery(latest.values("tester")[:1]),
        )
        .select_related("case", "tester")
        .order_by("case__position")
    )


def of_tester(cases: QuerySet[CampaignCase], user) -> QuerySet[CampaignCase]:
    """« Mes cas »: those given to `user`, and those whose latest result they
    recorded."""
    return cases.filter(Q(tester=user) | Q(recorded_by=user.pk))


# The grid's filters (its « filtre » parameter), which its export follows too.
GRID_FILTERS = {
    "mes-cas": of_tester,
    "a-executer": lambda cases, _user: cases.filter(result=R.TO_RUN),
    "echoues": lambda cases, _user: cases.filter(result=R.FAILED),
}


def tester_names(user_ids) -> dict[int, str]:
    """Full names of the testers `user_ids` (one query)."""
    people = get_user_model().objects.filter(pk__in={pk for pk in user_ids if pk})
    # The names only (get_full_name's rule): not a whole account row each.
    return {
        pk: f"{first} {last}".strip() or username
        for pk, first, last, username in people.values_list(
            "pk", "first_name", "last_name", "username"
        )
    }


def tester_label(assigned: str, recorder: str) -> str:
    """Who the case is with: the tester it was given to, and who recorded its
    latest result when that is someone else (« — »: nobody yet)."""
    if assigned and recorder and recorder != assigned:
        return _("%(assigned)s (dernier résultat : %(recorder)s)") % {
            "assigned": assigned,
            "recorder": recorder,
        }
    return assigned or recorder or "—"


@dataclass(frozen=True, slots=True)
class GridRow:
    """One line of the campaign grid, ready to print (no model behind it)."""

    case_id: int
    reference: str
    title: str
    tester: str
    result: str
    label: str
    url: str


def grid_rows(cases: QuerySet[CampaignCase], campaign: Campaign) -> list[GridRow]:
    """The grid's lines from `campaign_cases_with_result` (filtered or not), in one
    query and without building a model per case: 500 lines are the common case."""
    labels = choice_labels(R)
    link = url_pattern("recettes:case", campaign.pk)
    fields = ("case_id", "case__reference", "case__title", "result", "recorded_by")
    names = ("tester__first_name", "tester__last_name")
    lines = list(cases.values_list(*fields, *names))
    recorders = tester_names(line[4] for line in lines)
    return [
        GridRow(
            case_id=case_id,
            reference=reference,
            title=title,
            tester=tester_label(
                " ".join(part for part in (first, last) if part),
                recorders.get(recorded_by),
            ),
            result=result,
            label=labels.get(result, result),
            url=link.format(case_id),
        )
        for case_id, reference, title, result, recorded_by, first, last in lines
    ]


def grid_html(rows: list[GridRow], *, focusable: bool) -> SafeString:
    """The grid's table body, every value escaped: a template loop over 500 lines
    costs more than the page's queries, and so does Django's escaping of each value
    through its lazy-string wrapper (the standard library's escape is what it
    calls).

    `focusable`: the tester's grid, one tab stop for all the rows (the arrow
    keys move between them, Entrée on a row without a chosen result opens its
    case: grid.js), so the links are left out of the tab order. Read only, the
    rows are not focusable and each case's link is reached by Tab. The tester's
    rows start with a box selecting the case for a result recorded on several
    cases at once (grid.js; the key « s » ticks it too)."""
    row_tabindex = ' tabindex="0"' if focusable else ""
    link_tabindex = ' tabindex="-1"' if focusable else ""
    # The box, named after its case: "%(reference)s" is the case's, escaped.
    select = (
        '<td><input type="checkbox" data-select tabindex="-1" aria-label="'
        + escape(_("Cocher le cas %(reference)s"))
        + '"></td>'
        if focusable
        else ""
    )
    lines = (
        f'<tr data-case="{r.case_id}" data-reference="{escape(r.reference)}" '
        f'data-result="{escape(r.result)}"{row_tabindex}>'
        f"{select % {'reference': escape(r.reference)} if select else ''}"
        f'<td><a href="{escape(r.url)}"{link_tabindex}>{escape(r.reference)}</a></td>'
        f"<td>{escape(r.title)}</td><td>{escape(r.tester)}</td>"
        f"<td data-result-label>{escape(r.label)}</td></tr>"
        for r in rows
    )
    return mark_safe("\n".join(lines))  # noqa: S308 (every value escaped above)


def plan_cases_html(cases) -> SafeString:
    """The plan's cases, read only, as the acceptance page lists them (a plan has
    hundreds: rendered as the grid is, `grid_html`). `cases` carry `step_count`."""
    labels = choice_labels(TestCase.Priority)
    lines = (
        f'<tr id="cas-{case.pk}" tabindex="-1"><th scope="row">'
        f"{escape(case.reference)}</th><td>{escape(case.title)}</td>"
        f"<td>{escape(labels.get(case.priority, case.priority))}</td>"
        f"<td>{case.step_count}</td></tr>"
        for case in cases
    )
    return mark_safe("\n".join(lines))  # noqa: S308 (every value escaped above)


def defects_html(defects) -> SafeString:
    """The acceptance's defects table body (hundreds in a long acceptance), each
    reference a link to its page; `defects` with `fixed_in` selected."""
    url = url_pattern("recettes:defect")
    severities = choice_labels(Defect.Severity)
    statuses = choice_labels(Defect.Status)
    fixed_in = _("livraison %(n)s")

    def delivery(defect) -> str:
        if defect.fixed_in is None:
            return ""
        return " (" + escape(fixed_in % {"n": defect.fixed_in.number}) + ")"

    lines = (
        f'<tr><td><a href="{url.format(defect.pk)}">{escape(defect.reference)}</a>'
        f"</td><td>{escape(defect.title)}</td>"
        f"<td>{escape(severities.get(defect.severity, defect.severity))}</td>"
        f"<td>{escape(statuses.get(defect.status, defect.status))}"
        f"{delivery(defect)}</td></tr>"
        for defect in defects
    )
    return mark_safe("\n".join(lines))  # noqa: S308 (every value escaped above)


def latest_results(campaign: Campaign) -> dict[int, str]:
    """Case id → latest result in the campaign."""
    return dict(campaign_cases_with_result(campaign).values_list("case_id", "result"))


def campaign_figures(campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's cases stand at each result (one query)."""
    return figures_by_campaign(Campaign.objects.filter(pk=campaign.pk))[campaign.pk]


def run_summary(figures: dict[str, int]) -> str:
    """« 1 cas exécuté sur 4. », « 3 cas exécutés sur 4. »: the campaign's progress
    in a sentence (pages and the grid's answers alike)."""
    return ngettext(
        "%(run)d cas exécuté sur %(planned)d.",
        "%(run)d cas exécutés sur %(planned)d.",
        figures["run"],
    ) % {"run": figures["run"], "planned": figures["planned"]}


def figures_by_campaign(campaigns: QuerySet[Campaign]) -> dict[int, dict[str, int]]:
    """Campaign id → how many of its cases stand at each result (and planned,
    run), for every campaign of `campaigns` in one query; a campaign without
    cases reads as zeros."""
    latest = (
        Execution.objects.filter(campaign=OuterRef("campaign"), case=OuterRef("case"))
        .order_by("-executed_at", "-pk")
        .values("result")[:1]
    )
    rows = (
        CampaignCase.objects.filter(campaign__in=campaigns.values("pk"))
        .annotate(result=Coalesce(Subquery(latest), Value(R.TO_RUN)))
        .order_by()
        .values_list("campaign_id", "result")
        .annotate(n=Count("pk"))
    )
    counted = defaultdict(lambda: dict.fromkeys(R.values, 0))
    for campaign_id, result, n in rows:
        counted[campaign_id][result] = n
    figures = defaultdict(lambda: _totalled(dict.fromkeys(R.values, 0)))
    figures.update((pk, _totalled(counts)) for pk, counts in counted.items())
    return figures


def figures_from_counts(counts) -> dict[str, int]:
    """What `campaign_figures` counts, from (result, number of cases) pairs that
    cover every case once (a dashboard's counts by tester and result)."""
    figures = dict.fromkeys(R.values, 0)
    for result, n in counts:
        figures[result] += n
    return _totalled(figures)


def grid_figures(rows: list[GridRow]) -> dict[str, int]:
    """What `campaign_figures` counts, from the grid's lines of every case."""
    counts = dict.fromkeys(R.values, 0)
    for row in rows:
        counts[row.result] += 1
    return _totalled(counts)


def _totalled(counts: dict[str, int]) -> dict[str, int]:
    counts["planned"] = sum(counts[value] for value in R.values)
    counts["run"] = counts["planned"] - counts[R.TO_RUN]
    return counts


def _cases_with_final_result(plan: AcceptancePlan):
    """The plan's cases, each annotated with its latest result over every
    campaign of the acceptance (to run when never run)."""
    latest = (
        Execution.objects.filter(case=OuterRef("pk"))
        .order_by("-executed_at", "-pk")
        .values("result")[:1]
    )
    return plan.cases.annotate(result=Coalesce(Subquery(latest), Value(R.TO_RUN)))


def case_latest_results(plan: AcceptancePlan) -> dict[int, str]:
    """Case id → its latest result over the whole acceptance (one query)."""
    return dict(_cases_with_final_result(plan).values_list("pk", "result"))


def final_results(plan: AcceptancePlan) -> dict[str, int]:
    """Each case's latest result over all campaigns, counted (one query)."""
    counts = dict.fromkeys(R.values, 0)
    rows = (
        _cases_with_final_result(plan)
        .order_by()
        .values("result")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["result"]] = row["n"]
    counts["planned"] = sum(counts[value] for value in R.values)
    counts["run"] = counts["planned"] - counts[R.TO_RUN]
    return counts


def report_figures(change_request) -> dict:
    """The report's figures as plain data (kept frozen in the submitted report)."""
    plan = change_request.acceptance_plan
    campaigns = list(change_request.campaigns.select_related("delivery"))
    defects = (
        Defect.objects.filter(change_request=change_request)
        .order_by()
        .values("severity", "status")
        .annotate(n=Count("pk"))
    )
    opened = [c.opened_at for c in campaigns]
    closed = [c.closed_at for c in campaigns if c.closed_at]
    figures = figures_by_campaign(change_request.campaigns.all())
    return {
        "campaigns": [
            {
                "number": c.number,
                "kind": c.kind,
                "delivery": c.delivery.number,
                **figures[c.pk],
            }
            for c in campaigns
        ],
        "final": final_results(plan),
        "defects": sorted([d["severity"], d["status"], d["n"]] for d in defects),
        "deliveries": [
            [d.number, d.date.isoformat()]
            for d in change_request.deliveries.order_by("number")
        ],
        "planned": [
            plan.start.isoformat() if plan.start else None,
            plan.end.isoformat() if plan.end else None,
        ],
        "actual": [
            timezone.localdate(min(opened)).isoformat() if opened else None,
            timezone.localdate(max(closed)).isoformat() if closed else None,
        ],
    }


def acceptance_link(change_request, user) -> tuple[str, str] | None:
    """The request's acceptance page, once its plan exists (evolutions.links)."""
    if not AcceptancePlan.objects.filter(change_request=change_request).exists():
        return None
    return (
        _("Recette de la demande : plan, campagnes, anomalies"),
        reverse("recettes:detail", args=[change_request.pk]),
    )
