"""Change-request pages: scoping, roles, bad input and query bounds."""

import html
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from viewflow.workflow.models import Task

from contacts.models import Membership, Organisation, Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from evolutions.selectors import open_tasks_of
from workflow.transitions import history_of

S = ChangeRequest.Status


@pytest.fixture
def demo(world):
    evolutions_demo_load()
    return world


def _ours(world, code="23"):
    return ChangeRequest.objects.filter(organisation__code=code)


def _requests(response) -> list[ChangeRequest]:
    """The change requests of the list's page, in its order (the page reads
    what its lines print, as bare values)."""
    pks = [row.pk for row in response.context["page"]]
    found = ChangeRequest.objects.in_bulk(pks)
    return [found[pk] for pk in pks]


def test_client_sees_nothing_of_another_client(demo, client):
    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    theirs = _ours(demo, "23")
    sample = theirs.get(status=S.QUOTE_REVIEW)

    listing = client.get(reverse("evolutions:index")).content.decode()
    # Demo descriptions name their département: nothing of Creuse may come back.
    searched = client.get(reverse("evolutions:index"), {"q": "Creuse"})
    roadmap = client.get(reverse("evolutions:roadmap")).content.decode()

    assert "EVO-23-" not in listing and "EVO-57-" in listing
    assert searched.context["page"].paginator.count == 0
    assert "EVO-23-" not in roadmap
    for name in ("detail", "edit", "withdraw", "decline"):
        assert (
            client.get(reverse(f"evolutions:{name}", args=[sample.pk])).status_code
            == 404
        )
    assert (
        client.post(reverse("evolutions:submit", args=[sample.pk])).status_code == 404
    )


def test_supplier_sees_every_client_and_filters_by_organisation(demo, client):
    client.force_login(demo.user("cnaf.contact"))

    everything = client.get(reverse("evolutions:index"))
    only_57 = client.get(reverse("evolutions:index"), {"organisation": demo.moselle.pk})

    assert everything.context["page"].paginator.count == 26  # drafts are not shown
    assert {cr.organisation.code for cr in _requests(only_57)} == {"57"}


def test_filters_by_status_kind_and_search(demo, client):
    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))

    planned = client.get(reverse("evolutions:index"), {"status": S.PLANNED})
    searched = client.get(reverse("evolutions:index"), {"q": "NIR"})
    bogus = client.get(
        reverse("evolutions:index"), {"status": "n'importe", "page": "x"}
    )

    assert [cr.status for cr in _requests(planned)] == [S.PLANNED]
    assert [cr.title for cr in _requests(searched)] == [
        "Contrôler le NIR avant intégration"
    ]
    assert bogus.status_code == 200


def test_owner_filter_offers_the_owners_a_user_may_see_and_filters(demo, client):
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    commande = demo.user("cnaf.commande")
    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))

    page = client.get(reverse("evolutions:index"))
    offered = set(page.context["filters"].fields["owner"].queryset)
    by_commande = client.get(reverse("evolutions:index"), {"owner": commande.pk})
    foreign = client.get(
        reverse("evolutions:index"), {"owner": demo.user("cd57.porteur").pk}
    )

    assert {porteur, commande} <= offered
    assert demo.user("cd57.porteur") not in offered
    assert demo.user("cnaf.contact") not in offered
    listed = _requests(by_commande)
    assert listed and all(cr.order_owner == commande for cr in listed)
    # Another client's porteur is no choice: the filter is ignored, with its error.
    assert foreign.status_code == 200
    assert foreign.context["filters"].errors


