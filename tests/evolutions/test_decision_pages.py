"""Each change-request task page shows what its actor decides on (issue 17): why a
specification came back to be rewritten, the version the client decides on with
its dates, the CNAF's comment on the proposed release; every button says the
decision. What users typed comes back as text, and nothing of the other client
(57) shows: the demo puts a request of each client at every step."""

import html
import re
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime

from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from tests.evolutions.test_flow_http import _act, _open_task

F = EvolutionFlow
S = ChangeRequest.Status

PAYLOAD = '<script>alert("x")</script><b>gras</b>'
ESCAPED = html.escape(PAYLOAD)  # as Django's autoescape writes it
MOSELLE = "Texte propre à la Moselle"


@pytest.fixture
def demo(world):
    evolutions_demo_load()
    return world


def _request(code: str, status: str) -> ChangeRequest:
    return ChangeRequest.objects.get(organisation__code=code, status=status)


def _page(client, user, change_request, node) -> str:
    """The task's page as `user` gets it (taking the task when it waits for the
    role), checked to show nothing of client 57."""
    task = _open_task(change_request, node)
    client.force_login(user)
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        assert client.post(node.reverse("assign", args=args)).status_code == 302
    response = client.get(node.reverse("execute", args=args))
    assert response.status_code == 200
    page = response.content.decode()
    assert MOSELLE not in page and "EVO-57" not in page
    return page


def _buttons(page: str) -> list[str]:
    """The names of the task form's submit buttons, in order."""
    form = page.split('class="tandem-form" novalidate>', 1)[1].split("</form>", 1)[0]
    return [
        html.unescape(name.strip())
        for name in re.findall(r"<button type=\"submit\"[^>]*>([^<]*)</button>", form)
        if name.strip()
    ]


def _day(moment) -> str:
    """The day as the page shows it: in Paris, not UTC (they differ after 23:00)."""
    if isinstance(moment, datetime):
        moment = localtime(moment)
    return date_format(moment, "SHORT_DATE_FORMAT")


def test_rewriting_a_specification_shows_why_it_was_sent_back(demo, client):
    cr, other = _request("23", S.SPEC_REVIEW), _request("57", S.SPEC_REVIEW)
    porteur = demo.user("cd23.porteur")
    _act(
        client,
        porteur,
        cr,
        F.review_specification,
        {"decision": "no", "comment": PAYLOAD},
    )
    _act(
        client,
        demo.user("cd57.porteur"),
        other,
        F.review_specification,
        {"decision": "no", "comment": MOSELLE},
    )

    page = _page(client, demo.user("cnaf.commande"), cr, F.write_specification)

    text = html.unescape(page)
    assert "Cahier des charges v1 renvoyé par le client" in text
    assert "Pourquoi il a été renvoyé" in text
    assert f"{porteur.get_full_name()}, le " in text
    assert ESCAPED in page and PAYLOAD not in page
    first = cr.specifications.get()
    assert f"<td>{_day(first.issued_at)}</td>" in text  # the version's date
    # Rewritten from the version sent back.
    assert f">\n{first.summary}</textarea>" in text
    assert _buttons(page) == ["Transmettre le cahier des charges au client"]


def test_the_client_decides_on_a_dated_version_knowing_the_earlier_ones(demo, client):
    cr = _request("23", S.SPEC_REVIEW)
    porteur, commande = demo.user("cd23.porteur"), demo.user("cnaf.commande")
    _act(
        client,
        porteur,
        cr,
        F.review_specification,
        {"decision": "no", "comment": "Précisez la purge."},
    )
    _act(
        client,
        commande,
        cr,
        F.write_specification,
        {"summary": "Purge à 12 mois, précisée."},
    )

    page = _page(client, porteur, cr, F.review_specification)

    text = html.unescape(page)
    first, second = cr.specifications.order_by("version")
    assert "Cahier des charges v2 de la CNAF" in text
    assert f"{_day(second.issued_at)}, par {commande.get_full_name()}" in text
    assert "Purge à 12 mois, précisée." in text
    assert f"<td>{_day(first.issued_at)}</td>" in text
    assert f"Renvoyée le {_day(first.decided_at)} : Précisez la purge." in text
    assert _buttons(page) == [
        "Valider le cahier des charges",
        "Renvoyer le cahier des charges avec des commentaires",
    ]


