"""One answer to a refused action (workflow.refusals): the 409 page or JSON, the
journal's entry, and nothing of the refused request left in the database."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import CharField, Form
from django.http import HttpResponse
from django.urls import path, reverse
from viewflow.workflow.models import Process

from contacts.models import Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest, Comment
from recette import services as recette_services
from recette.models import Execution
from tests.conftest import campaign_with_cases as _campaign
from tests.recette.test_pages import _record
from workflow import audit
from workflow.models import AuditEntry, RefusalEntry, TransitionLog
from workflow.refusals import errors_onto, refusal_about
from workflow.second_factor import SecondFactorMissing
from workflow.transitions import ActionRefused

S = ChangeRequest.Status
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _submitted_twice(request, pk: int):
    """Writes (a message, a submission with its flow and journal), then asks for a
    submission the service refuses: the refusal is raised inside the view's
    transaction."""
    change_request = ChangeRequest.objects.get(pk=pk)
    with transaction.atomic():
        services.comment_add(pk=pk, by=request.user, body="Écrit avant le refus.")
        services.change_request_submit(pk=pk, by=request.user)
        with refusal_about(change_request):
            services.change_request_submit(pk=pk, by=request.user)
    return HttpResponse("jamais atteint")


def _enrol_first(request):
    raise SecondFactorMissing()


def __getattr__(name: str):
    """This module is the URLconf of the tests marked urls(__name__): Tandem's own
    routes (the page's menu reverses them) plus the two views above. Read lazily:
    importing tandem.urls while tests are collected would change the flows' URL
    namespace seen by other test modules (tests/security/hostile/inventory.py)."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from tandem.urls import urlpatterns

    return [
        path("essai/soumise-deux-fois/<int:pk>/", _submitted_twice, name="twice"),
        path("essai/sans-application/", _enrol_first, name="enrol_first"),
        *urlpatterns,
    ]


@pytest.fixture
def demo(world):
    evolutions_demo_load()
    return world


def _in_study(world):
    return ChangeRequest.objects.filter(organisation__code="23", status=S.IN_STUDY)[0]


def test_a_refusal_is_the_409_page_with_its_reason_and_a_link_back(demo, client):
    cr = _in_study(demo)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(reverse("evolutions:submit", args=[cr.pk]))

    page = html.unescape(response.content.decode())
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    assert "Action impossible" in page
    assert "Cette demande n'est plus un brouillon (« En étude »)" in page
    assert f'Retour à <a href="{cr.get_absolute_url()}">{cr}</a>' in page
    assert "Rien n'a été enregistré." in page
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.IN_STUDY


def test_a_refusal_is_json_to_a_request_that_asks_for_it(demo, client):
    cr = _in_study(demo)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    url = reverse("evolutions:submit", args=[cr.pk])

    asked = client.post(url, headers={"accept": "application/json"})
    browser = client.post(url, headers={"accept": BROWSER_ACCEPT})

    assert asked.status_code == 409
    assert asked.json() == {
        "error": "Cette demande n'est plus un brouillon (« En étude ») : elle a "
        "déjà été soumise."
    }
    assert (browser.status_code, browser["Content-Type"][:9]) == (409, "text/html")


def test_the_grid_script_reads_a_refusal_as_json(world, client, settings, tmp_path):
    # What recette/static/recette/grid.js sends (a JSON body) and reads ("error").
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    campaign = _campaign(world, cases=1)
    case = campaign.change_request.acceptance_plan.cases.first()
    recette_services.campaign_close(pk=campaign.pk, by=world.user("cd23.porteur"))
    client.force_login(world.user("cd23.testeur"))

    closed = _record(client, campaign, case, Execution.Result.PASSED)

    assert closed.status_code == 409
    assert closed.json() == {"error": "La campagne est close : plus aucun résultat."}
    assert not Execution.objects.exists()


def test_a_refusal_is_journalled_once_as_before(demo, client):
    cr = _in_study(demo)
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(porteur)
    url = reverse("evolutions:submit", args=[cr.pk])
    before = AuditEntry.objects.count()

    client.post(url)

    # Written by the request without the chain's lock, chained by the folder.
    refusal = RefusalEntry.objects.get()
    assert AuditEntry.objects.count() == before
    assert audit.fold_refusals() == 1
    entry = AuditEntry.objects.latest("seq")
    assert AuditEntry.objects.count() == before + 1
    assert (entry.action, entry.actor, entry.actor_id, entry.at) == (
        AuditEntry.Action.REFUSED,
        porteur.username,
        porteur.pk,
        refusal.at,
    )
    assert entry.detail == {
        "method": "POST",
        "path": url,
        "status": 409,
        "refusal": refusal.pk,
    }
    assert audit.fold_refusals() == 0
    assert audit.verify().intact


@pytest.mark.urls(__name__)
def test_what_the_view_wrote_before_a_refusal_is_rolled_back(demo, client):
    draft = ChangeRequest.objects.filter(organisation__code="23", status=S.DRAFT)[0]
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    counts = (Comment.objects.count(), TransitionLog.objects.count())
    processes = Process.objects.count()
    entries = AuditEntry.objects.count()

    response = client.post(reverse("twice", args=[draft.pk]))

    assert response.status_code == 409
    assert f'href="{draft.get_absolute_url()}"' in response.content.decode()
    assert ChangeRequest.objects.get(pk=draft.pk).status == S.DRAFT
    assert (Comment.objects.count(), TransitionLog.objects.count()) == counts
    assert Process.objects.count() == processes
    # Only the refusal is journalled: not the submission that was rolled back.
    audit.fold_refusals()
    assert AuditEntry.objects.count() == entries + 1
    assert AuditEntry.objects.latest("seq").action == AuditEntry.Action.REFUSED
    assert audit.verify().intact


@pytest.mark.urls(__name__)
def test_the_page_offers_the_refusals_way_out(world, client):
    client.force_login(world.user("cnaf.dsi"))

    response = client.get(reverse("enrol_first"))

    page = html.unescape(response.content.decode())
    assert response.status_code == 409
    assert (
        f'<a href="{reverse("second_factor")}">'
        "Enregistrer mon application d'authentification</a>"
    ) in page


def test_refusal_about_names_the_subject_unless_the_refusal_has_one():
    with pytest.raises(ActionRefused) as named, refusal_about("la demande"):
        raise ActionRefused("Non.")
    with pytest.raises(ActionRefused) as kept, refusal_about("la demande"):
        raise ActionRefused("Non.", subject="le plan")

    assert (named.value.subject, kept.value.subject) == ("la demande", "le plan")


class _ReasonForm(Form):
    reason = CharField()


def test_errors_onto_puts_each_message_under_its_field_or_the_default():
    form = _ReasonForm({"reason": "x"})
    form.is_valid()

    errors_onto(
        form, ValidationError({"reason": "Trop court.", "steps": "Aucune étape."})
    )
    plain = _ReasonForm({"reason": "x"})
    plain.is_valid()
    errors_onto(plain, ValidationError("Motif obligatoire."), default="reason")

    assert form.errors == {"reason": ["Trop court."], "__all__": ["Aucune étape."]}
    assert plain.errors == {"reason": ["Motif obligatoire."]}
