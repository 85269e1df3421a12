import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from tandem import settings as production


@pytest.fixture(autouse=True)
def _production_hashers(settings):
    """The suite stores passwords with MD5 for speed; here, as in production."""
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS


def test_a_new_password_is_stored_with_argon2id_at_owasp_parameters(world):
    user = world.user("cd23.porteur")
    user.set_password("une phrase de passe assez longue")
    user.save()

    algorithm, variant, _version, parameters, *_ = user.password.split("$")
    assert (algorithm, variant) == ("argon2", "argon2id")
    assert parameters == "m=19456,t=2,p=1"


def test_an_older_pbkdf2_password_still_opens_and_is_stored_again(world, client):
    user = world.user("cd23.porteur")
    user.password = make_password(world.password, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    response = client.post(
        reverse("login"), {"username": "cd23.porteur", "password": world.password}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(world.password)
