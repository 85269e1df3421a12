"""Login throttling: five wrong passwords lock one username from one address out for
a quarter of an hour, with a French page saying when to retry."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.db.models import F
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from workflow import throttling


def _login(client, username, password, address="127.0.0.1"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def _fail(client, username, times, address="127.0.0.1"):
    for _attempt in range(times):
        _login(client, username, "mauvais", address)


def test_five_wrong_passwords_lock_out_even_the_right_one(world, client, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    _fail(client, "cd23.porteur", 5)

    response = _login(client, "cd23.porteur", world.password)

    assert response.status_code == 429
    page = response.content.decode()
    assert "la connexion est bloquée pendant 15 minutes" in page
    last = AccessAttempt.objects.get(username="cd23.porteur").attempt_time
    retry = timezone.localtime(last + timedelta(minutes=15)).strftime("%H:%M")
    assert f"Vous pourrez réessayer à partir de {retry}." in page
    assert "_auth_user_id" not in client.session
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_fifth_failure_already_shows_the_lockout_page(world, client):
    _fail(client, "cd23.porteur", 4)

    response = _login(client, "cd23.porteur", "mauvais")

    assert response.status_code == 429
    assert "Connexion bloquée" in response.content.decode()


def test_other_users_and_other_addresses_are_not_locked_out(world, client):
    _fail(client, "cd23.porteur", 5)

    other_user = _login(client, "cd23.testeur", world.password)
    client.logout()
    other_address = _login(client, "cd23.porteur", world.password, "10.0.0.9")

    assert (other_user.status_code, other_user.url) == (302, "/")
    assert (other_address.status_code, other_address.url) == (302, "/")


def test_login_works_again_after_the_cool_off(world, client):
    _fail(client, "cd23.porteur", 5)
    assert _login(client, "cd23.porteur", world.password).status_code == 429

    # A quarter of an hour and a second later.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1)
    )
    response = _login(client, "cd23.porteur", world.password)

    assert (response.status_code, response.url) == (302, "/")


def test_attempts_while_locked_out_do_not_extend_the_lockout(world, client):
    _fail(client, "cd23.porteur", 5)
    first_lockout = AccessAttempt.objects.get().attempt_time

    _fail(client, "cd23.porteur", 3)

    attempt = AccessAttempt.objects.get()
    assert (attempt.attempt_time, attempt.failures_since_start) == (first_lockout, 5)


def test_a_successful_login_forgets_earlier_failures(world, client):
    _fail(client, "cd23.porteur", 4)
    assert _login(client, "cd23.porteur", world.password).status_code == 302
    client.logout()

    _fail(client, "cd23.porteur", 4)
    response = _login(client, "cd23.porteur", world.password)

    assert response.status_code == 302


def test_a_wrong_password_asked_again_counts_as_a_failed_login(world, client):
    user = world.user("cd23.dsi")
    request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1")
    request.user = user

    assert throttling.password_confirmed(request, world.password)
    for _attempt in range(5):
        request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1")
        request.user = user
        assert not throttling.password_confirmed(request, "mauvais")

    assert request.axes_locked_out
    assert _login(client, "cd23.dsi", world.password).status_code == 429


def test_behind_proxies_the_address_is_read_from_x_forwarded_for(settings):
    request = RequestFactory().get(
        "/",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7",
    )

    assert throttling.client_ip(request) == "10.0.0.1"
    settings.TANDEM_PROXY_COUNT = 1
    assert throttling.client_ip(request) == "203.0.113.7"
    settings.TANDEM_PROXY_COUNT = 3
    assert throttling.client_ip(request) == "10.0.0.1"


def test_an_over_long_username_is_a_form_error_not_a_failure(world, client):
    # Longer than any username and than what the throttling's record can hold.
    response = _login(client, "x" * 300, "mauvais")

    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not AccessAttempt.objects.exists()
    assert "_auth_user_id" not in client.session