def test_filter_options_print_each_owner_organisation_and_release_as_named(
    demo, client
):
    """The options are read as bare values (workflow.forms.options_from_values):
    the same texts, order and choice as the objects would print."""
    client.force_login(demo.user("cnaf.contact"))
    commande = demo.user("cnaf.commande")
    commande.first_name, commande.last_name = "Zoé <b>", "D'Arc"
    commande.save()

    page = client.get(reverse("evolutions:index"), {"owner": commande.pk})
    filters = page.context["filters"]
    body = page.content.decode()

    for name in ("owner", "organisation", "release"):
        field = filters.fields[name]
        expected = [
            (str(item.pk), field.label_from_instance(item)) for item in field.queryset
        ]
        if name == "owner":  # Django's own label of a user is the username
            expected = [
                (str(user.pk), user.get_full_name() or user.get_username())
                for user in field.queryset
            ]
        printed = [
            (str(value), str(label)) for value, label in field.choices if value != ""
        ]
        assert printed == expected and expected
    assert (
        f'<option value="{commande.pk}" selected>Zoé &lt;b&gt; D&#x27;Arc</option>'
        in body
    )
    # The supplier by its name alone, a client by its code and name.
    assert f'<option value="{demo.creuse.pk}">23 – ' in body
    supplier = Organisation.objects.get(kind=Organisation.Kind.SUPPLIER)
    assert (
        f'<option value="{supplier.pk}">{html.escape(supplier.name)}</option>' in body
    )


def test_filter_options_compiled_once_still_follow_the_data_and_the_user(demo, client):
    """Their statements are compiled once per user's conditions
    (statements.compiled_rows): a version or owner added since shows at once,
    and another client's user gets their own owners."""

    def options(name) -> set[str]:
        page = client.get(reverse("evolutions:index"))
        return {
            str(label) for _value, label in page.context["filters"].fields[name].choices
        }

    client.force_login(demo.user("cd23.porteur"))
    before = options("release")
    Release.objects.create(
        number="99.1",
        recette_start=date(2031, 1, 6),
        recette_end=date(2031, 1, 20),
        production_date=date(2031, 2, 3),
    )
    assert options("release") == before | {"99.1"}
    owners = options("owner")
    newcomer = get_user_model().objects.create_user(
        "cd23.nouveau", first_name="Néo", last_name="Phyte"
    )
    Membership.objects.create(
        user=newcomer, organisation=demo.creuse, role=Role.PORTEUR_DEMANDE
    )
    assert options("owner") == owners | {"Néo Phyte"}

    client.force_login(demo.user("cd57.porteur"))
    theirs = options("owner")
    assert "Néo Phyte" not in theirs and theirs != owners


def test_porteur_writes_a_draft_and_forged_fields_are_ignored(demo, client):
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(porteur)

    response = client.post(
        reverse("evolutions:create"),
        {
            "title": "Nouveau besoin",
            "kind": "technique",
            "data_flows": ["DSG"],
            "description": "<script>alert(1)</script>",
            "organisation": demo.moselle.pk,
            "status": S.PLANNED,
            "request_owner": demo.user("cd57.porteur").pk,
        },
    )

    cr = ChangeRequest.objects.get(title="Nouveau besoin")
    assert response.status_code == 302
    assert (cr.organisation, cr.status, cr.request_owner) == (
        demo.creuse,
        S.DRAFT,
        porteur,
    )
    page = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_missing_fields_are_french_form_errors_and_nothing_saved(demo, client):
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    before = ChangeRequest.objects.count()

    response = client.post(reverse("evolutions:create"), {"title": ""})

    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    assert ChangeRequest.objects.count() == before


def test_submitting_a_draft_puts_it_in_the_cnaf_queue(demo, client):
    draft = _ours(demo).get(status=S.DRAFT)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(reverse("evolutions:submit", args=[draft.pk]))

    assert response.status_code == 302
    queue = Task.objects.user_queue(demo.user("cnaf.contact"), flow_class=EvolutionFlow)
    assert queue.filter(process__evolutionprocess__change_request=draft).exists()
    again = client.post(reverse("evolutions:submit", args=[draft.pk]))
    assert again.status_code == 409
    assert "Soumise" in again.content.decode()


