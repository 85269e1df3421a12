"""Campaigns: cases assigned to testers, results and their evidence recorded, the
campaign closed by the client."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from contacts.models import Organisation, Role
from recette.models import Campaign, CampaignCase, Evidence, Execution
from recette.services._common import CLIENT_LEADS, TESTERS, R
from workflow import access, statements
from workflow.locking import for_update, share_locked_row
from workflow.transitions import ActionRefused, fire
from workflow.uploads import validate_upload

# Results recorded in one request at most (the grid's bulk result): a campaign has a
# few hundred cases; more is no tester's selection.
MAX_RESULTS_AT_ONCE = 1000

# The grid sends the results typed in batches: when the tester pauses this long
# (milliseconds), or as soon as this many are waiting, or when the page is left.
# One request and one lock per batch instead of one per result; the page and the
# benchmarks read them here.
GRID_BATCH_MAX = 50
GRID_IDLE_MS = 1500
# A result's key as the grid makes it: a UUID, or hexadecimal digits.
CLIENT_KEY = re.compile(r"[0-9A-Za-z-]{1,64}")


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


@dataclass(frozen=True)
class Recorded:
    """What a recording did: the rows written, the client keys now saved (written
    now or by an earlier request), and each case's result before and after."""

    executions: list[Execution]
    acknowledged: list[str]
    changes: dict[int, tuple[str, str]]


def executions_record(*, pk: int, by, results: list[dict]) -> list[Execution]:
    """Testers record results; each one adds to the case's history, nothing is lost.

    `results`: as `results_record`'s; answers the rows written.
    """
    return results_record(pk=pk, by=by, results=results).executions


def results_record(*, pk: int, by, results: list[dict]) -> Recorded:
    """Record results sent by the grid, each at most once (by its client key).

    `results`: dicts with `case` (pk), `result`, and optionally `comment`,
    `step_results` ({step number: result}) and `key` (the grid's client key).
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
        if entry.get("key") and not CLIENT_KEY.fullmatch(entry["key"]):
            raise ValidationError(_("Clé de résultat illisible."))
    try:
        return _executions_new(pk, by, results)
    except IntegrityError:
        if not any(entry.get("key") for entry in results):
            raise
        # The same keys sent twice at once (the page closed while sending, then
        # opened again): the other request saved them meanwhile. The save starts
        # again and reads them; a savepoint around each insert would cost every
        # save two statements for this rare case.
        return _executions_new(pk, by, results)


def _executions_new(pk: int, by, results: list[dict]) -> Recorded:
    """Write the results whose client key is not saved yet (all those without),
    in one transaction; answer what the save did."""
    touched = list(dict.fromkeys(entry["case"] for entry in results))  # as sent
    with transaction.atomic():
        # A shared lock: testers recording at once do not wait for each other,
        # while closing the campaign (an exclusive lock) waits for the results
        # being saved, and a save waits for the closing, then sees it closed.
        status, organisation = _campaign_share_locked(pk)
        access.require_any_role(by, TESTERS, organisation)
        if status != Campaign.Status.OPEN:
            raise ActionRefused(_("La campagne est close : plus aucun résultat."))
        # The touched cases only, whatever the campaign's size: their result
        # before this save, which also tells a case outside the campaign.
        before = _results_before(pk, touched)
        if len(before) != len(touched):
            raise ValidationError(_("Un des cas ne fait pas partie de cette campagne."))
        executions = statements.insert(_unsaved(pk, by, results))
    after = dict(before)
    for execution in executions:  # in the order sent: the last one is the latest
        after[execution.case_id] = execution.result
    return Recorded(
        executions=executions,
        acknowledged=list(dict.fromkeys(e["key"] for e in results if e.get("key"))),
        changes={case: (before[case], after[case]) for case in touched},
    )


def _reads_sql(connection) -> tuple[str, str, str, statements.Reader]:
    """The three reads of a save, in SQL written once (workflow/statements.py:
    building them through the ORM cost more than running them), and the reader
    of the campaign's organisation. The last two end with a condition on a
    column, to which statements.one_of adds the cases, the keys."""
    table = {
        model: statements.table(model, connection)
        for model in (Campaign, CampaignCase, Execution, Organisation)
    }
    campaign = statements.columns(Campaign, connection)
    case = statements.columns(CampaignCase, connection)
    execution = statements.columns(Execution, connection)
    organisation = statements.columns(Organisation, connection)
    status_and_organisation = (
        f"SELECT c.{campaign['status']}, "  # noqa: S608 - names from the models
        + ", ".join(f"o.{column}" for column in organisation.values())
        + f" FROM {table[Campaign]} c INNER JOIN {table[Organisation]} o"
        f" ON o.{organisation['id']} = c.{campaign['organisation']}"
        f" WHERE c.{campaign['id']} = %s"
    )
    # Each case's latest result, as selectors.latest_executions() finds it: the
    # first entry of the index recette_execution_latest.
    results = (
        f"SELECT cc.{case['case']}, (SELECT e.{execution['result']}"  # noqa: S608 - names from the models
        f" FROM {table[Execution]} e WHERE e.{execution['campaign']} ="
        f" cc.{case['campaign']} AND e.{execution['case']} = cc.{case['case']}"
        f" ORDER BY e.{execution['executed_at']} DESC, e.{execution['id']} DESC"
        f" LIMIT 1) FROM {table[CampaignCase]} cc"
        f" WHERE cc.{case['campaign']} = %s AND cc.{case['case']}"
    )
    # Through the unique constraint's partial index, which the condition on the
    # empty key lets any plan use (a plan made for any keys included).
    keys = (
        f"SELECT {execution['client_key']} FROM {table[Execution]}"  # noqa: S608 - names from the models
        f" WHERE {execution['tester']} = %s AND {execution['client_key']} <> ''"
        f" AND {execution['client_key']}"
    )
    organisations = statements.Reader(Organisation, connection)
    return status_and_organisation, results, keys, organisations


def _campaign_share_locked(pk: int) -> tuple[str, Organisation]:
    """The campaign's status and organisation, under a shared lock."""
    found = _status_and_organisation(pk, locked=True)
    if found is None:
        raise Campaign.DoesNotExist
    return found