def test_the_request_page_dates_each_specification_version(demo, client):
    cr = _request("23", S.QUOTE_PREPARATION)
    client.force_login(demo.user("cd23.porteur"))

    page = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()

    specification = cr.specifications.get()
    text = html.unescape(page)
    assert '<th scope="col">Émise le</th>' in text
    assert f"<td>{_day(specification.issued_at)}</td>" in text
    assert f"Validée le {_day(specification.decided_at)}" in text


def test_the_client_confirming_a_release_reads_the_cnaf_comment(demo, client):
    cr, other = _request("23", S.PLANNING), _request("57", S.PLANNING)
    release = Release.objects.order_by("production_date").first()
    commande = demo.user("cnaf.commande")
    _act(
        client,
        commande,
        cr,
        F.propose_release,
        {"release": release.pk, "comment": PAYLOAD},
    )
    _act(
        client,
        commande,
        other,
        F.propose_release,
        {"release": release.pk, "comment": MOSELLE},
    )

    page = _page(client, demo.user("cd23.porteur"), cr, F.confirm_release)

    text = html.unescape(page)
    assert f"Version proposée par la CNAF : {release.number}" in text
    assert f"du {_day(release.recette_start)} au {_day(release.recette_end)}" in text
    assert _day(release.production_date) in text
    assert "Commentaire de la CNAF sur cette version" in text
    assert f"{commande.get_full_name()}, le " in text
    assert ESCAPED in page and PAYLOAD not in page
    assert _buttons(page) == ["Confirmer cette version", "Demander une autre version"]


def test_the_client_completing_a_request_reads_the_question(demo, client):
    cr = _request("23", S.INFO_REQUESTED)

    page = _page(client, demo.user("cd23.porteur"), cr, F.complete_information)

    assert "Quel volume mensuel attendez-vous ?" in page
    assert _buttons(page) == ["Soumettre à nouveau à la CNAF"]


@pytest.mark.parametrize(
    ("status", "node", "username", "buttons"),
    [
        (
            S.SUBMITTED,
            F.review_submission,
            "cnaf.contact",
            [
                "Prendre en compte et nommer le porteur de la commande",
                "Demander un complément d'information",
            ],
        ),
        (
            S.IN_STUDY,
            F.write_specification,
            "cnaf.commande",
            ["Transmettre le cahier des charges au client"],
        ),
        (S.QUOTE_PREPARATION, F.write_quote, "cnaf.commande", ["Envoyer le devis"]),
        (
            S.QUOTE_REVIEW,
            F.review_quote,
            "cd23.porteur",
            ["Accepter le devis", "Refuser le devis (un devis révisé sera établi)"],
        ),
        (
            S.PLANNING,
            F.propose_release,
            "cnaf.commande",
            ["Proposer cette version au client"],
        ),
        (S.PLANNED, F.start_manufacture, "cnaf.moe", ["Lancer la fabrication"]),
        (
            S.IN_MANUFACTURE,
            F.finish_manufacture,
            "cnaf.moe",
            ["Terminer la fabrication et ouvrir la recette"],
        ),
    ],
)
def test_every_button_says_the_decision(demo, client, status, node, username, buttons):
    cr = _request("23", status)

    page = _page(client, demo.user(username), cr, node)

    assert _buttons(page) == buttons


def test_a_decision_posted_without_its_button_is_refused_in_french(demo, client):
    cr = _request("23", S.QUOTE_REVIEW)
    _page(client, demo.user("cd23.porteur"), cr, F.review_quote)  # taken
    task = _open_task(cr, F.review_quote)

    response = client.post(
        F.review_quote.reverse("execute", args=[task.process_id, task.pk]),
        {"comment": "Sans bouton"},
    )

    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert 'id="id_decision_error"' in page
    assert "Ce champ est obligatoire." in page
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.QUOTE_REVIEW
