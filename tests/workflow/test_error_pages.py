"""Error pages are Tandem's own, in French, also under DEBUG; a refusal shows its
reason only when Tandem worded it (never viewflow's internals)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings
from django.urls import reverse

from contacts.models import Role
from workflow import views
from workflow.middleware import FrenchNotFoundMiddleware


@pytest.fixture
def debug_404(settings):
    """The project's middleware as `make run` builds it (DEBUG on)."""
    settings.DEBUG = True
    return settings


def test_an_unknown_address_under_debug_is_the_french_page(world, client, debug_404):
    client.force_login(world.user("cd23.porteur"))

    response = client.get("/nulle-part/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Page introuvable" in page
    assert "Page not found" not in page and "URLconf" not in page
    assert 'href="/"' in page


def test_another_clients_request_under_debug_names_nothing(world, client, debug_404):
    from evolutions import services

    porteur_57 = world.client_user(world.moselle, Role.PORTEUR_DEMANDE)
    theirs = services.change_request_create(
        by=porteur_57,
        organisation=world.moselle,
        title="Secret de la Moselle",
        kind="technique",
        data_flows=["DSG"],
        description="x",
    )
    client.force_login(world.client_user(world.creuse, Role.PORTEUR_DEMANDE))

    response = client.get(reverse("evolutions:detail", args=[theirs.pk]))

    page = response.content.decode()
    assert response.status_code == 404
    assert "Page introuvable" in page
    assert "Secret de la Moselle" not in page


def test_the_middleware_stays_out_of_production():
    from django.core.exceptions import MiddlewareNotUsed

    with override_settings(DEBUG=False), pytest.raises(MiddlewareNotUsed):
        FrenchNotFoundMiddleware(lambda request: None)


def _raised_in(module: str, reason: str) -> PermissionDenied:
    """A PermissionDenied raised by code of `module` (its last frame's module)."""
    try:
        exec(  # noqa: S102 - one frame that belongs to `module`
            "raise PermissionDenied(reason)",
            {
                "__name__": module,
                "PermissionDenied": PermissionDenied,
                "reason": reason,
            },
        )
    except PermissionDenied as raised:
        return raised
    raise AssertionError("not raised")


def test_a_refusal_worded_by_tandem_shows_its_reason(world, rf: RequestFactory):
    request = rf.get("/")
    request.user = world.user("cd23.porteur")

    response = views.permission_denied(
        request, _raised_in("recette.pages", "Seul le fournisseur écrit le plan.")
    )

    assert response.status_code == 403
    assert "Seul le fournisseur écrit le plan." in response.content.decode()


def test_viewflows_refusal_shows_no_internals(world, rf: RequestFactory):
    request = rf.get("/")
    request.user = world.user("cd23.porteur")
    response = views.permission_denied(
        request,
        _raised_in(
            "viewflow.workflow.flow.views", 'Start :: no transition from "DONE"'
        ),
    )
    page = response.content.decode()

    assert response.status_code == 403
    assert "Accès refusé" in page
    assert "no transition" not in page
