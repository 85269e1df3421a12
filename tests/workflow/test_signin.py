"""The signed-in user of a request: the session row and the user with their
memberships each read by one statement (workflow/signin.py, workflow/sessions.py),
under Django's rules: expired sessions, inactive users, changed passwords."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Membership, Organisation, Role
from workflow import access
from workflow.models import UserSession as Session
from workflow.sessions import SessionStore
from workflow.signin import BACKEND, DJANGO_MODEL_BACKEND, user_with_memberships


def _tables_read(queries) -> list[str]:
    """The first table each SELECT reads."""
    read = []
    for query in queries:
        sql = query["sql"]
        if sql.lstrip().upper().startswith("SELECT") and " FROM " in sql:
            read.append(sql.split(" FROM ", 1)[1].split()[0].strip('"'))
    return read


def test_the_user_comes_with_the_memberships_the_orm_would_read(world):
    user = world.user("cnaf.commande")
    other = Organisation.objects.get(code="23")
    Membership.objects.create(user=user, organisation=other, role=Role.TESTEUR)
    expected = list(Membership.objects.filter(user=user).select_related("organisation"))
    assert len(expected) >= 2

    with CaptureQueriesContext(connection) as queries:
        loaded = user_with_memberships(user.pk)
        memberships = access.memberships_of(loaded)
        shown = [(m.organisation.code, m.role, m.user.username) for m in memberships]

    assert len(queries) == 1
    assert loaded == user and loaded.username == user.username
    assert loaded.password == user.password and loaded.is_active
    # Values converted as the ORM converts them (SQLite gives naive datetimes).
    assert loaded.date_joined == user.date_joined
    assert timezone.is_aware(loaded.date_joined)
    # Same rows, same order (organisation code, role), organisations attached.
    assert [m.pk for m in memberships] == [m.pk for m in expected]
    assert shown == [(m.organisation.code, m.role, user.username) for m in expected]
    assert all(m.user is loaded for m in memberships)
    assert all(m.organisation.name for m in memberships)


def test_a_user_without_membership_comes_with_none(db):
    user = get_user_model().objects.create_user("personne", password="x" * 16)

    loaded = user_with_memberships(user.pk)

    assert loaded == user
    assert access.memberships_of(loaded) == ()
    assert user_with_memberships(user.pk + 1000) is None


def test_a_signed_in_page_reads_the_session_and_the_user_once_each(world, client):
    client.force_login(world.user("cd23.porteur"))
    client.get("/")  # the first page marks the session (workflow/sessions.py)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("notifications")).status_code == 200

    read = _tables_read(queries.captured_queries)
    assert read.count("workflow_usersession") == 1
    # The user and their memberships came with the session: not read apart.
    assert "auth_user" not in read
    assert "contacts_membership" not in read


def test_a_session_row_carries_its_users_id(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    assert Session.objects.get(session_key=key).user_id == user.pk


def test_a_session_without_its_users_id_still_signs_in(world, client):
    """A session copied at the upgrade (workflow migration 0007) has no user id
    yet: its user is read apart, and its next save writes the id."""
    user = world.user("cd23.porteur")
    client.force_login(user)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(user_id=None)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("notifications"))

    assert response.status_code == 200
    assert response.context["user"] == user
    assert "auth_user" in _tables_read(queries.captured_queries)


def test_the_user_the_session_data_names_is_the_one_signed_in(world, client):
    """The id column only spares a statement: were it to name someone else, the
    session's data (and its hash, checked by Django) still decide."""
    user, other = world.user("cd23.porteur"), world.user("cd23.dsi")
    client.force_login(user)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(user_id=other.pk)

    response = client.get(reverse("notifications"))

    assert response.status_code == 200
    assert response.context["user"] == user


def test_the_upgrade_keeps_the_open_sessions(world):
    from importlib import import_module

    from django.apps import apps
    from django.contrib.sessions.models import Session as DjangoSession

    migration = import_module("workflow.migrations.0007_user_sessions")
    later = timezone.now() + timedelta(minutes=5)
    DjangoSession.objects.create(
        session_key="k" * 32, session_data="d", expire_date=later
    )

    class Editor:
        connection = connection

    migration.keep_signed_in(apps, Editor())

    copied = Session.objects.get(session_key="k" * 32)
    assert (copied.session_data, copied.expire_date, copied.user_id) == (
        "d",
        later,
        None,
    )


def test_an_expired_session_is_signed_out_and_gets_a_new_key(world, client):
    client.force_login(world.user("cd23.porteur"))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None  # a save would create a new key


def test_an_inactive_user_is_signed_out(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_password_changed_elsewhere_signs_the_session_out(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    user.set_password("un autre mot de passe solide")
    user.save()

    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_session_signed_in_through_djangos_backend_still_works(world, client):
    client.force_login(world.user("cd23.porteur"), backend=BACKEND)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    store = SessionStore(key)
    data = store.load()
    data[BACKEND_SESSION_KEY] = DJANGO_MODEL_BACKEND
    Session.objects.filter(session_key=key).update(session_data=store.encode(data))

    assert client.get("/").status_code == 200
    assert SessionStore(key).load()[BACKEND_SESSION_KEY] == BACKEND


@pytest.mark.parametrize("username", ["cd23.porteur", "cnaf.commande"])
def test_signing_in_through_the_form_uses_the_backend_with_memberships(
    world, client, username
):
    user = world.user(username)
    user.set_password("un mot de passe solide")
    user.save()

    response = client.post(
        reverse("login"),
        {"username": username, "password": "un mot de passe solide"},
    )

    assert response.status_code == 302
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).load()[BACKEND_SESSION_KEY] == BACKEND


def test_expired_sessions_are_purged_every_night(world, client, settings):
    from workflow.tasks import purge_expired_sessions

    client.force_login(world.user("cd23.porteur"))
    live = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    Session.objects.create(
        session_key="e" * 32,
        session_data="",
        expire_date=timezone.now() - timedelta(seconds=1),
        user_id=world.user("cd23.dsi").pk,
    )

    assert purge_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-expired-sessions"]
    assert schedule["task"] == "workflow.tasks.purge_expired_sessions"
