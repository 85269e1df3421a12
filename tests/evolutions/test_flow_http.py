"""EvolutionFlow walked through the HTTP test client, each step by the right user."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Role
from evolutions import services
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from tests.consistency import assert_consistent
from workflow.transitions import history_of

S = ChangeRequest.Status
F = EvolutionFlow


@pytest.fixture
def release(db):
    today = timezone.localdate()
    return Release.objects.create(
        number="2099.1",
        recette_start=today + timedelta(days=30),
        recette_end=today + timedelta(days=60),
        production_date=today + timedelta(days=90),
    )


@pytest.fixture
def submitted(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    change_request = services.change_request_create(
        by=porteur,
        organisation=world.creuse,
        title="Motif de la déclaration",
        kind="reglementaire",
        data_flows=["DSG"],
        description="Ajouter le motif.",
    )
    services.change_request_submit(pk=change_request.pk, by=porteur)
    return ChangeRequest.objects.get(pk=change_request.pk)


def _open_task(change_request, node):
    return Task.objects.get(
        process__evolutionprocess__change_request=change_request,
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def _act(client, user, change_request, node, data) -> None:
    """Take the task from the queue if needed, then submit its form."""
    task = _open_task(change_request, node)
    client.force_login(user)
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        response = client.post(node.reverse("assign", args=args))
        assert response.status_code == 302, response
    response = client.post(node.reverse("execute", args=args), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_consistent(change_request)


def _status(change_request):
    return ChangeRequest.objects.get(pk=change_request.pk).status


def test_happy_path_through_http(world, client, submitted, release):
    cr = submitted
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    contact, commande = world.user("cnaf.contact"), world.user("cnaf.commande")
    moe = world.user("cnaf.moe")
    valid_until = (timezone.localdate() + timedelta(days=30)).isoformat()

    _act(
        client,
        contact,
        cr,
        F.review_submission,
        {"decision": "acknowledge", "order_owner": commande.pk},
    )
    assert _status(cr) == S.IN_STUDY
    # The order owner is given the specification task directly.
    assert _open_task(cr, F.write_specification).owner == commande

    _act(client, commande, cr, F.write_specification, {"summary": "CDC v1"})
    _act(client, porteur, cr, F.review_specification, {"decision": "yes"})
    _act(
        client,
        commande,
        cr,
        F.write_quote,
        {"man_days": "12.5", "amount": "8750.00", "valid_until": valid_until},
    )
    _act(client, porteur, cr, F.review_quote, {"decision": "yes"})
    _act(client, commande, cr, F.propose_release, {"release": release.pk})
    _act(client, porteur, cr, F.confirm_release, {"decision": "yes"})
    _act(client, moe, cr, F.start_manufacture, {"comment": "C'est parti."})
    _act(client, moe, cr, F.finish_manufacture, {"comment": ""})

    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == S.IN_ACCEPTANCE
    assert cr.release == release
    assert cr.process.status == "DONE"
    assert len(history_of(cr)) == 10


def test_loops_through_http(world, client, submitted, release):
    cr = submitted
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    contact, commande = world.user("cnaf.contact"), world.user("cnaf.commande")
    valid_until = (timezone.localdate() + timedelta(days=30)).isoformat()

    _act(
        client,
        contact,
        cr,
        F.review_submission,
        {"decision": "request_information", "question": "Quel volume ?"},
    )
    assert _status(cr) == S.INFO_REQUESTED
    _act(
        client,
        porteur,
        cr,
        F.complete_information,
        {
            "title": cr.title,
            "kind": cr.kind,
            "data_flows": ["DSG", "GRO"],
            "description": "300 par mois.",
            "comment": "Voilà.",
        },
    )
    assert _status(cr) == S.SUBMITTED
    _act(
        client,
        contact,
        cr,
        F.review_submission,
        {"decision": "acknowledge", "order_owner": commande.pk},
    )

    _act(client, commande, cr, F.write_specification, {"summary": "v1"})
    _act(
        client,
        porteur,
        cr,
        F.review_specification,
        {"decision": "no", "comment": "Incomplet."},
    )
    assert _status(cr) == S.IN_STUDY
    _act(client, commande, cr, F.write_specification, {"summary": "v2"})
    _act(client, porteur, cr, F.review_specification, {"decision": "yes"})

    quote = {"man_days": "10", "amount": "9000", "valid_until": valid_until}
    _act(client, commande, cr, F.write_quote, quote)
    _act(client, porteur, cr, F.review_quote, {"decision": "no", "comment": "Cher."})
    assert _status(cr) == S.QUOTE_PREPARATION
    _act(client, commande, cr, F.write_quote, {**quote, "amount": "7000"})
    _act(client, porteur, cr, F.review_quote, {"decision": "yes"})

    _act(client, commande, cr, F.propose_release, {"release": release.pk})
    _act(
        client,
        porteur,
        cr,
        F.confirm_release,
        {"decision": "no", "comment": "Trop tôt."},
    )
    assert _status(cr) == S.PLANNING
    _act(client, commande, cr, F.propose_release, {"release": release.pk})
    _act(client, porteur, cr, F.confirm_release, {"decision": "yes"})

    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert cr.status == S.PLANNED
    assert [s.version for s in cr.specifications.all()] == [1, 2]
    assert [str(q.amount) for q in cr.quotes.all()] == ["9000.00", "7000.00"]


def test_withdrawal_cancels_the_open_tasks(world, client, submitted):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)

    services.change_request_withdraw(pk=submitted.pk, by=porteur, reason="Abandon.")

    cr = ChangeRequest.objects.get(pk=submitted.pk)
    assert cr.status == S.WITHDRAWN
    assert cr.process.status == "CANCELED"
    assert not Task.objects.filter(
        process=cr.process,
        flow_task_type="HUMAN",
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    ).exists()


def test_decline_cancels_the_open_tasks(world, submitted):
    services.change_request_decline(
        pk=submitted.pk, by=world.user("cnaf.contact"), reason="Hors contrat."
    )

    cr = ChangeRequest.objects.get(pk=submitted.pk)
    assert (cr.status, cr.process.status) == (S.DECLINED, "CANCELED")


def test_task_urls_by_role_client_and_anonymous(world, client, submitted):
    task = _open_task(submitted, F.review_submission)
    args = [task.process_id, task.pk]
    urls = [
        F.review_submission.reverse(name, args=args)
        for name in ("index", "detail", "assign", "execute")
    ]

    for url in urls:
        client.logout()
        assert client.get(url).status_code == 302, url
        assert client.get(url).url.startswith(reverse("login"))

        client.force_login(world.client_user(world.moselle, Role.PORTEUR_DEMANDE))
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url

    # Same organisation's client user, wrong role for this supplier task: 403.
    client.force_login(world.client_user(world.creuse, Role.PORTEUR_DEMANDE))
    assert (
        client.post(F.review_submission.reverse("assign", args=args)).status_code == 403
    )
    client.force_login(world.user("cnaf.moe"))
    assert (
        client.post(F.review_submission.reverse("assign", args=args)).status_code == 403
    )
    assert _open_task(submitted, F.review_submission).owner is None


def test_other_client_sees_nothing_in_viewflow_lists(world, client, submitted):
    client.force_login(world.client_user(world.moselle, Role.PORTEUR_DEMANDE))
    viewset_urls = [
        "/taches-evolutions/",
        "/taches-evolutions/flows/",
        "/taches-evolutions/tasks/",
        "/taches-evolutions/inbox/",
        "/taches-evolutions/queue/",
        "/taches-evolutions/archive/",
    ]

    for url in viewset_urls:
        # viewflow's lists lead to « Mes tâches », filtered on the flow.
        response = client.get(url, follow=True)
        assert response.redirect_chain == [("/?processus=taches-evolutions", 302)]
        assert response.status_code == 200, url
        assert submitted.reference not in response.content.decode(), url
        assert "Motif de la déclaration" not in response.content.decode(), url

    process_url = f"/taches-evolutions/{submitted.process.pk}/"
    assert client.get(process_url).status_code == 404
    assert client.get(process_url + "chart/").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"man_days": "5", "amount": "-1", "valid_until": "2099-01-01"}, "négatif"),
        ({"man_days": "5", "amount": "10", "valid_until": "2020-01-01"}, "futur"),
        ({"man_days": "", "amount": "10", "valid_until": "2099-01-01"}, "obligatoire"),
        ({"man_days": "abc", "amount": "10", "valid_until": "2099-01-01"}, "nombre"),
    ],
)
def test_bad_quote_is_a_french_form_error(world, client, submitted, data, message):
    import html

    from evolutions.models import Quote

    contact, commande = world.user("cnaf.contact"), world.user("cnaf.commande")
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    _act(client, contact, submitted, F.review_submission,
         {"decision": "acknowledge", "order_owner": commande.pk})  # fmt: skip
    _act(client, commande, submitted, F.write_specification, {"summary": "v1"})
    _act(client, porteur, submitted, F.review_specification, {"decision": "yes"})
    task = _open_task(submitted, F.write_quote)
    client.force_login(commande)

    response = client.post(
        F.write_quote.reverse("execute", args=[task.process_id, task.pk]), data
    )

    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert _status(submitted) == S.QUOTE_PREPARATION
    assert not Quote.objects.exists()
    assert Task.objects.get(pk=task.pk).status != STATUS.DONE


def test_nobody_cancels_or_rewinds_a_process_by_hand(world, client, submitted):
    process = submitted.process
    task = _open_task(submitted, F.review_submission)
    # The supplier's DSI sees the process and is refused; the administrator does
    # not even see it (reference data only).
    for username, refused in (("cnaf.dsi", 403), ("cnaf.admin", 404)):
        client.force_login(world.user(username))
        cancel = client.post(
            f"/taches-evolutions/{process.pk}/cancel/", {"_cancel_process": "1"}
        )
        task_cancel = client.post(
            F.review_submission.reverse("cancel", args=[process.pk, task.pk])
        )
        assert (cancel.status_code, task_cancel.status_code) == (refused, refused)
    process.refresh_from_db()
    assert process.status == "NEW"
    assert _open_task(submitted, F.review_submission).status == STATUS.NEW


def test_task_links_sent_before_the_move_lead_to_the_same_page(world, client):
    """Task pages moved from /evolution/ and /recette/ (one letter from the
    apps' /evolutions/ and /recettes/) to /taches-…/: links already e-mailed
    still lead there, query string kept."""
    client.force_login(world.user("cnaf.contact"))
    answer = client.get("/evolution/queue/", {"page": "2"})
    assert answer.status_code == 301
    assert answer["Location"] == "/taches-evolutions/queue/?page=2"
    assert client.get("/recette/inbox/")["Location"] == "/taches-recettes/inbox/"
    assert client.get("/evolution/queue/", follow=True).status_code == 200
