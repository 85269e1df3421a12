"""The change-request list's exports: what the list shows (its scope, its filters,
every page of it), in CSV and XLSX, costing the same queries at any length."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Role
from evolutions import services
from evolutions.models import ChangeRequest
from workflow.models import AuditEntry

S = ChangeRequest.Status
FORMATS = ("csv", "xlsx")
HEADER = [
    "Référence",
    "Intitulé",
    "Organisme",
    "Nom de l'organisme",
    "Nature",
    "État",
    "Version",
    "Porteur de la demande",
    "Porteur de la commande",
    "Date souhaitée",
    "Créée le",
    "Soumise le",
]
MARKER = "MARQUEUR-MOSELLE-7f3a"


def _export(client, fmt, query=None):
    response = client.get(reverse(f"evolutions:export_{fmt}"), query or {})
    assert response.status_code == 200
    return response


def _listed(client, query=None) -> list[str]:
    """The references the list shows under `query`, every page of it."""
    page = client.get(reverse("evolutions:index"), query or {}).context["page"]
    return [cr.reference for cr in page.paginator.object_list]


def _request(world, organisation, title, *, submit=True) -> ChangeRequest:
    porteur = world.client_user(organisation, Role.PORTEUR_DEMANDE)
    cr = services.change_request_create(
        by=porteur,
        organisation=organisation,
        title=title,
        kind="technique",
        data_flows=["DSG"],
        description="Détail du besoin",
    )
    return services.change_request_submit(pk=cr.pk, by=porteur) if submit else cr


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_is_the_list_in_french_every_page_of_it(demo, client, read_export, fmt):
    client.force_login(demo.user("cnaf.contact"))

    rows = read_export(_export(client, fmt))

    assert rows[0] == HEADER
    listed = _listed(client)
    assert len(listed) > 25  # more than the list's first page
    assert [row[0] for row in rows[1:]] == listed
    planned = next(row for row in rows if row[5] == "Planifiée")
    assert planned[4] in ("Technique", "Réglementaire")
    assert planned[6]  # its release's number


def test_dates_are_french_in_csv_and_dates_in_xlsx(demo, client, read_export):
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    submitted = _request(demo, demo.creuse, "Daté")

    csv_row = read_export(_export(client, "csv"))[1]
    xlsx_row = read_export(_export(client, "xlsx"))[1]

    assert csv_row[0] == xlsx_row[0] == submitted.reference
    created = xlsx_row[10]
    assert csv_row[10] == created.strftime("%d/%m/%Y %H:%M")
    assert created.tzinfo is None  # Paris's wall-clock time, as Excel knows none


@pytest.mark.parametrize("fmt", FORMATS)
def test_client_never_gets_another_clients_requests(demo, client, read_export, fmt):
    _request(demo, demo.moselle, f"Besoin {MARKER}")
    everything = {}
    for username in ("cd23.porteur", "cd23.testeur", "cnaf.contact", "cd57.porteur"):
        client.force_login(demo.user(username))
        everything[username] = str(read_export(_export(client, fmt)))
        # Even when searched for by name.
        searched = read_export(_export(client, fmt, {"q": MARKER}))
        assert (len(searched) == 2) == (username in ("cnaf.contact", "cd57.porteur"))

    for username in ("cd23.porteur", "cd23.testeur"):
        assert MARKER not in everything[username]
        assert "EVO-57-" not in everything[username]
        assert "EVO-23-" in everything[username]
    assert MARKER in everything["cnaf.contact"]
    assert MARKER in everything["cd57.porteur"]
    assert "EVO-23-" not in everything["cd57.porteur"]


def test_supplier_does_not_get_drafts(demo, client, read_export):
    draft = _request(demo, demo.creuse, f"Brouillon {MARKER}", submit=False)
    client.force_login(demo.user("cnaf.contact"))

    rows = read_export(_export(client, "csv"))

    assert draft.reference not in {row[0] for row in rows}


@pytest.mark.parametrize(
    "query",
    [
        {"status": S.PLANNED},
        {"kind": "reglementaire"},
        {"q": "NIR"},
        {"organisation": "moselle"},
        {"owner": "cnaf.commande"},
        {"status": S.IN_STUDY, "q": "déclaration", "page": "2"},
        # An invalid filter is ignored by the list, and so by its export.
        {"status": "n'importe"},
    ],
)
def test_export_honours_the_lists_filters(demo, client, read_export, query):
    if query.get("organisation"):
        query = {**query, "organisation": demo.moselle.pk}
    if query.get("owner"):
        query = {**query, "owner": demo.user(query["owner"]).pk}
    client.force_login(demo.user("cnaf.contact"))

    rows = read_export(_export(client, "csv", query))

    assert [row[0] for row in rows[1:]] == _listed(client, query)
    assert len(rows) > 1 or query.get("page")


def test_list_links_to_its_exports_with_its_filters(demo, client):
    client.force_login(demo.user("cnaf.contact"))

    page = client.get(reverse("evolutions:index"), {"status": S.PLANNED, "page": "1"})

    html = page.content.decode()
    query = f"status={S.PLANNED}"  # the page itself is not
    assert f'href="/evolutions/export.csv?{query}">Exporter (CSV)</a>' in html
    assert f'href="/evolutions/export.xlsx?{query}">Exporter (Excel)</a>' in html


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_formula_in_a_title_comes_out_as_text(demo, client, read_export, fmt):
    hostile = '=HYPERLINK("http://x","y")'
    _request(demo, demo.creuse, hostile)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    rows = read_export(_export(client, fmt))

    assert rows[1][1] == f"'{hostile}"


def test_an_export_is_journalled_as_a_document(demo, client):
    client.force_login(demo.user("cnaf.contact"))

    response = _export(client, "xlsx")

    entry = AuditEntry.objects.filter(action=AuditEntry.Action.DOCUMENT).last()
    assert entry.actor == "cnaf.contact"
    assert entry.detail["path"] == "/evolutions/export.xlsx"
    assert entry.detail["filename"] in response["Content-Disposition"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("username", ["cd23.porteur", "cnaf.contact"])
def test_export_costs_the_same_queries_with_5_and_50_requests(
    world, client, django_assert_max_num_queries, fmt, username
):
    client.force_login(world.user(username))
    counts = []
    for total in (5, 50):
        while ChangeRequest.objects.count() < total:
            _request(world, world.creuse, "Besoin")
        client.get(reverse(f"evolutions:export_{fmt}"))  # warm caches
        with (
            django_assert_max_num_queries(12),
            CaptureQueriesContext(connection) as queries,
        ):
            response = _export(client, fmt)
            content = b"".join(response.streaming_content)
        assert content.count(b"EVO-23-") == total or fmt == "xlsx"
        counts.append(len(queries))

    assert counts[0] == counts[1], counts
