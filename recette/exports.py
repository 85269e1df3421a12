"""An acceptance's tables as spreadsheets (CSV or XLSX), each under the rules of
the page it is exported from: a campaign's results (its grid, with the grid's
filter), every execution of the acceptance, its defects."""

from django.db.models import FilteredRelation, Q, Subquery
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from recette.models import Campaign, Defect, Execution
from recette.selectors import (
    GRID_FILTERS,
    acceptances_visible_to,
    campaign_cases_with_result,
    campaigns_visible_to,
    defects_visible_to,
    latest_executions,
)
from workflow.exports import export_response, person_name

# Rows read from the database at a time (an export never holds them all).
CHUNK = 1000
R = Execution.Result


def _labels(choices) -> dict[str, str]:
    """Value → label, translated now (a streamed file is written after the view
    has returned, outside the request's language)."""
    return {value: str(label) for value, label in choices}


def campaign_results_lines(campaign: Campaign, *, shown: str = "", user=None):
    """The grid's cases (narrowed by its filter `shown`, for `user`) with their
    latest execution: case reference and title, assigned tester, result (None:
    never run), who recorded it, when, and its comment; the tester and the
    recorder as first name, last name and username.

    The latest execution is joined by its id (one subquery per case), not read
    column by column (a subquery for each)."""
    cases = campaign_cases_with_result(campaign)
    narrowed = GRID_FILTERS.get(shown)
    if narrowed:
        cases = narrowed(cases, user)
    latest = Subquery(latest_executions().values("pk")[:1])
    return cases.annotate(
        latest=FilteredRelation(
            "case__executions", condition=Q(case__executions__pk=latest)
        )
    ).values_list(
        "case__reference",
        "case__title",
        "tester__first_name",
        "tester__last_name",
        "tester__username",
        "latest__result",
        "latest__tester__first_name",
        "latest__tester__last_name",
        "latest__tester__username",
        "latest__executed_at",
        "latest__comment",
    )


def campaign_results_export(request, pk: int, fmt: str):
    """One line per case of the campaign, as its grid shows them."""
    campaign = get_object_or_404(campaigns_visible_to(request.user), pk=pk)
    results = _labels(R.choices)
    lines = campaign_results_lines(
        campaign, shown=request.GET.get("filtre", ""), user=request.user
    )
    rows = (
        (
            line[0],
            line[1],
            person_name(*line[2:5]),
            results[line[5] or R.TO_RUN],
            person_name(*line[6:9]),
            line[9],
            line[10],
        )
        for line in lines.iterator(chunk_size=CHUNK)
    )
    return export_response(
        fmt,
        filename=_("%(reference)s-campagne-%(number)s-resultats")
        % {"reference": campaign.change_request.reference, "number": campaign.number},
        header=(
            _("Cas"),
            _("Intitulé"),
            _("Testeur"),
            _("Résultat"),
            _("Enregistré par"),
            _("Exécuté le"),
            _("Commentaire"),
        ),
        rows=rows,
        sheet=_("Campagne %(number)s") % {"number": campaign.number},
        subject=campaign,
    )


def executions_export(request, pk: int, fmt: str):
    """Every execution of every campaign of the acceptance, in the order they were
    recorded within each campaign and case."""
    change_request = get_object_or_404(acceptances_visible_to(request.user), pk=pk)
    campaigns = campaigns_visible_to(request.user).filter(change_request=change_request)
    kinds = _labels(Campaign.Kind.choices)
    results = _labels(R.choices)
    lines = (
        Execution.objects.filter(campaign__in=campaigns.values("pk"))
        .order_by("campaign__number", "case__position", "executed_at", "pk")
        .values_list(
            "campaign__kind",
            "campaign__number",
            "campaign__delivery__number",
            "case__reference",
            "case__title",
            "result",
            "tester__first_name",
            "tester__last_name",
            "tester__username",
            "executed_at",
            "comment",
        )
    )
    rows = (
        (
            f"{kinds.get(kind, kind)} {number}",
            delivery,
            reference,
            title,
            results.get(result, result),
            person_name(first, last, username),
            executed_at,
            comment,
        )
        for (
            kind,
            number,
            delivery,
            reference,
            title,
            result,
            first,
            last,
            username,
            executed_at,
            comment,
        ) in lines.iterator(chunk_size=CHUNK)
    )
    return export_response(
        fmt,
        filename=_("%(reference)s-executions")
        % {"reference": change_request.reference},
        header=(
            _("Campagne"),
            _("Livraison"),
            _("Cas"),
            _("Intitulé"),
            _("Résultat"),
            _("Testeur"),
            _("Exécuté le"),
            _("Commentaire"),
        ),
        rows=rows,
        sheet=_("Exécutions"),
        subject=change_request,
    )


def defects_export(request, pk: int, fmt: str):
    """The acceptance's defects, whole: where each was found, what was seen, where
    it stands."""
    change_request = get_object_or_404(acceptances_visible_to(request.user), pk=pk)
    defects = (
        defects_visible_to(request.user)
        .filter(change_request=change_request)
        .select_related("fixed_in", "campaign", "case", "opened_by")
        .order_by("number")
    )
    kinds = _labels(Campaign.Kind.choices)
    severities = _labels(Defect.Severity.choices)
    statuses = _labels(Defect.Status.choices)

    def row(defect: Defect) -> tuple:
        campaign, opener = defect.campaign, defect.opened_by
        return (
            defect.reference,
            defect.title,
            severities.get(defect.severity, defect.severity),
            statuses.get(defect.status, defect.status),
            defect.fixed_in.number if defect.fixed_in else None,
            f"{kinds.get(campaign.kind, campaign.kind)} {campaign.number}"
            if campaign
            else "",
            defect.case.reference if defect.case else "",
            defect.step,
            defect.description,
            defect.steps_to_reproduce,
            defect.expected,
            defect.observed,
            defect.rejection_reason,
            person_name(opener.first_name, opener.last_name, opener.username),
            defect.opened_at,
        )

    return export_response(
        fmt,
        filename=_("%(reference)s-anomalies") % {"reference": change_request.reference},
        header=(
            _("Référence"),
            _("Intitulé"),
            _("Gravité"),
            _("État"),
            _("Corrigée dans la livraison"),
            _("Campagne"),
            _("Cas"),
            _("Étape"),
            _("Description"),
            _("Étapes pour reproduire"),
            _("Résultat attendu"),
            _("Résultat observé"),
            _("Motif du rejet"),
            _("Ouverte par"),
            _("Ouverte le"),
        ),
        rows=(row(defect) for defect in defects.iterator(chunk_size=CHUNK)),
        sheet=_("Anomalies"),
        subject=change_request,
    )