def visible_campaign_organisation(user, pk: int) -> Organisation | None:
    """The organisation of the campaign `pk` if the user sees the campaign (what
    campaigns_visible_to lets through), read by the save's statement without its
    lock; None otherwise."""
    found = _status_and_organisation(pk, locked=False)
    if found is None:
        return None
    _status, organisation = found
    return (
        organisation if access.sees_organisation_data(user, organisation.pk) else None
    )


def _status_and_organisation(pk: int, *, locked: bool):
    """(status, organisation) of the campaign, its row under a shared lock when
    `locked`; None: no such campaign."""
    connection, (sql, _, _, organisations) = statements.prepared(
        "recording", Campaign, _reads_sql
    )
    if locked:
        row = share_locked_row(sql, [pk], of="c")
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
    if row is None:
        return None
    status, *organisation = row
    return status, organisations.instance(organisation, connection)


def _results_before(pk: int, cases: list[int]) -> dict[int, str]:
    """The result of each of `cases` in the campaign, as campaign_cases_with_result
    gives it (the latest, or to run), for those of the campaign only."""
    if not cases:
        return {}  # an empty batch; "IN ()" is no SQL
    connection, (_, sql, _, _) = statements.prepared("recording", Campaign, _reads_sql)
    with connection.cursor() as cursor:
        condition, values = statements.one_of(connection, cases)
        cursor.execute(sql + condition, [pk, *values])
        return {case: result or R.TO_RUN.value for case, result in cursor.fetchall()}


def _unsaved(pk: int, by, results: list[dict]) -> list[Execution]:
    keys = list({entry["key"] for entry in results if entry.get("key")})
    seen: set[str] = set()
    if keys:
        # Read through the unique constraint's index.
        connection, (_, _, sql, _) = statements.prepared(
            "recording", Campaign, _reads_sql
        )
        with connection.cursor() as cursor:
            condition, values = statements.one_of(connection, keys)
            cursor.execute(sql + condition, [by.pk, *values])
            seen = {key for (key,) in cursor.fetchall()}
    rows = []
    for entry in results:
        key = entry.get("key") or ""
        if key in seen:
            continue
        if key:
            seen.add(key)
        rows.append(
            Execution(
                campaign_id=pk,
                case_id=entry["case"],
                result=entry["result"],
                comment=(entry.get("comment") or "").strip(),
                step_results=entry.get("step_results") or {},
                tester=by,
                client_key=key,
            )
        )
    return rows


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
        # Exclusive: waits for the results being saved (each holds a shared lock,
        # results_record), and the saves that come after wait for it, then find
        # the campaign closed. fire() refuses a campaign closed meanwhile.
        campaign = _locked_campaign(pk)
        access.require_any_role(by, CLIENT_LEADS, campaign.organisation)
        fire(campaign, "close", by=by, comment=comment, outcome=outcome)
    return campaign
