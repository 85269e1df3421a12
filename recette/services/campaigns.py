"""Campaigns: cases assigned to testers, results and their evidence recorded, the
campaign closed by the client."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Role
from recette.models import Campaign, Evidence, Execution
from recette.services._common import CLIENT_LEADS, TESTERS, R
from workflow import access
from workflow.locking import for_update
from workflow.transitions import ActionRefused, fire
from workflow.uploads import validate_upload

# Results recorded in one request at most (the grid's bulk result): a campaign has a
# few hundred cases; more is no tester's selection.
MAX_RESULTS_AT_ONCE = 1000


def _locked_campaign(pk: int) -> Campaign:
    return for_update(Campaign.objects.select_related("organisation")).get(pk=pk)


def may_record_results(user, campaign: Campaign) -> bool:
    """May the user record results in the campaign now?"""
    return campaign.status == Campaign.Status.OPEN and access.may_act_any(
        user, TESTERS, campaign.organisation
    )


def campaign_assign(*, pk: int, by, case_pks: list[int], tester) -> int:
    """The client's request owner assigns cases of a campaign to a tester."""
    with transaction.atomic():
        campaign = _locked_campaign(pk)
        access.require_any_role(by, CLIENT_LEADS, campaign.organisation)
        access.forget_memberships(tester)
        if not access.may_act(tester, Role.TESTEUR, campaign.organisation):
            raise ValidationError(_("Cette personne n'est pas testeur de l'organisme."))
        return campaign.campaign_cases.filter(case_id__in=case_pks).update(
            tester=tester
        )


def executions_record(*, pk: int, by, results: list[dict]) -> list[Execution]:
    """Testers record results; each one adds to the case's history, nothing is lost.

    `results`: dicts with `case` (pk), `result`, and optionally `comment` and
    `step_results` ({step number: result}).
    """
    if len(results) > MAX_RESULTS_AT_ONCE:
        raise ValidationError(
            _("Au plus %(max)s résultats à la fois : sélectionnez moins de cas.")
            % {"max": MAX_RESULTS_AT_ONCE}
        )
    allowed = set(R.values)
    for entry in results:
        if entry.get("result") not in allowed:
            raise ValidationError(
                _("Résultat inconnu : « %(value)s ».") % {"value": entry.get("result")}
            )
        # PostgreSQL stores no NUL character: refused as by any form's text field.
        ProhibitNullCharactersValidator()(entry.get("comment") or "")
    with transaction.atomic():
        # Locking the campaign row makes simultaneous saves queue for an instant,
        # and closing the campaign cannot slip between the check and the save.
        campaign = _locked_campaign(pk)
        access.require_any_role(by, TESTERS, campaign.organisation)
        if campaign.status != Campaign.Status.OPEN:
            raise ActionRefused(_("La campagne est close : plus aucun résultat."))
        in_campaign = set(campaign.campaign_cases.values_list("case_id", flat=True))
        unknown = {entry["case"] for entry in results} - in_campaign
        if unknown:
            raise ValidationError(_("Un des cas ne fait pas partie de cette campagne."))
        return Execution.objects.bulk_create(
            Execution(
                campaign=campaign,
                case_id=entry["case"],
                result=entry["result"],
                comment=(entry.get("comment") or "").strip(),
                step_results=entry.get("step_results") or {},
                tester=by,
            )
            for entry in results
        )


def evidence_add(*, execution_pk: int, by, uploaded) -> Evidence:
    """Join a file to an execution, under the upload rules."""
    validate_upload(uploaded)
    with transaction.atomic():
        execution = Execution.objects.select_related("campaign__organisation").get(
            pk=execution_pk
        )
        access.require_any_role(by, TESTERS, execution.campaign.organisation)
        evidence = Evidence(execution=execution)
        evidence.store(uploaded, by=by)
        evidence.save()
    return evidence


def campaign_close(
    *, pk: int, by, outcome: str = Campaign.Outcome.REPORT, comment: str = ""
) -> Campaign:
    """The client closes a campaign and says what comes next: fixes or the report."""
    if outcome not in Campaign.Outcome.values:
        raise ValidationError({"outcome": _("Choisissez la suite de la campagne.")})
    with transaction.atomic():
        campaign = _locked_campaign(pk)
        access.require_any_role(by, CLIENT_LEADS, campaign.organisation)
        fire(campaign, "close", by=by, comment=comment, outcome=outcome)
    return campaign
