"""Login throttling: five wrong passwords lock one username from one address out for
a quarter of an hour, with a French page saying when to retry."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.db.models import F
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from workflow import audit, throttling
from workflow.models import AuditEntry, Notification


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


# The password change counts like a login (issue 14, finding 4).


def _change_password(client, old, new="un nouveau mot de passe solide"):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": new},
        REMOTE_ADDR="127.0.0.1",
    )


def test_wrong_current_passwords_lock_the_password_change_out(world, client):
    client.force_login(world.user("cd23.porteur"))
    for _attempt in range(4):
        wrong = _change_password(client, "mauvais")
        assert wrong.status_code == 200
        assert wrong.context["form"].errors["old_password"]

    fifth = _change_password(client, "mauvais")
    right = _change_password(client, world.password)

    assert fifth.status_code == 429
    assert "Connexion bloquée" in fifth.content.decode()
    assert right.status_code == 429
    assert AccessAttempt.objects.get(username="cd23.porteur").failures_since_start == 5
    assert world.user("cd23.porteur").check_password(world.password)
    client.logout()
    assert _login(client, "cd23.porteur", world.password).status_code == 429


def test_the_right_current_password_changes_it(world, client):
    client.force_login(world.user("cd23.porteur"))
    _change_password(client, "mauvais")

    response = _change_password(client, world.password)

    assert (response.status_code, response.url) == (
        302,
        reverse("password_change_done"),
    )
    assert world.user("cd23.porteur").check_password("un nouveau mot de passe solide")


# Lockouts are journalled (finding 7).


def test_a_lockout_is_journalled_once(world, client):
    _fail(client, "cd23.porteur", 5)
    _fail(client, "cd23.porteur", 3)  # refused during the lockout

    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOCKOUT)
    assert entry.detail == {
        "username": "cd23.porteur",
        "address": "127.0.0.1",
        "path": reverse("login"),
        "failures": 5,
    }
    assert audit.verify().intact


# Password reset: through the outbox, throttled, one answer (finding 7).


def _reset(client, email, address="127.0.0.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_the_reset_e_mail_is_queued_and_sent_by_the_worker(
    world, client, mailoutbox, django_capture_on_commit_callbacks
):
    user = world.user("cd23.porteur")
    with django_capture_on_commit_callbacks() as callbacks:
        response = _reset(client, user.email)
        assert mailoutbox == []  # nothing sent inside the request

    assert (response.status_code, response.url) == (
        302,
        reverse("password_reset_done"),
    )
    notification = Notification.objects.get(kind="password_reset")
    assert notification.recipient_email == user.email.lower()
    assert notification.recipient_user is None
    assert notification.link.startswith("/accounts/reset/")
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()  # the worker's task (eager in tests)
    (message,) = mailoutbox
    assert message.to == [user.email.lower()]
    assert "Réinitialisation de votre mot de passe" in message.subject
    assert notification.link in message.body
    done = client.get(response.url)
    assert "Si cette adresse est celle d'un compte de Tandem" in done.content.decode()


def test_reset_requests_are_throttled_per_address_and_per_client(
    world, client, settings
):
    email = world.user("cd23.porteur").email
    for _attempt in range(5):
        assert _reset(client, email).url == reverse("password_reset_done")

    assert Notification.objects.filter(kind="password_reset").count() == 3
    # Another client address is refused for this e-mail address too.
    _reset(client, email, "10.0.0.9")
    assert Notification.objects.filter(kind="password_reset").count() == 3

    settings.TANDEM_PASSWORD_RESET_PER_ADDRESS = 2
    other = world.user("cd23.testeur").email
    response = _reset(client, other, "10.0.0.8")
    _reset(client, other, "10.0.0.8")
    _reset(client, world.user("cd57.testeur").email, "10.0.0.8")
    assert response.url == reverse("password_reset_done")
    assert Notification.objects.filter(kind="password_reset").count() == 5


def test_an_unknown_address_gets_the_same_answer(world, client):
    response = _reset(client, "personne@example.invalid")

    assert (response.status_code, response.url) == (
        302,
        reverse("password_reset_done"),
    )
    assert not Notification.objects.filter(kind="password_reset").exists()
