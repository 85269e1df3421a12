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


def results_record(*, pk: int, by, results) -> Recorded:
    """Record results sent by the grid, each at most once (by its client key).

    `results`: dicts with `case` (pk), `result`, and optionally `comment`,
    `step_results` ({step number: result}) and `key` (the grid's client key); or a
    function giving them, called once the campaign is known visible to `by` and
    `by` one of its testers (the grid's request body, read only then: a refusal is
    the same whatever was sent). A campaign `by` does not see is one that does not
    exist (Campaign.DoesNotExist).
    """
    try:
        return _executions_new(pk, by, results)
    except IntegrityError:
        # The same keys sent twice at once (the page closed while sending, then
        # opened again): the other request saved them meanwhile. The save starts
        # again and reads them; a savepoint around each insert would cost every
        # save two statements for this rare case.
        return _executions_new(pk, by, results)


def _checked(results: list[dict]) -> list[dict]:
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
    return results


def _executions_new(pk: int, by, results) -> Recorded:
    """Write the results whose client key is not saved yet (all those without),
    in one transaction; answer what the save did."""
    with transaction.atomic():
        # A shared lock: testers recording at once do not wait for each other,
        # while closing the campaign (an exclusive lock) waits for the results
        # being saved, and a save waits for the closing, then sees it closed.
        # The same read tells whether the user sees the campaign (what
        # campaigns_visible_to lets through): one statement for both.
        status, organisation = _campaign_share_locked(pk)
        if not access.sees_organisation_data(by, organisation.pk):
            raise Campaign.DoesNotExist  # another client's: as if there were none
        access.require_any_role(by, TESTERS, organisation)
        results = _checked(results() if callable(results) else results)
        if status != Campaign.Status.OPEN:
            raise ActionRefused(_("La campagne est close : plus aucun résultat."))
        touched = list(dict.fromkeys(entry["case"] for entry in results))  # as sent
        keys = list(dict.fromkeys(e["key"] for e in results if e.get("key")))
        # The touched cases only, whatever the campaign's size: their result
        # before this save, which also tells a case outside the campaign; and
        # which of the keys are saved already. One statement.
        before, seen = _reads(pk, by, touched, keys)
        if len(before) != len(touched):
            raise ValidationError(_("Un des cas ne fait pas partie de cette campagne."))
        executions = statements.insert(_unsaved(pk, by, results, seen))
    after = dict(before)
    for execution in executions:  # in the order sent: the last one is the latest
        after[execution.case_id] = execution.result
    return Recorded(
        executions=executions,
        acknowledged=keys,
        changes={case: (before[case], after[case]) for case in touched},
    )


def _reads_sql(connection) -> tuple[str, str, str, statements.Reader]:
    """The three reads of a save, in SQL written once (workflow/statements.py:
    building them through the ORM cost more than running them), and the reader
    of the campaign's organisation. The second and the third end with a
    condition on a column, to which statements.one_of adds the cases, the keys;
    the third follows the second (UNION ALL)."""
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
    # The keys saved already, in the same statement (its rows have no case):
    # through the unique constraint's partial index, which the condition on the
    # empty key lets any plan use (a plan made for any keys included).
    keys = (
        f" UNION ALL SELECT NULL, {execution['client_key']}"  # noqa: S608 - names from the models
        f" FROM {table[Execution]} WHERE {execution['tester']} = %s"
        f" AND {execution['client_key']} <> '' AND {execution['client_key']}"
    )
    organisations = statements.Reader(Organisation, connection)
    return status_and_organisation, results, keys, organisations


def _campaign_share_locked(pk: int) -> tuple[str, Organisation]:
    """The campaign's status and organisation, its row under a shared lock."""
    connection, (sql, _, _, organisations) = statements.prepared(
        "recording", Campaign, _reads_sql
    )
    row = share_locked_row(sql, [pk], of="c")
    if row is None:
        raise Campaign.DoesNotExist
    status, *organisation = row
    return status, organisations.instance(organisation, connection)


def _reads(pk: int, by, cases: list[int], keys: list[str]):
    """({case: its result in the campaign, as campaign_cases_with_result gives it
    (the latest, or to run)} for those of `cases` in the campaign, the ones of
    `by`'s `keys` saved already), in one statement."""
    if not cases:
        return {}, set()  # an empty batch; "IN ()" is no SQL
    connection, (_, results_sql, keys_sql, _) = statements.prepared(
        "recording", Campaign, _reads_sql
    )
    condition, values = statements.one_of(connection, cases)
    sql, params = results_sql + condition, [pk, *values]
    if keys:
        condition, values = statements.one_of(connection, keys)
        sql, params = sql + keys_sql + condition, [*params, by.pk, *values]
    before, seen = {}, set()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for case, value in cursor.fetchall():
            if case is None:
                seen.add(value)
            else:
                before[case] = value or R.TO_RUN.value
    return before, seen


def _unsaved(pk: int, by, results: list[dict], seen: set[str]) -> list[Execution]:
    """The rows to write: each result whose key is not `seen` (saved already),
    a key sent twice in the batch written once."""
    seen = set(seen)
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
