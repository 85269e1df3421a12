"""The lists of acceptance testing (recette.lists): the acceptances and the
defects, their filters, what each user may see in them, their cost."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Role
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import lists, services
from recette.demo import recette_demo_load
from recette.models import Defect

MARKER = "zorglub"
S = ChangeRequest.Status


@pytest.fixture
def acceptances(world, settings, tmp_path):
    """Both demo acceptances: client 23's in progress, with a blocking (ANO-001)
    and a minor defect (ANO-002) whose rejection was accepted; client 57's in
    production, with one major defect holding the marker. {"23": …, "57": …}"""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    found = {
        code: ChangeRequest.objects.get(
            organisation__code=code, acceptance_plan__isnull=False
        )
        for code in ("23", "57")
    }
    minor = Defect.objects.get(change_request=found["23"], number=2)
    services.defect_reject(pk=minor.pk, by=world.user("cnaf.moe"), reason="Prévu")
    services.defect_accept_rejection(
        pk=minor.pk, by=world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    )
    services.defect_open(
        change_request_pk=found["57"].pk,
        by=world.client_user(world.moselle, Role.TESTEUR),
        title=f"Le flux {MARKER} est vide",
        severity=Defect.Severity.MAJOR,
    )
    return found


def _list(client, user, name, **filters):
    client.force_login(user)
    response = client.get(reverse(name), filters)
    assert response.status_code == 200
    return response


def _acceptances(response) -> list[str]:
    return [cr.organisation.code for cr in response.context["page"]]


def _defects(response) -> list[tuple[str, str]]:
    return [(d.organisation.code, d.reference) for d in response.context["page"]]


# --- The acceptances ------------------------------------------------------------


def test_acceptances_are_filtered_by_the_state_of_the_request_and_of_the_plan(
    world, client, acceptances
):
    supplier = world.user("cnaf.commande")
    index = "recettes:index"

    assert _acceptances(_list(client, supplier, index)) == ["57", "23"]
    running = _list(client, supplier, index, status=S.IN_ACCEPTANCE)
    assert _acceptances(running) == ["23"]
    assert "1 recette" in running.content.decode()
    done = _list(client, supplier, index, status=S.IN_PRODUCTION)
    assert _acceptances(done) == ["57"]
    validated = _list(client, supplier, index, plan_status="valide")
    assert _acceptances(validated) == ["57", "23"]
    assert _acceptances(_list(client, supplier, index, plan_status="brouillon")) == []
    text = _list(client, supplier, index, q=acceptances["57"].reference)
    assert _acceptances(text) == ["57"]


def test_only_the_supplier_filters_by_organisation_and_a_client_gets_nothing_else(
    world, client, acceptances
):
    index = "recettes:index"
    supplier = _list(
        client, world.user("cnaf.contact"), index, organisation=world.moselle.pk
    )
    assert _acceptances(supplier) == ["57"]
    assert 'name="organisation"' in supplier.content.decode()

    creuse = world.user("cd23.porteur")
    for forged in ({"organisation": world.moselle.pk}, {"q": "EVO-57"}):
        response = _list(client, creuse, index, **forged)
        page = response.content.decode()
        assert "EVO-57-" not in page and 'name="organisation"' not in page
        assert set(_acceptances(response)) <= {"23"}


def test_the_filters_are_kept_in_the_address_of_every_page(
    world, client, acceptances, monkeypatch
):
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)
    response = _list(
        client, world.user("cnaf.moe"), "recettes:index", plan_status="valide"
    )

    page = response.content.decode()
    assert "?plan_status=valide&amp;page=2" in page
    assert '<option value="valide" selected>' in page
    assert f'href="{reverse("recettes:defects")}"' in page  # the defects' list


# --- The defects ----------------------------------------------------------------


def test_the_supplier_sees_the_defects_of_every_acceptance(world, client, acceptances):
    response = _list(client, world.user("cnaf.moe"), "recettes:defects")

    assert _defects(response) == [
        ("57", "ANO-001"),
        ("23", "ANO-002"),
        ("23", "ANO-001"),
    ]
    assert "3 anomalies" in response.content.decode()
    defect = Defect.objects.get(change_request=acceptances["57"])
    page = response.content.decode()
    assert f'href="{reverse("recettes:defect", kwargs={"pk": defect.pk})}"' in page
    assert (
        f'href="{reverse("recettes:detail", args=[defect.change_request_id])}"' in page
    )


def test_defects_are_filtered_by_severity_state_organisation_request_and_text(
    world, client, acceptances
):
    supplier = world.user("cnaf.commande")

    def found(**filters):
        return _defects(_list(client, supplier, "recettes:defects", **filters))

    assert found(severity="bloquante") == [("23", "ANO-001")]
    assert found(status=lists.UNRESOLVED) == [("57", "ANO-001"), ("23", "ANO-001")]
    assert found(status="rejet_accepte") == [("23", "ANO-002")]
    assert found(organisation=world.creuse.pk) == [("23", "ANO-002"), ("23", "ANO-001")]
    assert found(change_request=acceptances["57"].pk) == [("57", "ANO-001")]
    assert found(q=MARKER) == [("57", "ANO-001")]
    assert found(q="ano-2") == [("23", "ANO-002")]
    assert found(q="EVO-23") == [("23", "ANO-002"), ("23", "ANO-001")]
    assert found(severity="majeure", status=lists.UNRESOLVED, q=MARKER) == [
        ("57", "ANO-001")
    ]


def test_a_client_naming_another_organisations_request_gets_nothing_of_it(
    world, client, acceptances
):
    creuse = world.user("cd23.testeur")
    for forged in (
        {"organisation": world.moselle.pk},
        {"change_request": acceptances["57"].pk},
        {"q": MARKER},
    ):
        response = _list(client, creuse, "recettes:defects", **forged)

        page = response.content.decode()
        assert f"Le flux {MARKER}" not in page, forged
        assert "EVO-57-" not in page and 'name="organisation"' not in page
        assert {code for code, _reference in _defects(response)} <= {"23"}
    # The other acceptance is no choice: the filter is said to be ignored.
    assert (
        "Demande : valeur inconnue, ignorée."
        in _list(
            client, creuse, "recettes:defects", change_request=acceptances["57"].pk
        ).content.decode()
    )


def test_bad_filter_values_are_ignored_the_others_still_apply(
    world, client, acceptances
):
    response = _list(
        client,
        world.user("cnaf.contact"),
        "recettes:defects",
        severity="bloquante",
        status="<script>",
        change_request="9" * 25,
        q="x\x00",
        page="-1",
    )

    assert _defects(response) == [("23", "ANO-001")]
    page = response.content.decode()
    assert "État : valeur inconnue, ignorée." in page and "<script>" not in page


def _queries(client, url) -> int:
    client.get(url)  # warm-up (session, content types)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_with_3_and_30_rows(
    world, client, acceptances, django_assert_max_num_queries
):
    creuse = acceptances["23"]
    client.force_login(world.user("cnaf.commande"))
    defects = reverse("recettes:defects") + "?status=non-resolues&q=Lot"
    counts = []
    for total in (3, 30):
        existing = Defect.objects.filter(title__startswith="Lot").count()
        Defect.objects.bulk_create(
            Defect(
                change_request=creuse,
                organisation=creuse.organisation,
                number=10 + n,
                title=f"Lot {n}",
                severity=Defect.Severity.MINOR,
                opened_by=world.user("cd23.testeur"),
            )
            for n in range(existing, total)
        )
        counts.append(_queries(client, defects))

    assert counts[0] == counts[1]
    with django_assert_max_num_queries(12):
        client.get(reverse("recettes:index"), {"status": S.IN_ACCEPTANCE})
