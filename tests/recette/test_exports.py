"""An acceptance's exports: a campaign's results as its grid shows them, every
execution, the defects whole; each as scoped as its page, in CSV and XLSX, at a
cost in queries that does not grow with its rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evolutions.models import ChangeRequest
from recette import services
from recette.models import Campaign, Defect, Execution, TestCase
from recette.selectors import campaign_cases_with_result, grid_rows

R = Execution.Result
FORMATS = ("csv", "xlsx")
MARKER = "MARQUEUR-MOSELLE-5b1c"
EXPORTS = ("campaign_export", "executions_export", "defects_export")


def _acceptance(code: str) -> ChangeRequest:
    return ChangeRequest.objects.get(
        organisation__code=code, acceptance_plan__isnull=False
    )


def _campaign(code: str) -> Campaign:
    return Campaign.objects.get(change_request=_acceptance(code), number=1)


def _url(name: str, code: str, fmt: str) -> str:
    target = _campaign(code) if name == "campaign_export" else _acceptance(code)
    return reverse(f"recettes:{name}_{fmt}", args=[target.pk])


def _export(client, url, query=None):
    response = client.get(url, query or {})
    assert response.status_code == 200, url
    return response


@pytest.fixture
def moselle_marked(demo):
    """Client 57's signed acceptance, the marker in its cases, executions and a
    defect (written directly: that acceptance is over)."""
    change_request = _acceptance("57")
    TestCase.objects.filter(plan__change_request=change_request).update(
        title=f"Cas {MARKER}"
    )
    Execution.objects.filter(campaign__change_request=change_request).update(
        comment=f"Commentaire {MARKER}"
    )
    Defect.objects.create(
        change_request=change_request,
        organisation=change_request.organisation,
        number=1,
        title=f"Anomalie {MARKER}",
        observed=MARKER,
        severity=Defect.Severity.MINOR,
        opened_by=demo.user("cd57.testeur"),
    )
    return demo


# --- A campaign's results -------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_campaign_results_are_the_grids_cases_with_their_latest_result(
    demo, client, read_export, fmt
):
    campaign = _campaign("23")
    porteur = demo.user("cd23.porteur")
    case = campaign.change_request.acceptance_plan.cases.order_by("position")[1]
    services.executions_record(
        pk=campaign.pk,
        by=porteur,
        results=[{"case": case.pk, "result": R.PASSED, "comment": "Corrigé ; revu"}],
    )
    client.force_login(demo.user("cd23.testeur"))

    rows = read_export(_export(client, _url("campaign_export", "23", fmt)))

    assert rows[0] == [
        "Cas",
        "Intitulé",
        "Testeur",
        "Résultat",
        "Enregistré par",
        "Exécuté le",
        "Commentaire",
    ]
    grid = grid_rows(campaign_cases_with_result(campaign), campaign)
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        (line.reference, line.title, line.label) for line in grid
    ]
    tester = demo.user("cd23.testeur").get_full_name()
    # Re-executed: its latest result, by whom, when, and its comment.
    rerun = rows[2]
    assert rerun[2] == tester
    assert rerun[3:5] == ["Réussi", porteur.get_full_name()]
    assert rerun[5] and rerun[6] == "Corrigé ; revu"
    failed = rows[4]  # the blocked one, with the demo's comment
    assert failed[3:5] == ["Bloqué", tester]
    assert failed[6] == "Export indisponible."
    never_run = rows[5]
    assert never_run[3:] == ["À exécuter", "", "", ""]


@pytest.mark.parametrize(
    ("shown", "expected"),
    [("echoues", {"Échoué"}), ("a-executer", {"À exécuter"}), ("inconnu", None)],
)
def test_campaign_results_follow_the_grids_filter(
    demo, client, read_export, shown, expected
):
    client.force_login(demo.user("cd23.testeur"))
    url = _url("campaign_export", "23", "csv")

    rows = read_export(_export(client, url, {"filtre": shown}))

    grid = client.get(
        reverse("recettes:grid", args=[_campaign("23").pk]), {"filtre": shown}
    )
    assert [row[0] for row in rows[1:]] == [
        line.reference for line in grid.context["rows"]
    ]
    results = {row[3] for row in rows[1:]}
    assert results == expected if expected else len(results) > 2


def test_the_grid_and_the_dashboard_link_to_the_export(demo, client):
    campaign = _campaign("23")
    client.force_login(demo.user("cd23.testeur"))

    grid = client.get(
        reverse("recettes:grid", args=[campaign.pk]), {"filtre": "echoues"}
    )
    dashboard = client.get(reverse("recettes:dashboard", args=[campaign.pk]))

    export = reverse("recettes:campaign_export_csv", args=[campaign.pk])
    assert f'href="{export}?filtre=echoues">Exporter (CSV)</a>' in grid.content.decode()
    assert f'href="{export}">Exporter (CSV)</a>' in dashboard.content.decode()
    assert "Exporter (Excel)" in dashboard.content.decode()


# --- Every execution, the defects -------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_execution_of_the_acceptance_is_exported(demo, client, read_export, fmt):
    campaign = _campaign("23")
    case = campaign.change_request.acceptance_plan.cases.order_by("position")[1]
    services.executions_record(
        pk=campaign.pk,
        by=demo.user("cd23.testeur"),
        results=[{"case": case.pk, "result": R.PASSED}],
    )
    client.force_login(demo.user("cnaf.moe"))

    rows = read_export(_export(client, _url("executions_export", "23", fmt)))

    assert rows[0] == [
        "Campagne",
        "Livraison",
        "Cas",
        "Intitulé",
        "Résultat",
        "Testeur",
        "Exécuté le",
        "Commentaire",
    ]
    executions = Execution.objects.filter(campaign=campaign)
    assert len(rows) - 1 == executions.count() == 6
    history = [row for row in rows[1:] if row[2] == case.reference]
    assert [row[4] for row in history] == ["Échoué", "Réussi"]  # in recorded order
    assert history[0][:2] in (["Campagne initiale 1", "1"], ["Campagne initiale 1", 1])
    assert history[0][7] == "La déclaration sans date est acceptée."


@pytest.mark.parametrize("fmt", FORMATS)
def test_defects_are_exported_whole(demo, client, read_export, fmt):
    campaign = _campaign("23")
    case = campaign.change_request.acceptance_plan.cases.order_by("position")[1]
    defect = services.defect_open(
        change_request_pk=campaign.change_request_id,
        by=demo.user("cd23.testeur"),
        title="La date est décalée",
        severity=Defect.Severity.MAJOR,
        description="Constatée en recette.",
        steps_to_reproduce="1. Ouvrir l'écran\n2. Saisir la date",
        expected="Le 04/12",
        observed="Le 03/12",
        campaign_pk=campaign.pk,
        case_pk=case.pk,
        step=2,
    )
    client.force_login(demo.user("cd23.porteur"))

    rows = read_export(_export(client, _url("defects_export", "23", fmt)))

    assert rows[0] == [
        "Référence",
        "Intitulé",
        "Gravité",
        "État",
        "Corrigée dans la livraison",
        "Campagne",
        "Cas",
        "Étape",
        "Description",
        "Étapes pour reproduire",
        "Résultat attendu",
        "Résultat observé",
        "Motif du rejet",
        "Ouverte par",
        "Ouverte le",
    ]
    assert [row[0] for row in rows[1:]] == ["ANO-001", "ANO-002", defect.reference]
    last = [str(value) for value in rows[-1]]
    assert last[:4] == [defect.reference, "La date est décalée", "Majeure", "Ouverte"]
    assert last[5:13] == [
        "Campagne initiale 1",
        case.reference,
        "2",
        "Constatée en recette.",
        "1. Ouvrir l'écran\n2. Saisir la date",
        "Le 04/12",
        "Le 03/12",
        "",
    ]
    assert last[13] == demo.user("cd23.testeur").get_full_name()


def test_the_acceptance_page_links_to_its_exports(demo, client):
    change_request = _acceptance("23")
    client.force_login(demo.user("cd23.porteur"))

    html = client.get(reverse("recettes:detail", args=[change_request.pk])).content
    html = html.decode()

    for name in ("executions_export", "defects_export"):
        for fmt, label in (("csv", "Exporter (CSV)"), ("xlsx", "Exporter (Excel)")):
            url = reverse(f"recettes:{name}_{fmt}", args=[change_request.pk])
            assert f'href="{url}">{label}</a>' in html


# --- Scope, hostile text, cost ----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", EXPORTS)
def test_another_client_gets_404_as_on_the_page(moselle_marked, client, name, fmt):
    for username, code in (("cd57.porteur", "23"), ("cd23.testeur", "57")):
        client.force_login(moselle_marked.user(username))

        assert client.get(_url(name, code, fmt)).status_code == 404
    # The administrator sees no business data, pages and exports alike.
    client.force_login(moselle_marked.user("cnaf.admin"))
    assert client.get(_url(name, "23", fmt)).status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_client_23s_exports_hold_nothing_of_client_57(
    moselle_marked, client, read_export, fmt
):
    client.force_login(moselle_marked.user("cd23.porteur"))
    urls = [_url(name, "23", fmt) for name in EXPORTS]
    urls.append(reverse(f"evolutions:export_{fmt}"))

    exported = [str(read_export(_export(client, url))) for url in urls]

    assert all(MARKER not in text for text in exported)
    # The supplier's exports of client 57 do hold it: the marker is where it should.
    client.force_login(moselle_marked.user("cnaf.contact"))
    theirs = [str(read_export(_export(client, _url(n, "57", fmt)))) for n in EXPORTS]
    assert all(MARKER in text for text in theirs)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_formula_in_a_case_or_a_defect_comes_out_as_text(
    demo, client, read_export, fmt
):
    hostile = '=HYPERLINK("http://x","y")'
    campaign = _campaign("23")
    TestCase.objects.filter(plan__change_request=campaign.change_request).update(
        title=hostile
    )
    Defect.objects.filter(change_request=campaign.change_request).update(
        title="+1", observed="@x", expected="-1"
    )
    client.force_login(demo.user("cd23.porteur"))

    results = read_export(_export(client, _url("campaign_export", "23", fmt)))
    executions = read_export(_export(client, _url("executions_export", "23", fmt)))
    defects = read_export(_export(client, _url("defects_export", "23", fmt)))

    assert {row[1] for row in results[1:]} == {f"'{hostile}"}
    assert {row[3] for row in executions[1:]} == {f"'{hostile}"}
    assert {(row[1], row[10], row[11]) for row in defects[1:]} == {
        ("'+1", "'-1", "'@x")
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_cost_the_same_queries_with_3_and_30_rows(
    world, acceptance, campaign_with, client, django_assert_max_num_queries, fmt
):
    campaign = campaign_with(30)
    tester = world.user("cd23.testeur")
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    client.force_login(world.user("cd23.porteur"))
    urls = {
        # The failed cases (the grid's filter), the executions, the defects.
        "campaign": reverse(f"recettes:campaign_export_{fmt}", args=[campaign.pk])
        + "?filtre=echoues",
        "executions": reverse(
            f"recettes:executions_export_{fmt}", args=[campaign.change_request_id]
        ),
        "defects": reverse(
            f"recettes:defects_export_{fmt}", args=[campaign.change_request_id]
        ),
    }
    counts = {name: [] for name in urls}
    for done, rows in ((0, 3), (3, 30)):
        executions = services.executions_record(
            pk=campaign.pk,
            by=tester,
            results=[{"case": c.pk, "result": R.FAILED} for c in cases[done:rows]],
        )
        for n, execution in enumerate(executions, start=done + 1):
            services.defect_open(
                change_request_pk=campaign.change_request_id,
                by=tester,
                title=f"Anomalie {n}",
                severity=Defect.Severity.MINOR,
                campaign_pk=campaign.pk,
                case_pk=execution.case_id,
                execution_pks=(execution.pk,),
            )
        for name, url in urls.items():
            client.get(url)  # warm caches
            with (
                django_assert_max_num_queries(14),
                CaptureQueriesContext(connection) as queries,
            ):
                response = _export(client, url)
                content = b"".join(response.streaming_content)
            assert content.count(b"CT-0") >= rows or fmt == "xlsx"
            counts[name].append(len(queries))

    assert all(first == last for first, last in counts.values()), counts