def test_only_the_porteur_submits_and_creates(demo, client):
    draft = _ours(demo).get(status=S.DRAFT)

    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))
    assert client.post(reverse("evolutions:submit", args=[draft.pk])).status_code == 403
    client.force_login(demo.client_user(demo.creuse, Role.DSI_CLIENT))
    assert client.get(reverse("evolutions:create")).status_code == 403
    assert ChangeRequest.objects.get(pk=draft.pk).status == S.DRAFT


def test_withdrawal_needs_a_reason(demo, client):
    cr = _ours(demo).get(status=S.SPEC_REVIEW)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    url = reverse("evolutions:withdraw", args=[cr.pk])

    empty = client.post(url, {"reason": "  "})
    assert empty.status_code == 200
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.SPEC_REVIEW

    done = client.post(url, {"reason": "Priorités revues."})
    assert done.status_code == 302
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.WITHDRAWN


def test_client_cannot_decline_and_supplier_cannot_withdraw(demo, client):
    cr = _ours(demo).get(status=S.IN_STUDY)

    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    refused = client.post(reverse("evolutions:decline", args=[cr.pk]), {"reason": "x"})
    client.force_login(demo.user("cnaf.contact"))
    refused_too = client.post(
        reverse("evolutions:withdraw", args=[cr.pk]), {"reason": "x"}
    )

    assert (refused.status_code, refused_too.status_code) == (403, 403)
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.IN_STUDY


def test_withdrawal_after_manufacture_started_is_refused(demo, client):
    cr = _ours(demo).get(status=S.IN_MANUFACTURE)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(
        reverse("evolutions:withdraw", args=[cr.pk]), {"reason": "Trop tard ?"}
    )

    assert response.status_code == 409
    assert "En fabrication" in response.content.decode()


def _drafts(world, count):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    for index in range(count):
        services.change_request_create(
            by=porteur,
            organisation=world.creuse,
            title=f"Besoin {index}",
            kind="technique",
            data_flows=["DSG"],
            description="x",
        )


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("cd23.porteur", "/evolutions/"),
        ("cnaf.contact", "/evolutions/"),
        ("cd23.porteur", "/"),
        ("cnaf.contact", "/"),
        ("cnaf.contact", "/evolutions/versions/"),
    ],
)
def test_list_pages_cost_the_same_queries_with_5_and_50_requests(
    world, client, django_assert_num_queries, username, url
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.user(username))
    counts = []
    for total in (5, 50):
        _drafts(world, total - ChangeRequest.objects.count())
        for cr in ChangeRequest.objects.filter(status=S.DRAFT)[:total]:
            services.change_request_submit(pk=cr.pk, by=cr.request_owner)
        client.get(url)  # warm caches (content types, sessions)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


def test_messages_are_posted_escaped_and_scoped(demo, client):
    cr = _ours(demo).get(status=S.IN_STUDY)
    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))

    posted = client.post(
        reverse("evolutions:comment", args=[cr.pk]), {"body": "<i>Bonjour</i>"}
    )
    empty = client.post(reverse("evolutions:comment", args=[cr.pk]), {"body": " "})
    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    foreign = client.post(reverse("evolutions:comment", args=[cr.pk]), {"body": "x"})

    assert (posted.status_code, empty.status_code, foreign.status_code) == (
        302,
        400,
        404,
    )
    assert [c.body for c in cr.comments.all()] == ["<i>Bonjour</i>"]
    client.force_login(demo.user("cnaf.contact"))
    page = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()
    assert "&lt;i&gt;Bonjour&lt;/i&gt;" in page


