"""The grid's batches (issue 18): each result typed is saved once however often it is
sent, the answer says how each case touched changed, a closed campaign takes
nothing, and a batch costs the same whatever the campaign's size."""

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recette import services
from recette.models import Execution
from recette.selectors import latest_results
from recette.services import campaigns
from tests.recette.test_pages import _reset
from workflow.transitions import ActionRefused

R = Execution.Result


def _keyed(cases, result=R.PASSED):
    return [{"case": c.pk, "result": result, "key": str(uuid.uuid4())} for c in cases]


def _post(client, campaign, entries):
    return client.post(
        reverse("recettes:record", args=[campaign.pk]),
        json.dumps({"results": entries}),
        content_type="application/json",
    )


def test_a_result_sent_again_is_saved_once_and_acknowledged(world, campaign):
    testeur = world.user("cd23.testeur")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    first, typed_since = _keyed(cases[:2]), _keyed(cases[2:3], R.FAILED)

    sent = services.results_record(pk=campaign.pk, by=testeur, results=first)
    # The page closed before the answer: the same two again, with one typed since.
    again = services.results_record(
        pk=campaign.pk, by=testeur, results=[*first, *typed_since]
    )

    assert len(sent.executions) == 2
    assert [e.case_id for e in again.executions] == [cases[2].pk]
    assert again.acknowledged == [e["key"] for e in (*first, *typed_since)]
    saved = Execution.objects.filter(campaign=campaign)
    assert saved.count() == 3
    assert sorted(saved.values_list("client_key", flat=True)) == sorted(
        again.acknowledged
    )


