import pytest
from django.urls import reverse

from contacts.models import ContactPoint, Person, Role


def _urls_about(organisation):
    people = Person.objects.filter(organisation=organisation)
    points = ContactPoint.objects.filter(organisation=organisation)
    return [
        reverse("annuaire:organisation", args=[organisation.code]),
        *(reverse("annuaire:person", args=[p.pk]) for p in people),
        *(reverse("annuaire:contact_point", args=[c.pk]) for c in points),
    ]


def test_client_gets_404_on_every_page_about_another_client(world, client):
    urls = _urls_about(world.moselle)
    assert len(urls) > 10  # the organisation, its 3 people, its 10 contact points
    client.force_login(world.client_user(world.creuse, Role.PORTEUR_DEMANDE))

    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Moselle" not in response.content


def test_supplier_user_gets_200_on_every_client_page(world, client):
    client.force_login(world.user("cnaf.contact"))

    for url in _urls_about(world.moselle) + _urls_about(world.creuse):
        assert client.get(url).status_code == 200, url


def test_client_sees_its_own_people_and_contact_points(world, client):
    client.force_login(world.client_user(world.moselle, Role.TESTEUR))

    for url in _urls_about(world.moselle):
        assert client.get(url).status_code == 200, url


def test_organisation_list_shows_only_the_clients_own_organisation(world, client):
    client.force_login(world.client_user(world.creuse, Role.DSI_CLIENT))

    response = client.get(reverse("annuaire:index"))

    assert list(response.context["organisations"]) == [world.creuse]
    assert "Moselle" not in response.content.decode()


def test_supplier_organisation_list_has_every_organisation(
    world, client, django_assert_max_num_queries
):
    client.force_login(world.user("cnaf.dsi"))

    with django_assert_max_num_queries(8):
        response = client.get(reverse("annuaire:index"))

    assert len(response.context["organisations"]) == 102


def test_organisation_page_query_count_is_bounded(
    world, client, django_assert_max_num_queries
):
    client.force_login(world.user("cnaf.contact"))

    with django_assert_max_num_queries(12):
        response = client.get(reverse("annuaire:organisation", args=["57"]))

    assert response.status_code == 200
    assert "webmaster.portail@cd57" in response.content.decode()


@pytest.mark.parametrize("name", ["index", "organisation"])
def test_anonymous_user_is_sent_to_login(world, client, name):
    args = ["23"] if name == "organisation" else []

    response = client.get(reverse(f"annuaire:{name}", args=args))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
