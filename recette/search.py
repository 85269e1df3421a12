"""What the shell's search finds in acceptance testing: acceptances, test cases and
defects (declared to the engine in RecetteConfig.ready(), see workflow.search)."""

import re
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from evolutions.models import ChangeRequest
from recette.models import AcceptancePlan, Defect, TestCase
from recette.selectors import acceptances_visible_to, defects_visible_to
from workflow import search

# « ANO-001 », « ano-1 », « ANO 12 »: a defect's reference (its number in its
# acceptance), at most nine digits so that the number fits its column.
_DEFECT_REFERENCE = re.compile(r"ano[- ]?0*([0-9]{1,9})", re.IGNORECASE)


def defect_number(text: str) -> int | None:
    """The number a defect reference names (« ANO-001 » → 1), or None."""
    found = _DEFECT_REFERENCE.fullmatch(text.strip())
    return int(found[1]) if found else None


def _plan_state(plan: AcceptancePlan) -> str:
    return _("Plan v%(version)d : %(status)s") % {
        "version": plan.version,
        "status": plan.get_status_display(),
    }


def _acceptance_state(change_request: ChangeRequest, statuses: dict) -> str:
    plan = change_request.acceptance_plan
    return _("%(status)s, plan v%(version)d : %(plan)s") % {
        "status": statuses.get(change_request.status, change_request.status),
        "version": plan.version,
        "plan": plan.get_status_display(),
    }


def acceptances_found(user, text: str) -> search.Found:
    """The acceptances the user sees whose request's reference or title matches."""
    rows = (
        search.matching(acceptances_visible_to(user), text)
        .select_related("acceptance_plan")
        .order_by("-pk")
    )
    statuses = dict(ChangeRequest.Status.choices)
    return search.found(
        "recettes",
        _("Recettes"),
        rows,
        lambda cr: search.Hit(
            reference=cr.reference,
            title=cr.title,
            organisation=str(cr.organisation),
            state=_acceptance_state(cr, statuses),
            url=reverse("recettes:detail", args=[cr.pk]),
        ),
        more_url=f"{reverse('recettes:index')}?{urlencode({'q': text})}",
    )


def cases_found(user, text: str) -> search.Found:
    """The test cases, in the plans of the acceptances the user sees, whose
    reference or title matches; each leads to its acceptance's plan."""
    visible = acceptances_visible_to(user).values("pk")
    rows = (
        search.matching(TestCase.objects.filter(plan__change_request__in=visible), text)
        .select_related("plan__change_request__organisation")
        .order_by("-plan__change_request_id", "position")
    )
    return search.found(
        "cas",
        _("Cas de test"),
        rows,
        lambda case: search.Hit(
            reference=case.reference,
            title=case.title,
            organisation=str(case.plan.change_request.organisation),
            state=_plan_state(case.plan),
            url=reverse("recettes:detail", args=[case.plan.change_request_id])
            + "#plan-title",
            within=case.plan.change_request.reference,
        ),
    )


def defects_found(user, text: str) -> search.Found:
    """The defects the user sees whose reference (« ANO-001 ») or title matches."""
    number = defect_number(text)
    also = None if number is None else Q(number=number)
    rows = (
        search.matching(defects_visible_to(user), text, reference=None, also=also)
        .select_related("organisation")
        .order_by("-opened_at", "-pk")
    )
    statuses = dict(Defect.Status.choices)
    severities = dict(Defect.Severity.choices)
    return search.found(
        "anomalies",
        _("Anomalies"),
        rows,
        lambda defect: search.Hit(
            reference=defect.reference,
            title=defect.title,
            organisation=str(defect.organisation),
            state=_("%(status)s (%(severity)s)")
            % {
                "status": statuses.get(defect.status, defect.status),
                "severity": severities.get(defect.severity, defect.severity),
            },
            url=reverse("recettes:defect", kwargs={"pk": defect.pk}),
            within=defect.change_request.reference,
        ),
        more_url=f"{reverse('recettes:defects')}?{urlencode({'q': text})}",
    )