def test_detail_page_query_count_is_bounded(
    demo, client, django_assert_max_num_queries
):
    cr = _ours(demo).get(status=S.IN_ACCEPTANCE)
    client.force_login(demo.user("cnaf.contact"))

    with django_assert_max_num_queries(20):
        response = client.get(reverse("evolutions:detail", args=[cr.pk]))

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("username", "status", "expected"),
    [
        ("cd23.porteur", S.DRAFT, {"edit", "submit", "withdraw", "attach"}),
        ("cd23.porteur", S.QUOTE_REVIEW, {"withdraw", "attach"}),
        ("cd23.porteur", S.IN_MANUFACTURE, {"attach"}),
        ("cd23.testeur", S.QUOTE_REVIEW, set()),
        ("cnaf.contact", S.QUOTE_REVIEW, {"decline", "attach"}),
        ("cnaf.moe", S.WITHDRAWN, set()),
    ],
)
def test_page_offers_only_the_actions_the_services_allow(
    demo, username, status, expected
):
    cr = _ours(demo).get(status=status)

    assert services.allowed_actions(demo.user(username), cr) == expected


def test_supplier_does_not_see_drafts(demo, client):
    draft = _ours(demo).get(status=S.DRAFT)
    client.force_login(demo.user("cnaf.contact"))

    assert client.get(reverse("evolutions:detail", args=[draft.pk])).status_code == 404
    listing = client.get(reverse("evolutions:index"), {"status": S.DRAFT})
    assert listing.context["page"].paginator.count == 0


def test_pages_are_available_in_english(demo, client):
    cr = _ours(demo).get(status=S.QUOTE_REVIEW)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    client.cookies["django_language"] = "en"

    listing = client.get(reverse("evolutions:index")).content.decode()
    detail = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()

    assert "Change requests" in listing and "Demandes d'évolution" not in listing
    assert "History" in detail and "Historique" not in detail


def test_supplier_declines_through_the_page_with_a_reason(demo, client):
    cr = _ours(demo).get(status=S.QUOTE_PREPARATION)
    client.force_login(demo.user("cnaf.commande"))
    url = reverse("evolutions:decline", args=[cr.pk])

    assert client.post(url, {"reason": ""}).status_code == 200
    response = client.post(url, {"reason": "Hors du périmètre du contrat."})

    cr = ChangeRequest.objects.get(pk=cr.pk)
    assert response.status_code == 302
    assert (cr.status, cr.closing_reason) == (
        S.DECLINED,
        "Hors du périmètre du contrat.",
    )
    assert cr.process.status == "CANCELED"


def test_porteur_edits_a_draft_then_submits_it(demo, client):
    draft = _ours(demo).get(status=S.DRAFT)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    edited = client.post(
        reverse("evolutions:edit", args=[draft.pk]),
        {
            "title": "Intitulé revu",
            "kind": "technique",
            "data_flows": ["SGR"],
            "description": "Précisé.",
            "wished_date": "2027-06-30",
        },
    )
    submitted = client.post(reverse("evolutions:submit", args=[draft.pk]))

    cr = ChangeRequest.objects.get(pk=draft.pk)
    assert (edited.status_code, submitted.status_code) == (302, 302)
    assert (cr.title, cr.data_flows, cr.status) == (
        "Intitulé revu",
        ["SGR"],
        S.SUBMITTED,
    )
    refused = client.post(
        reverse("evolutions:edit", args=[draft.pk]),
        {"title": "Encore", "kind": "technique", "data_flows": ["SGR"],
         "description": "x"},
    )  # fmt: skip
    assert refused.status_code == 200
    assert "ne peut plus être modifiée" in html.unescape(refused.content.decode())
    assert ChangeRequest.objects.get(pk=draft.pk).title == "Intitulé revu"


def test_client_opens_its_own_process_pages(demo, client):
    cr = _ours(demo).get(status=S.QUOTE_REVIEW)
    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))

    # viewflow's process page leads to the request's; its chart stays.
    response = client.get(f"/taches-evolutions/{cr.process.pk}/")
    assert (response.status_code, response.url) == (302, cr.get_absolute_url())
    assert client.get(f"/taches-evolutions/{cr.process.pk}/chart/").status_code == 200
    archive = client.get("/taches-evolutions/archive/", follow=True)
    assert archive.redirect_chain == [("/?processus=taches-evolutions", 302)]


