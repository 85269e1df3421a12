"""The header's search (workflow.search and the providers the apps declare):
what each user finds, grouped and capped, and what bad input gets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Role
from evolutions import services as evolution_services
from evolutions.models import ChangeRequest
from evolutions.search import change_requests_found
from recette import services as recette_services
from recette.models import Defect, TestCase
from recette.search import acceptances_found, cases_found, defects_found
from workflow import search

MARKER = "zorglub"


@pytest.fixture
def marked(demo, submit_request):
    """The marker in a request, a test case and a defect of client 57, and in a
    request of client 23: {"57": its acceptance, "23": its marked request}."""
    moselle = demo.moselle
    porteur = demo.client_user(moselle, Role.PORTEUR_DEMANDE)
    request_57 = evolution_services.change_request_create(
        by=porteur,
        organisation=moselle,
        title=f"Exporter les flux {MARKER} de la Moselle",
        kind="technique",
        data_flows=["DSG"],
        description="Détail du besoin",
    )
    evolution_services.change_request_submit(pk=request_57.pk, by=porteur)
    acceptance_57 = ChangeRequest.objects.get(
        organisation=moselle, acceptance_plan__isnull=False
    )
    # The plan is validated, hence frozen: the case is renamed in the database.
    TestCase.objects.filter(
        plan__change_request=acceptance_57, reference="CT-003"
    ).update(title=f"Recevoir le flux {MARKER} de la Moselle")
    recette_services.defect_open(
        change_request_pk=acceptance_57.pk,
        by=demo.client_user(moselle, Role.TESTEUR),
        title=f"Le flux {MARKER} de la Moselle est vide",
        severity=Defect.Severity.MAJOR,
    )
    request_23 = submit_request(title=f"Contrôler les flux {MARKER} de la Creuse")
    return {"57": acceptance_57, "23": request_23}


def _search(client, user, text):
    client.force_login(user)
    response = client.get(reverse("search"), {"q": text})
    assert response.status_code == 200
    return response


def _groups(response) -> dict[str, search.Found]:
    return {group.key: group for group in response.context["groups"]}


def test_a_client_never_finds_what_another_client_holds(demo, marked, client):
    for username in ("cd23.porteur", "cd23.testeur", "cd23.dsi"):
        response = _search(client, demo.user(username), MARKER)

        page = response.content.decode()
        assert "Moselle" not in page and "EVO-57-" not in page, username
        groups = _groups(response)
        assert set(groups) == {"demandes"}  # nothing of 57, not even counted
        assert [hit.reference for hit in groups["demandes"].hits] == [
            marked["23"].reference
        ]
        assert response.context["total"] == 1


def test_the_supplier_finds_what_both_clients_hold(demo, marked, client):
    response = _search(client, demo.user("cnaf.commande"), MARKER)

    groups = _groups(response)
    assert list(groups) == ["demandes", "cas", "anomalies"]  # the apps' order
    assert {hit.organisation[:2] for hit in groups["demandes"].hits} == {"23", "57"}
    assert [hit.within for hit in groups["cas"].hits] == [marked["57"].reference]
    assert [hit.reference for hit in groups["anomalies"].hits] == ["ANO-001"]
    assert response.context["total"] == 4
    assert "Demandes d&#x27;évolution (2)" in response.content.decode()


def test_the_supplier_finds_no_clients_draft_nor_the_administrator_anything(
    demo, client
):
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    evolution_services.change_request_create(
        by=porteur, organisation=demo.creuse, title=f"Brouillon {MARKER}",
        kind="technique", data_flows=["DSG"], description="x",
    )  # fmt: skip

    assert _search(client, porteur, MARKER).context["total"] == 1
    for username in ("cnaf.contact", "cnaf.admin"):
        assert _search(client, demo.user(username), MARKER).context["total"] == 0
    admin = _search(client, demo.user("cnaf.admin"), "déclaration")
    assert admin.context["total"] == 0


def test_each_row_names_its_reference_title_organisation_and_state(
    demo, marked, client
):
    response = _search(client, demo.user("cnaf.moe"), MARKER)

    defect = _groups(response)["anomalies"].hits[0]
    found = Defect.objects.get(change_request=marked["57"])
    assert defect == search.Hit(
        reference="ANO-001",
        title=f"Le flux {MARKER} de la Moselle est vide",
        organisation="57 – Moselle",
        state="Ouverte (Majeure)",
        url=reverse("recettes:defect", kwargs={"pk": found.pk}),
        within=marked["57"].reference,
    )
    case = _groups(response)["cas"].hits[0]
    assert (case.reference, case.state) == ("CT-003", "Plan v1 : Validé")
    assert case.url.startswith(reverse("recettes:detail", args=[marked["57"].pk]))
    page = response.content.decode()
    assert f'href="{defect.url}"' in page and "Ouverte (Majeure)" in page


def test_references_are_found_exactly(demo, marked, client):
    supplier, creuse = demo.user("cnaf.commande"), demo.user("cd23.porteur")

    # « ANO-001 »: the first defect of each acceptance, whatever its title.
    both = _groups(_search(client, supplier, "ANO-001"))["anomalies"]
    assert sorted(hit.within[:6] for hit in both.hits) == ["EVO-23", "EVO-57"]
    own = _groups(_search(client, creuse, "ano-2"))["anomalies"]
    assert [(hit.reference, hit.within[:6]) for hit in own.hits] == [
        ("ANO-002", "EVO-23")
    ]
    # A request's whole reference, and its number alone.
    reference = marked["23"].reference
    number = reference.rsplit("-", 1)[-1]  # « 0016 », or « 16 » as said
    for text in (reference, number, str(int(number)).zfill(2)):
        hits = _groups(_search(client, creuse, text))["demandes"].hits
        assert reference in [hit.reference for hit in hits], text
    # A case's reference: one per plan the user sees.
    cases = _groups(_search(client, supplier, "CT-008"))["cas"]
    assert [hit.reference for hit in cases.hits] == ["CT-008", "CT-008"]


def test_a_word_is_found_from_its_first_letters(demo, marked, client):
    response = _search(client, demo.user("cd23.porteur"), MARKER[:5])

    assert _groups(response)["demandes"].total == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="la recherche en texte intégral"
)
def test_postgresql_finds_french_words_whatever_their_form(demo, client):
    # « déclarations » finds « déclaration »: the French stemmer.
    response = _search(client, demo.user("cnaf.commande"), "déclarations purgées")

    titles = [hit.title for hit in _groups(response)["demandes"].hits]
    assert "Purger les déclarations de plus de 5 ans" in titles


def test_each_kind_is_capped_and_says_how_many_more(demo, marked, client):
    plan = ChangeRequest.objects.get(
        organisation__code="23", acceptance_plan__isnull=False
    ).acceptance_plan
    TestCase.objects.bulk_create(
        TestCase(plan=plan, position=100 + n, reference=f"Z-{n}", title=f"{MARKER} {n}")
        for n in range(25)
    )

    response = _search(client, demo.user("cd23.porteur"), MARKER)

    cases = _groups(response)["cas"]
    assert (len(cases.hits), cases.total, cases.more) == (search.PER_KIND, 25, 5)
    page = response.content.decode()
    assert "… et 5 autres." in page and "Cas de test (25)" in page


@pytest.mark.parametrize("text", ["", "   ", "a", "\x00a", "\x00\x00"])
def test_nothing_is_searched_below_two_characters(world, client, text):
    client.force_login(world.user("cnaf.commande"))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("search"), {"q": text})

    assert response.status_code == 200
    assert response.context["groups"] == [] and not response.context["searched"]
    assert "Saisissez" in response.context["notice"]
    assert not any("recette_defect" in q["sql"] for q in queries.captured_queries)


def test_an_overlong_text_is_cut_and_said_so(demo, marked, client):
    response = _search(client, demo.user("cd23.porteur"), MARKER + "é" * 400)

    assert response.context["cut"]
    assert len(response.context["text"]) == search.MAX_LENGTH
    assert "raccourcie à ses 200 premiers caractères" in response.content.decode()


HOSTILE = [
    "<script>alert(1)</script>",
    "'",
    '"',
    "\\",
    "a:* & !b | (",  # the full-text query's operators
    "ANO-" + "9" * 30,
    "9" * 30,
    "²³",
    "\u202e" + MARKER,
]


def test_hostile_text_is_answered_never_a_server_error(demo, marked, client):
    for text in HOSTILE:
        response = _search(client, demo.user("cnaf.commande"), text)

        assert b"<script>alert" not in response.content, text
    # LIKE's wildcards are matched as such; a NUL is dropped, the rest searched.
    for text in ("%", "_", "%_%"):
        assert _search(client, demo.user("cnaf.commande"), text).context["total"] == 0
    nul = _search(client, demo.user("cnaf.commande"), "\x00" + MARKER)
    assert nul.context["total"] == 4


def _queries(client, text) -> int:
    client.get(reverse("search"), {"q": text})  # warm-up (session, content types)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("search"), {"q": text}).status_code == 200
    return len(queries)


def test_search_costs_the_same_with_21_and_60_results_per_kind(
    demo, marked, client, django_assert_max_num_queries
):
    creuse = ChangeRequest.objects.get(
        organisation__code="23", acceptance_plan__isnull=False
    )
    client.force_login(demo.user("cnaf.commande"))
    counts = []
    for total in (21, 60):
        existing = TestCase.objects.filter(title__startswith="Lot").count()
        TestCase.objects.bulk_create(
            TestCase(
                plan=creuse.acceptance_plan,
                position=200 + n,
                reference=f"L-{n}",
                title=f"Lot {MARKER} {n}",
            )
            for n in range(existing, total)
        )
        defects = Defect.objects.filter(change_request=creuse).count()
        Defect.objects.bulk_create(
            Defect(
                change_request=creuse,
                organisation=creuse.organisation,
                number=n + 1,
                title=f"Lot {MARKER} {n}",
                severity="mineure",
                opened_by=demo.user("cd23.testeur"),
            )
            for n in range(defects, defects + total)
        )
        counts.append(_queries(client, MARKER))

    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):  # a few results: no more
        client.get(reverse("search"), {"q": "déclaration"})


def test_the_header_of_every_page_holds_the_search_box(world, client):
    client.force_login(world.user("cd23.porteur"))

    page = client.get(reverse("index")).content.decode()

    assert f'action="{reverse("search")}" role="search"' in page
    assert '<label for="tandem-search"' in page and 'name="q"' in page


def test_the_apps_declare_their_providers_in_order_and_once():
    assert search.providers() == (
        change_requests_found,
        acceptances_found,
        cases_found,
        defects_found,
    )
    with pytest.raises(ValueError, match="déjà déclarée"):
        search.register_provider(cases_found)


def test_the_text_is_cleaned_before_it_is_searched():
    assert search.cleaned("  ANO-001\x00\n\tbis ") == ("ANO-001 bis", False)
    assert search.cleaned("x" * 201) == ("x" * 200, True)
