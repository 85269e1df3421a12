import pytest
from django.urls import reverse
from django.utils.html import escape

from contacts.models import Organisation
from workflow.demo import DEMO_ACCOUNTS


def test_login_page_is_served_in_french(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert "Se connecter" in response.content.decode()


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.username)
def test_every_demo_account_logs_in_and_sees_its_organisation_and_role(
    world, client, account
):
    response = client.post(
        reverse("login"),
        {"username": account.username, "password": world.password},
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    organisation = Organisation.objects.get(code=account.organisation_code)
    assert escape(str(organisation)) in page
    assert str(account.role.label) in page


def test_wrong_password_is_refused_in_french(world, client):
    response = client.post(
        reverse("login"), {"username": "cd23.porteur", "password": "mauvais"}
    )

    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in (
        response.content.decode()
    )


def test_home_requires_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_user_without_role_is_told_to_ask_for_one(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nouveau"))

    response = client.get("/")

    assert "Aucun rôle ne vous a encore été attribué" in response.content.decode()


def test_english_is_available_on_request(world, client):
    client.force_login(world.user("cd23.porteur"))

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get("/")

    assert response["Content-Language"] == "en"
    assert "Your organisations and your roles" in response.content.decode()


def test_browser_language_does_not_override_french(world, client):
    client.force_login(world.user("cd23.porteur"))

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response["Content-Language"] == "fr"


def test_administrator_maintains_reference_data_in_the_admin(world, client):
    client.force_login(world.user("cnaf.admin"))

    assert (
        client.get(reverse("admin:contacts_organisation_changelist")).status_code == 200
    )
    assert (
        client.get(reverse("admin:contacts_supporthours_changelist")).status_code == 200
    )


def test_client_user_cannot_enter_the_admin(world, client):
    client.force_login(world.user("cd23.dsi"))

    response = client.get(reverse("admin:contacts_organisation_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_administrator_sees_the_background_worker_pulse(world, client):
    from workflow.tasks import heartbeat

    heartbeat.apply()
    client.force_login(world.user("cnaf.admin"))
    assert "Traitements en arrière-plan" in client.get("/").content.decode()

    client.force_login(world.user("cnaf.dsi"))
    assert "Traitements en arrière-plan" not in client.get("/").content.decode()


def test_logout_returns_to_the_login_page(world, client):
    client.force_login(world.user("cd57.dsi"))

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get("/").status_code == 302