def test_administrator_manages_releases_and_deadlines(demo, client):
    client.force_login(demo.user("cnaf.admin"))

    assert client.get(reverse("admin:evolutions_release_add")).status_code == 200
    assert client.get(reverse("admin:workflow_stepdeadline_add")).status_code == 200
    client.force_login(demo.user("cnaf.commande"))
    assert client.get(reverse("admin:evolutions_release_add")).status_code == 302


def test_task_lists_name_the_request_with_its_title_escaped(world, client):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    cr = services.change_request_create(
        by=porteur,
        organisation=world.creuse,
        title="<b>Flux</b> & contrôles",
        kind="technique",
        data_flows=["DSG"],
        description="x",
    )
    services.change_request_submit(pk=cr.pk, by=porteur)
    client.force_login(world.user("cnaf.contact"))

    page = client.get("/").content.decode()

    assert f"{cr.reference} – &lt;b&gt;Flux&lt;/b&gt; &amp; contrôles" in page
    assert "<b>Flux</b>" not in page
    # Each row names the step in French (not "#12/345").
    assert "Prendre en compte la demande" in page


def test_request_in_acceptance_shows_its_acceptance_step(demo, client):
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(porteur)
    cr = ChangeRequest.objects.filter(
        organisation=demo.creuse, status=S.IN_ACCEPTANCE, recette_process__isnull=False
    ).first()
    waiting = Task.objects.filter(
        process__recetteprocess__change_request=cr,
        flow_task_type="HUMAN",
        status__in=["NEW", "ASSIGNED"],
    )
    assert waiting.exists()

    page = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()

    assert "Aucune action en attente." not in page
    for task in waiting:
        # Named; a link only for its holder (the others reach it from « Mes
        # tâches »).
        assert str(task.flow_task.task_title) in page
        execute = task.flow_task.reverse("execute", args=[task.process_id, task.pk])
        assert (f'href="{execute}"' in page) == (task.owner_id == porteur.pk)


def test_the_page_compiled_once_still_answers_each_user_and_request_its_own(
    demo, client
):
    """The page's statements are compiled once (workflow.statements.shaped):
    each user still sees by their own rules, each request its own rows."""
    ours = _ours(demo, "23")
    draft = ours.get(status=S.DRAFT)
    reviewed = ours.get(status=S.QUOTE_REVIEW)
    url = reverse("evolutions:detail", args=[reviewed.pk])
    client.force_login(demo.user("cd23.porteur"))
    first = client.get(url)
    assert first.status_code == 200
    assert client.get(reverse("evolutions:detail", args=[draft.pk])).status_code == 200

    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    assert client.get(url).status_code == 404
    client.force_login(demo.user("cnaf.contact"))
    assert client.get(reverse("evolutions:detail", args=[draft.pk])).status_code == 404
    supplier = client.get(url)
    assert supplier.status_code == 200

    # Another request's page: its own history, quotes and tasks, not the first's.
    for page, request in ((first, reviewed), (supplier, reviewed)):
        assert page.context["change_request"] == request
        assert [h.pk for h in page.context["history"]] == [
            h.pk for h in history_of(request)
        ]
        assert {q.change_request_id for q in page.context["quotes"]} == {request.pk}
    submitted = ours.exclude(pk=reviewed.pk).exclude(status=S.DRAFT).first()
    page = client.get(reverse("evolutions:detail", args=[submitted.pk]))
    assert page.context["change_request"] == submitted
    assert [h.pk for h in page.context["history"]] == [
        h.pk for h in history_of(submitted)
    ]
    assert all(q.change_request_id == submitted.pk for q in page.context["quotes"])
    assert [task.pk for task, *_ in page.context["tasks"]] == [
        task.pk for task in open_tasks_of(submitted)
    ]