def test_the_same_key_from_another_tester_is_another_result(world, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    entry = _keyed([case])

    services.results_record(
        pk=campaign.pk, by=world.user("cd23.testeur"), results=entry
    )
    services.results_record(
        pk=campaign.pk, by=world.user("cd23.porteur"), results=entry
    )

    assert Execution.objects.filter(campaign=campaign, case=case).count() == 2


def test_results_without_a_key_are_each_saved(world, campaign):
    """The case page and the services' other callers send no key: nothing is
    taken for a repeat."""
    case = campaign.change_request.acceptance_plan.cases.first()
    entry = {"case": case.pk, "result": R.PASSED}

    services.results_record(
        pk=campaign.pk, by=world.user("cd23.testeur"), results=[entry, entry]
    )

    assert Execution.objects.filter(campaign=campaign, client_key="").count() == 2


def test_the_answer_gives_each_case_touched_its_result_before_and_after(
    world, campaign
):
    testeur = world.user("cd23.testeur")
    a, b, c, _untouched = campaign.change_request.acceptance_plan.cases.order_by(
        "position"
    )
    services.results_record(pk=campaign.pk, by=testeur, results=_keyed([a], R.FAILED))
    repeated = _keyed([a], R.FAILED)

    recorded = services.results_record(
        pk=campaign.pk,
        by=testeur,
        results=[
            *_keyed([a], R.PASSED),
            *_keyed([b], R.BLOCKED),
            *_keyed([b], R.PASSED),  # typed twice: the last one is the result
            *repeated,
        ],
    )
    # A batch of repeats only: the case stays as it is.
    services.results_record(pk=campaign.pk, by=testeur, results=repeated)
    unchanged = services.results_record(pk=campaign.pk, by=testeur, results=repeated)

    assert recorded.changes == {
        a.pk: (R.FAILED, R.FAILED),
        b.pk: (R.TO_RUN, R.PASSED),
    }
    assert unchanged.executions == []
    assert unchanged.changes == {a.pk: (R.FAILED, R.FAILED)}
    assert latest_results(campaign)[b.pk] == R.PASSED
    assert c.pk not in recorded.changes


def test_the_grid_is_answered_with_keys_and_changes_not_the_whole_campaign(
    world, client, campaign
):
    client.force_login(world.user("cd23.testeur"))
    a, b = campaign.change_request.acceptance_plan.cases.order_by("position")[:2]
    entries = [*_keyed([a], R.FAILED), *_keyed([b], R.PASSED)]

    answer = _post(client, campaign, entries).json()
    repeat = _post(client, campaign, entries).json()

    assert answer["acknowledged"] == [e["key"] for e in entries]
    assert answer["cases"] == [
        {"case": a.pk, "previous": R.TO_RUN, "result": R.FAILED, "label": "Échoué"},
        {"case": b.pk, "previous": R.TO_RUN, "result": R.PASSED, "label": "Réussi"},
    ]
    assert "summary" not in answer and "figures" not in answer
    assert repeat["acknowledged"] == answer["acknowledged"]
    assert repeat["saved"] == []
    assert [c["previous"] for c in repeat["cases"]] == [R.FAILED, R.PASSED]
    assert Execution.objects.filter(campaign=campaign).count() == 2


@pytest.mark.parametrize("key", [42, ["k"], "k" * 65, "clé\x00", "a b"])
def test_a_key_that_is_no_short_text_is_refused(world, client, campaign, key):
    client.force_login(world.user("cd23.testeur"))
    case = campaign.change_request.acceptance_plan.cases.first()

    refused = _post(
        client, campaign, [{"case": case.pk, "result": "reussi", "key": key}]
    )

    assert refused.status_code == 400 and "illisible" in refused.json()["error"]
    assert not Execution.objects.exists()


def test_the_grid_page_gives_its_counts_and_batching_to_the_script(
    world, client, campaign
):
    client.force_login(world.user("cd23.testeur"))
    case = campaign.change_request.acceptance_plan.cases.first()
    services.results_record(
        pk=campaign.pk, by=world.user("cd23.testeur"), results=_keyed([case])
    )

    page = client.get(reverse("recettes:grid", args=[campaign.pk]))

    assert json.loads(page.context["counts_json"]) == {
        R.TO_RUN: 3, R.PASSED: 1, R.FAILED: 0, R.BLOCKED: 0, R.NOT_APPLICABLE: 0,
    }  # fmt: skip
    text = page.content.decode()
    assert f'data-batch-max="{services.GRID_BATCH_MAX}"' in text
    assert f'data-idle-ms="{services.GRID_IDLE_MS}"' in text
    user = world.user("cd23.testeur")
    assert f'data-queue-key="tandem-grille:{campaign.pk}:{user.pk}:"' in text
    assert 'data-summary-many-text="{run} cas exécutés sur {planned}."' in text


def test_nothing_is_recorded_into_a_closed_campaign(world, client, campaign):
    testeur, porteur = world.user("cd23.testeur"), world.user("cd23.porteur")
    case = campaign.change_request.acceptance_plan.cases.first()
    sent_before = _keyed([case])
    services.results_record(pk=campaign.pk, by=testeur, results=sent_before)
    services.campaign_close(pk=campaign.pk, by=porteur)
    client.force_login(testeur)

    with pytest.raises(ActionRefused, match="close"):
        services.results_record(pk=campaign.pk, by=testeur, results=_keyed([case]))
    # Even a batch already saved is refused: the grid learns the campaign closed.
    resent = _post(client, campaign, sent_before)

    assert resent.status_code == 409 and "close" in resent.json()["error"]
    assert Execution.objects.filter(campaign=campaign).count() == 1


def test_a_batch_of_50_costs_the_same_on_a_campaign_of_50_or_200_cases(
    world, client, campaign_with, settings, tmp_path
):
    from evolutions.demo import evolutions_demo_load

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    client.force_login(world.user("cd23.testeur"))
    counts = []
    for size in (50, 200):
        campaign = campaign_with(size)
        cases = list(campaign.change_request.acceptance_plan.cases.all())
        # Earlier results on every case, and a warm-up request.
        services.results_record(
            pk=campaign.pk, by=world.user("cd23.porteur"), results=_keyed(cases)
        )
        _post(client, campaign, _keyed(cases[:1]))
        batch = _keyed(cases[: services.GRID_BATCH_MAX], R.FAILED)
        with CaptureQueriesContext(connection) as queries:
            answer = _post(client, campaign, batch)
        assert answer.status_code == 200, answer.content
        assert len(answer.json()["saved"]) == services.GRID_BATCH_MAX
        counts.append(len(queries))
        _reset(campaign.change_request)

    assert counts[0] == counts[1], counts
    assert counts[0] <= 15, [q["sql"][:80] for q in queries.captured_queries]


def test_a_recording_post_costs_three_statements_of_its_own(world, client, campaign):
    """One transaction (its start and end counted): the campaign's shared lock
    with its status and organisation (which also tells whether the user sees
    it), the touched cases' results with the keys saved already, the insert. The
    session and the user are the middleware's."""
    client.force_login(world.user("cd23.testeur"))
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    _post(client, campaign, _keyed(cases[:1]))  # warm-up

    with CaptureQueriesContext(connection) as queries:
        answer = _post(client, campaign, _keyed(cases, R.FAILED))

    assert answer.status_code == 200, answer.content
    statements = [q["sql"] for q in queries.captured_queries]
    own = [
        sql
        for sql in statements
        if "recette_" in sql or sql.startswith(("SAVEPOINT", "RELEASE", "BEGIN"))
    ]
    assert len(own) <= 5, own
    assert len(statements) - len(own) <= 3, statements  # session, user, roles


def test_an_empty_batch_is_answered_with_nothing(world, client, campaign):
    client.force_login(world.user("cd23.testeur"))

    answer = _post(client, campaign, [])

    assert answer.json() == {"saved": [], "acknowledged": [], "cases": []}


def test_a_key_saved_by_another_request_meanwhile_is_saved_once(
    world, campaign, monkeypatch
):
    """Two requests sent the same keys at once: the second one's insert breaks the
    unique key (tests/integration does it for real on PostgreSQL), and its save
    starts again, which finds the keys saved."""
    testeur = world.user("cd23.testeur")
    case = campaign.change_request.acceptance_plan.cases.first()
    entries = _keyed([case])
    services.results_record(pk=campaign.pk, by=testeur, results=entries)
    reads, calls = campaigns._reads, []

    def not_seen_yet(pk, by, cases, keys):
        calls.append(pk)
        before, seen = reads(pk, by, cases, keys)
        if len(calls) == 1:  # read before the other request's insert
            return before, set()
        return before, seen

    monkeypatch.setattr(campaigns, "_reads", not_seen_yet)
    again = services.results_record(pk=campaign.pk, by=testeur, results=entries)

    assert len(calls) == 2
    assert again.executions == [] and again.acknowledged == [entries[0]["key"]]
    assert again.changes == {case.pk: (R.PASSED, R.PASSED)}
    assert Execution.objects.filter(campaign=campaign).count() == 1


def test_a_campaign_nobody_has_or_of_another_client_is_not_found(
    world, client, campaign
):
    case = campaign.change_request.acceptance_plan.cases.first()
    client.force_login(world.user("cd23.testeur"))
    assert _post(client, campaign, _keyed([case])).status_code == 200
    missing = reverse("recettes:record", args=[campaign.pk + 1000])
    answer = client.post(
        missing, json.dumps({"results": []}), content_type="application/json"
    )
    assert answer.status_code == 404

    client.force_login(world.user("cd57.testeur"))
    assert _post(client, campaign, _keyed([case])).status_code == 404
    # The supplier sees the campaign but records nothing in it: told why.
    client.force_login(world.user("cnaf.moe"))
    refused = _post(client, campaign, _keyed([case]))
    assert refused.status_code == 403 and "Testeur" in refused.json()["error"]
    assert Execution.objects.count() == 1


def test_the_results_are_written_as_the_orm_writes_them(world, campaign, monkeypatch):
    """statements.insert: each row its own primary key in the order sent, its
    date set on insert, its step results as JSON, in batches as the database
    allows."""
    monkeypatch.setattr(
        connection.ops, "bulk_batch_size", lambda fields, objs: 2, raising=False
    )
    testeur = world.user("cd23.testeur")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    entries = [
        {
            "case": case.pk,
            "result": R.FAILED if n % 2 else R.PASSED,
            "comment": f"  essai {n} ",
            "step_results": {"1": R.PASSED, "2": "é<>"},
            "key": str(uuid.uuid4()),
        }
        # The first case twice: five rows, three batches.
        for n, case in enumerate([*cases[:4], cases[0]])
    ]

    written = services.results_record(pk=campaign.pk, by=testeur, results=entries)

    saved = {e.pk: e for e in Execution.objects.all()}
    assert [e.pk for e in written.executions] == sorted(saved) and len(saved) == 5
    for row, entry in zip(written.executions, entries, strict=True):
        stored = saved[row.pk]
        assert not row._state.adding
        assert (stored.case_id, stored.result, stored.client_key) == (
            entry["case"],
            entry["result"],
            entry["key"],
        )
        assert stored.comment == entry["comment"].strip()
        assert stored.step_results == {"1": R.PASSED, "2": "é<>"}
        assert stored.executed_at == row.executed_at
        assert stored.tester == testeur and stored.campaign_id == campaign.pk
