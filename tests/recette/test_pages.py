"""Acceptance pages: scoping, the result grid, the dashboard and the documents."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.demo import _step, _to_first_campaign, _users
from recette.flows import RecetteFlow
from recette.models import Execution
from recette.selectors import campaign_figures

R = Execution.Result


def _record(client, campaign, case, result):
    return client.post(
        reverse("recettes:record", args=[campaign.pk]),
        json.dumps({"results": [{"case": case.pk, "result": result}]}),
        content_type="application/json",
    )


def test_tester_records_results_from_the_grid(world, client, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    client.force_login(world.user("cd23.testeur"))

    page = client.get(reverse("recettes:grid", args=[campaign.pk]))
    saved = _record(client, campaign, case, R.FAILED)

    assert page.status_code == 200 and "CT-001" in page.content.decode()
    # The grid's script reads its keys from the page: one letter per result.
    assert json.loads(page.context["keys_json"]) == {
        "r": "reussi",
        "e": "echoue",
        "b": "bloque",
        "n": "non_applicable",
        "x": "a_executer",
    }
    assert saved.status_code == 200
    assert saved.json()["saved"] == [
        {"case": case.pk, "result": "echoue", "label": "Échoué"}
    ]
    assert campaign_figures(campaign)[R.FAILED] == 1
    # The page counts; each answer says how the cases touched changed, from which
    # the grid adjusts the counts shown (tests/recette/test_grid_recording.py).
    assert '<span id="tandem-grid-figures" data-counts=' in page.content.decode()
    assert "0 cas exécutés sur 4.</span>" in page.content.decode()
    assert saved.json()["cases"] == [
        {
            "case": case.pk,
            "previous": "a_executer",
            "result": "echoue",
            "label": "Échoué",
        }
    ]


@pytest.mark.parametrize(
    ("username", "opens_defects", "assigns"),
    [
        ("cd23.testeur", True, False),
        ("cd23.porteur", True, True),
        ("cnaf.moe", False, False),
    ],
)
def test_links_are_shown_only_to_those_who_may_follow_them(
    world, client, campaign, username, opens_defects, assigns
):
    client.force_login(world.user(username))
    overview = reverse("recettes:detail", args=[campaign.change_request.pk])
    grid = client.get(reverse("recettes:grid", args=[campaign.pk])).content.decode()

    assert ("Nouvelle anomalie" in client.get(overview).content.decode()) is (
        opens_defects
    )
    assert ("Attribuer des cas" in grid) is assigns
    new_defect = reverse("recettes:defect_new", args=[campaign.change_request.pk])
    assert client.get(new_defect).status_code == (200 if opens_defects else 403)
    assignment = reverse("recettes:assignment", args=[campaign.pk])
    assert client.get(assignment).status_code == (200 if assigns else 403)


def test_grid_refuses_bad_input_with_a_french_json_error(world, client, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    client.force_login(world.user("cd23.testeur"))
    url = reverse("recettes:record", args=[campaign.pk])

    unreadable = client.post(url, "pas du json", content_type="application/json")
    unknown = _record(client, campaign, case, "peut-etre")

    assert unreadable.status_code == 400 and "illisible" in unreadable.json()["error"]
    assert unknown.status_code == 400 and "inconnu" in unknown.json()["error"]
    services.campaign_close(pk=campaign.pk, by=world.user("cd23.porteur"))
    closed = _record(client, campaign, case, R.PASSED)
    assert closed.status_code == 409 and "close" in closed.json()["error"]
    assert not Execution.objects.exists()


def test_tester_of_another_client_sees_nothing(world, client, campaign):
    cr = campaign.change_request
    case = cr.acceptance_plan.cases.first()
    execution = services.executions_record(
        pk=campaign.pk,
        by=world.user("cd23.testeur"),
        results=[{"case": case.pk, "result": R.FAILED}],
    )[0]
    evidence = services.evidence_add(
        execution_pk=execution.pk,
        by=world.user("cd23.testeur"),
        uploaded=SimpleUploadedFile("capture.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32),
    )
    pages = (
        ("detail", [cr.pk]),
        ("grid", [campaign.pk]),
        ("dashboard", [campaign.pk]),
    )
    # Their statements compiled for a user of client 23 first (statements.shaped):
    # the other client's user still gets their own rules.
    client.force_login(world.user("cd23.testeur"))
    for name, args in pages:
        assert client.get(reverse(f"recettes:{name}", args=args)).status_code == 200
    client.force_login(world.user("cd57.testeur"))

    assert cr.reference not in client.get(reverse("recettes:index")).content.decode()
    for name, args in (
        ("detail", [cr.pk]),
        ("grid", [campaign.pk]),
        ("dashboard", [campaign.pk]),
        ("plan_pdf", [cr.pk]),
        ("evidence", [evidence.pk]),
    ):
        assert client.get(reverse(f"recettes:{name}", args=args)).status_code == 404
    assert _record(client, campaign, case, R.PASSED).status_code == 404

    client.force_login(world.user("cd23.testeur"))
    assert (
        client.get(reverse("recettes:evidence", args=[evidence.pk])).status_code == 200
    )


@pytest.mark.parametrize("name", ["grid", "dashboard"])
def test_campaign_pages_cost_the_same_with_10_and_300_cases(
    world, client, settings, tmp_path, name, campaign_with
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    client.force_login(world.user("cd23.testeur"))
    counts = []
    for size in (10, 300):
        campaign = campaign_with(size)
        cases = list(campaign.change_request.acceptance_plan.cases.all()[:5])
        services.executions_record(
            pk=campaign.pk,
            by=world.user("cd23.testeur"),
            results=[{"case": c.pk, "result": R.FAILED} for c in cases],
        )
        url = reverse(f"recettes:{name}", args=[campaign.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
        # The second size is built on a fresh acceptance of the same request.
        _reset(campaign.change_request)

    assert counts[0] == counts[1], counts


def _reset(change_request):
    """Remove the acceptance so another one can be built on the same request."""
    from recette.models import (
        AcceptancePlan,
        Campaign,
        CampaignCase,
        Delivery,
        Qualification,
    )

    Execution.objects.filter(campaign__change_request=change_request).delete()
    CampaignCase.objects.filter(campaign__change_request=change_request).delete()
    Campaign.objects.filter(change_request=change_request).delete()
    Delivery.objects.filter(change_request=change_request).delete()
    Qualification.objects.filter(change_request=change_request).delete()
    AcceptancePlan.objects.filter(change_request=change_request).delete()


def test_report_pdf_figures_match_the_database(world, client, campaign):
    porteur = world.user("cd23.porteur")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    services.executions_record(
        pk=campaign.pk,
        by=world.user("cd23.testeur"),
        results=[
            {"case": cases[0].pk, "result": R.PASSED},
            {"case": cases[1].pk, "result": R.PASSED},
            {"case": cases[2].pk, "result": R.FAILED},
        ],
    )
    services.campaign_close(pk=campaign.pk, by=porteur)
    cr = campaign.change_request
    report = services.report_prepare(change_request_pk=cr.pk, by=porteur)
    services.report_update(
        pk=report.pk,
        by=porteur,
        verdict="reserves",
        reserves="Le cas CT-003 reste à revoir.",
    )
    services.report_submit(pk=report.pk, by=porteur)
    client.force_login(world.user("cnaf.dsi"))

    response = client.get(reverse("recettes:report_pdf", args=[cr.pk]))

    content = b"".join(response.streaming_content)
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(content)).pages
    )
    final = campaign_figures(campaign)
    row = re.search(r"Résultat final\s+—\s+" + r"\s+".join([r"(\d+)"] * 6), text)
    assert [int(n) for n in row.groups()] == [
        final["planned"],
        final["run"],
        final[R.PASSED],
        final[R.FAILED],
        final[R.BLOCKED],
        final[R.NOT_APPLICABLE],
    ]
    assert "Favorable avec réserves" in text
    assert "CT-003 reste à revoir" in text


def test_defects_are_raised_and_moved_through_the_pages(world, client, campaign):
    cr = campaign.change_request
    case = cr.acceptance_plan.cases.first()
    failed = services.executions_record(
        pk=campaign.pk,
        by=world.user("cd23.testeur"),
        results=[{"case": case.pk, "result": R.FAILED}],
    )[0]
    client.force_login(world.user("cd23.testeur"))

    created = client.post(
        reverse("recettes:defect_new", args=[cr.pk]),
        {
            "title": "Écran blanc",
            "severity": "majeure",
            "executions": [failed.pk],
        },
    )
    defect = cr.defects.get()
    refused = client.post(
        reverse("recettes:defect_action", args=[defect.pk, "verifier"])
    )
    client.force_login(world.user("cnaf.moe"))
    rejected = client.post(
        reverse("recettes:defect_action", args=[defect.pk, "rejeter"]),
        {"reason": "Comportement attendu"},
    )
    client.force_login(world.user("cd57.porteur"))
    foreign = client.post(
        reverse("recettes:defect_action", args=[defect.pk, "accepter-le-rejet"])
    )

    assert (created.status_code, refused.status_code) == (302, 409)
    assert (rejected.status_code, foreign.status_code) == (302, 404)
    assert list(defect.executions.all()) == [failed]
    assert cr.defects.get().status == "rejetee"


def test_evidence_is_joined_from_the_grid_under_the_upload_rules(
    world, client, campaign
):
    case = campaign.change_request.acceptance_plan.cases.first()
    execution = services.executions_record(
        pk=campaign.pk,
        by=world.user("cd23.testeur"),
        results=[{"case": case.pk, "result": R.FAILED}],
    )[0]
    url = reverse("recettes:evidence_upload", args=[execution.pk])
    client.force_login(world.user("cd23.testeur"))

    disguised = client.post(url, {"file": SimpleUploadedFile("x.png", b"%PDF-1.4")})
    joined = client.post(
        url,
        {"file": SimpleUploadedFile("capture.png", b"\x89PNG\r\n\x1a\n" + b"0" * 8)},
    )
    client.force_login(world.user("cd57.testeur"))
    foreign = client.post(
        url, {"file": SimpleUploadedFile("c.png", b"\x89PNG\r\n\x1a\n" + b"0" * 8)}
    )

    assert (disguised.status_code, joined.status_code, foreign.status_code) == (
        400,
        302,
        404,
    )
    assert execution.evidence.count() == 1


def test_request_owner_assigns_cases_to_a_tester(world, client, campaign):
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    tester = world.user("cd23.testeur")
    url = reverse("recettes:assignment", args=[campaign.pk])

    client.force_login(world.user("cd23.testeur"))
    refused = client.post(url, {"tester": tester.pk, "cases": [cases[0].pk]})
    client.force_login(world.user("cd23.porteur"))
    done = client.post(url, {"tester": tester.pk, "cases": [c.pk for c in cases[:2]]})

    assert (refused.status_code, done.status_code) == (403, 302)
    mine = client.get(
        reverse("recettes:grid", args=[campaign.pk]), {"filtre": "mes-cas"}
    )
    assert len(mine.context["rows"]) == 0  # the owner is not the tester
    client.force_login(tester)
    mine = client.get(
        reverse("recettes:grid", args=[campaign.pk]), {"filtre": "mes-cas"}
    )
    assert [r.case_id for r in mine.context["rows"]] == [c.pk for c in cases[:2]]


def test_a_case_is_with_its_tester_or_whoever_recorded_it(world, client, campaign):
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    tester, owner = world.user("cd23.testeur"), world.user("cd23.porteur")
    services.campaign_assign(
        pk=campaign.pk, by=owner, tester=tester, case_pks=[cases[2].pk]
    )
    for who, case in ((tester, cases[0]), (tester, cases[1]), (owner, cases[2])):
        services.executions_record(
            pk=campaign.pk, by=who, results=[{"case": case.pk, "result": R.PASSED}]
        )
    grid = reverse("recettes:grid", args=[campaign.pk])
    client.force_login(tester)

    rows = client.get(grid).context["rows"]
    mine = client.get(grid, {"filtre": "mes-cas"}).context["rows"]
    client.force_login(owner)
    owners = client.get(grid, {"filtre": "mes-cas"}).context["rows"]
    dashboard = client.get(reverse("recettes:dashboard", args=[campaign.pk]))

    tester_name, owner_name = tester.get_full_name(), owner.get_full_name()
    assert [row.tester for row in rows] == [
        tester_name,
        tester_name,
        f"{tester_name} (dernier résultat : {owner_name})",
        "—",
    ]
    # Given to me, or recorded by me.
    assert [row.case_id for row in mine] == [c.pk for c in cases[:3]]
    assert [row.case_id for row in owners] == [cases[2].pk]
    # Each tester's counts in the order of the table's result columns.
    assert [value for value, _label in dashboard.context["results"]] == R.values
    testers = {
        name: dict(zip(R.values, counts, strict=True))
        for name, counts in dashboard.context["testers"]
    }
    assert testers[tester_name][R.PASSED] == 3
    assert testers["Non attribué"][R.TO_RUN] == 1
    unassigned = "".join(f"<td>{testers['Non attribué'][value]}</td>" for value in R)
    assert f"<tr><td>Non attribué</td>{unassigned}</tr>" in dashboard.content.decode()
    # The figures are the sums of the testers' rows: the same as counted apart.
    assert dashboard.context["figures"] == campaign_figures(campaign)
    assert dashboard.context["figures"]["run"] == 3


def test_the_dashboard_reads_the_cases_latest_results_once(world, client, campaign):
    client.force_login(world.user("cd23.porteur"))
    url = reverse("recettes:dashboard", args=[campaign.pk])
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200

    over_cases = [
        q["sql"] for q in queries if 'FROM "recette_campaigncase"' in q["sql"]
    ]
    assert len(over_cases) == 1


def test_defect_buttons_follow_role_and_state(world, campaign):
    cr = campaign.change_request
    defect = services.defect_open(
        change_request_pk=cr.pk,
        by=world.user("cd23.testeur"),
        title="x",
        severity="mineure",
    )

    assert services.defect_allowed_actions(world.user("cnaf.moe"), defect) == {
        "rejeter"
    }
    assert services.defect_allowed_actions(world.user("cd23.testeur"), defect) == set()
    services.defect_reject(pk=defect.pk, by=world.user("cnaf.moe"), reason="Normal")
    defect = cr.defects.get()
    assert services.defect_allowed_actions(world.user("cd23.porteur"), defect) == {
        "accepter-le-rejet",
        "rouvrir",
    }
    assert services.defect_allowed_actions(world.user("cd57.porteur"), defect) == set()


def test_validated_plan_is_reopened_from_its_page(world, client, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    porteur = world.user("cd23.porteur")
    _plan, campaign, _cases = _to_first_campaign(cr, _users(), "23")
    _step(
        cr,
        RecetteFlow.run_campaign,
        porteur,
        lambda: services.campaign_close(pk=campaign.pk, by=porteur),
    )
    url = reverse("recettes:plan_reopen", args=[cr.pk])

    client.force_login(world.user("cd23.porteur"))
    assert client.post(url, {"reason": "x"}).status_code == 403
    client.force_login(world.user("cnaf.moe"))
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Nouveau cas"}).status_code == 302

    plan = cr.__class__.objects.get(pk=cr.pk).acceptance_plan
    assert (plan.status, plan.version) == ("brouillon", 2)


def test_import_preview_lists_bad_lines_then_confirmation_saves(
    world, client, draft_plan
):
    from tests.recette.test_flow_http import _workbook

    rows = [
        [f"CT-{n:03d}", f"Cas {n}", "haute", 1, f"Action {n}", f"Attendu {n}"]
        for n in range(1, 201)
    ]
    bad = [list(row) for row in rows]
    bad[9][4], bad[99][2], bad[149][3] = "", "urgente", "deux"
    url = reverse("recettes:cases_import", args=[draft_plan.change_request_id])
    client.force_login(world.user("cnaf.moe"))

    checked = client.post(url, {"file": SimpleUploadedFile("p.xlsx", _workbook(bad))})
    assert checked.context["preview"].bad_lines == [11, 101, 151]
    assert "token" not in checked.context and not draft_plan.cases.exists()

    previewed = client.post(
        url, {"file": SimpleUploadedFile("p.xlsx", _workbook(rows))}
    )
    assert len(previewed.context["preview"].cases) == 200
    assert not draft_plan.cases.exists()  # nothing saved before confirmation
    confirmed = client.post(url, {"confirm": previewed.context["token"]})
    assert confirmed.status_code == 302
    assert draft_plan.cases.count() == 200
    assert client.post(url, {"confirm": previewed.context["token"]}).status_code == 400


def test_cases_are_typed_in_by_the_supplier_only(world, client, draft_plan):
    url = reverse("recettes:case_new", args=[draft_plan.change_request_id])
    data = {
        "reference": "CT-9",
        "title": "Saisie manuelle",
        "priority": "haute",
        "etapes-TOTAL_FORMS": "6",
        "etapes-INITIAL_FORMS": "0",
        "etapes-0-action": "Ouvrir",
        "etapes-0-expected": "Écran ouvert",
        "etapes-1-action": "Valider",
        "etapes-1-expected": "Message OK",
    }

    client.force_login(world.user("cd23.porteur"))
    assert client.post(url, data).status_code == 403
    client.force_login(world.user("cnaf.moe"))
    assert client.post(url, data).status_code == 302

    case = draft_plan.cases.get()
    assert [(s.number, s.action) for s in case.steps.all()] == [
        (1, "Ouvrir"),
        (2, "Valider"),
    ]


def test_case_page_records_step_results_and_keeps_history(world, client, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    url = reverse("recettes:case", args=[campaign.pk, case.pk])
    client.force_login(world.user("cd23.testeur"))

    client.post(
        url,
        {
            "result": "echoue",
            "etape-1": "echoue",
            "comment": "L'étape 1 plante",
        },
    )
    client.post(url, {"result": "reussi", "etape-1": "reussi"})
    bad = client.post(url, {"result": "reussi", "etape-1": "n'importe"})
    page = client.get(url)

    history = list(Execution.objects.filter(case=case).order_by("executed_at", "pk"))
    assert [(e.result, e.step_results) for e in history] == [
        ("echoue", {"1": "echoue"}),
        ("reussi", {"1": "reussi"}),
    ]
    assert bad.status_code == 200 and "inconnu" in bad.content.decode()
    assert len(page.context["history"]) == 2
    client.force_login(world.user("cd57.testeur"))
    assert client.get(url).status_code == 404


def test_case_page_result_shows_the_cases_result_never_a_pass_by_default(
    world, client, campaign
):
    """Saving a comment on a failed case must not turn it into a pass."""
    case = campaign.change_request.acceptance_plan.cases.first()
    url = reverse("recettes:case", args=[campaign.pk, case.pk])
    client.force_login(world.user("cd23.testeur"))
    result_field = re.compile(r'<select id="result"[^>]*>(.*?)</select>', re.S)

    untested = result_field.search(client.get(url).content.decode())[1]
    client.post(url, {"result": "echoue", "comment": "Plante"})
    failed = result_field.search(client.get(url).content.decode())[1]

    assert untested.startswith('<option value="">') and " selected" not in untested
    assert '<option value="echoue" selected>' in failed
    assert failed.count(" selected") == 1


def test_grid_lines_are_escaped_and_link_to_their_case(world, client, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    type(case).objects.filter(pk=case.pk).update(
        title='<script>alert("x")</script>', reference='CT-"1"'
    )
    client.force_login(world.user("cd23.testeur"))

    page = client.get(reverse("recettes:grid", args=[campaign.pk])).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'data-reference="CT-&quot;1&quot;"' in page
    case_url = reverse("recettes:case", args=[campaign.pk, case.pk])
    assert f'<a href="{case_url}" tabindex="-1">CT-&quot;1&quot;</a>' in page
    assert f'data-case="{case.pk}"' in page and 'tabindex="0"' in page


def test_read_only_the_grids_case_links_are_in_the_tab_order(world, client, campaign):
    """Whoever only reads the grid (the CNAF's project team) reaches each case's
    page by Tab: no row takes the focus, no link is taken out of the order."""
    case = campaign.change_request.acceptance_plan.cases.first()
    client.force_login(world.user("cnaf.moe"))

    page = client.get(reverse("recettes:grid", args=[campaign.pk])).content.decode()

    case_url = reverse("recettes:case", args=[campaign.pk, case.pk])
    assert f'<a href="{case_url}">{case.reference}</a>' in page
    assert 'tabindex="-1"' not in page.split("<tbody>", 1)[1]
    assert "data-tandem-grid" not in page


def test_grid_counts_every_case_whether_narrowed_or_not(world, client, campaign):
    tester = world.user("cd23.testeur")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    services.executions_record(
        pk=campaign.pk,
        by=tester,
        results=[
            {"case": cases[0].pk, "result": R.PASSED},
            {"case": cases[1].pk, "result": R.FAILED},
            {"case": cases[2].pk, "result": R.FAILED},
        ],
    )
    client.force_login(tester)
    url = reverse("recettes:grid", args=[campaign.pk])

    whole = client.get(url).context["figures"]
    failed_only = client.get(url, {"filtre": "echoues"}).context["figures"]

    assert whole == failed_only == campaign_figures(campaign)
    assert (whole["planned"], whole["run"], whole[R.FAILED]) == (4, 3, 2)


def test_every_result_has_its_sign_and_colour_in_the_grid():
    """Results are told apart by a word, a sign and a colour: a result added to
    the model without its style would be told by colour nowhere and sign never."""
    root = Path(__file__).resolve().parents[2]
    css = (root / "workflow/static/tandem/tandem.css").read_text()

    for value in R.values:
        label = f'tr[data-result="{value}"] [data-result-label]'
        assert f"{label} {{ color: #" in css, value
        assert f'{label}::before {{ content: "' in css, value


def test_a_user_of_no_organisation_finds_nothing_and_no_error(world, client, campaign):
    """Their conditions meet no row (statements.shaped compiles nothing): every
    page of an object answers 404, as for another client's."""
    from django.contrib.auth import get_user_model

    cr = campaign.change_request
    case = cr.acceptance_plan.cases.first()
    client.force_login(get_user_model().objects.create_user("sans.organisme"))

    for name, args in (
        ("recettes:detail", [cr.pk]),
        ("recettes:grid", [campaign.pk]),
        ("recettes:dashboard", [campaign.pk]),
        ("evolutions:detail", [cr.pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == 404, name
    assert _record(client, campaign, case, R.PASSED).status_code == 404
    assert client.get(reverse("index")).status_code == 200
    assert client.get(reverse("evolutions:index")).status_code == 200
