"""« Mes tâches », the home page (workflow/mytasks.py): every task a user may do
now in every process, scoped, with its deadline in words; taking a waiting task in
one click and giving it back."""

import re
from datetime import date, timedelta
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Membership, Role
from evolutions import services
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest
from incidents.flows import IncidentFlow
from recette.flows import RecetteFlow
from workflow import deadlines, flowviews, mytasks
from workflow.calendars import working_days_between
from workflow.demo import complete_open_task
from workflow.flowviews import SCOPED_FLOWS, ScopedFlowMixin
from workflow.mytasks import deadline_text, working_days_left

S = ChangeRequest.Status


def _home(client, user, query=None):
    client.force_login(user)
    response = client.get(reverse("index"), query or {})
    assert response.status_code == 200
    return response


def _rows(response) -> list:
    return list(response.context["tasks"].page)


def _pks(response) -> set[int]:
    return {row.pk for row in _rows(response)}


def _organisation_code(task) -> str:
    return task.process.coerced.subject.organisation.code


def _expected(user, codes) -> set[int]:
    """viewflow's inbox and queue rules read directly from the task table: the
    tasks assigned to the user, and those waiting for one of their permissions,
    of the organisations `codes`."""
    tasks = Task.objects.filter(flow_task_type="HUMAN").filter(
        Q(status=STATUS.ASSIGNED, owner=user)
        | Q(status=STATUS.NEW, owner_permission__in=user.get_all_permissions())
    )
    return {task.pk for task in tasks if _organisation_code(task) in codes}


def _waiting_review_quote(code="23") -> Task:
    """The demo request of `code` whose quote waits for its porteur."""
    return Task.objects.get(
        flow_task=EvolutionFlow.review_quote,
        status=STATUS.NEW,
        process__evolutionprocess__change_request__organisation__code=code,
    )


def _open_url(task, flow=EvolutionFlow) -> str:
    return reverse("task_open", args=[flow.url_name, task.pk])


def _give_back_url(task, flow=EvolutionFlow) -> str:
    return reverse("task_give_back", args=[flow.url_name, task.pk])


def _execute_url(task) -> str:
    return task.flow_task.reverse("execute", args=[task.process_id, task.pk])


def _second_porteur(world):
    """Another porteur de la demande of client 23."""
    user = get_user_model().objects.create_user(
        "cd23.porteur2", first_name="Anne", last_name="Roux"
    )
    Membership.objects.create(
        user=user, organisation=world.creuse, role=Role.PORTEUR_DEMANDE
    )
    return user


def _text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


# --- The flows the engine reads ------------------------------------------------------


def test_the_process_flows_are_recorded_in_definition_order():
    assert [EvolutionFlow, RecetteFlow, IncidentFlow] == SCOPED_FLOWS
    assert flowviews.flow_named("taches-recettes") is RecetteFlow
    assert flowviews.flow_named("inconnu") is None


def test_a_flow_defined_again_takes_its_former_place(monkeypatch):
    monkeypatch.setattr(flowviews, "SCOPED_FLOWS", [])

    class First(ScopedFlowMixin):
        url_name = "taches-premieres"

    class Second(ScopedFlowMixin):
        url_name = "taches-secondes"

    class Abstract(ScopedFlowMixin):  # no pages of its own: not a process
        pass

    class FirstAgain(ScopedFlowMixin):
        url_name = "taches-premieres"

    assert [FirstAgain, Second] == flowviews.SCOPED_FLOWS
    assert Abstract not in flowviews.SCOPED_FLOWS


def test_each_flow_declares_the_path_to_its_subject(demo):
    for flow in SCOPED_FLOWS:
        process = flow.process_class._default_manager.first()
        assert process is not None, flow
        path = flow.subject_lookup.split("__")
        reached = process
        for part in path:
            reached = getattr(reached, part)
        assert reached == process.subject
        assert isinstance(process.subject, flow.subject_model())


def test_the_rows_links_are_those_reverse_gives(demo, client):
    """The list fills in URL patterns reversed once: each link must be the one
    Django and viewflow would have given for that row."""
    rows = _rows(_home(client, demo.user("cd23.porteur")))

    assert {row.flow for row in rows} == {EvolutionFlow, RecetteFlow}
    for row in rows:
        task = Task.objects.get(pk=row.pk)
        subject = ChangeRequest.objects.get(reference=row.reference)
        assert row.execute_url == _execute_url(task)
        assert row.open_url == _open_url(task, row.flow)
        assert row.give_back_url == _give_back_url(task, row.flow)
        assert row.subject_url == subject.get_absolute_url()
        assert (row.title, row.organisation) == (subject.title, subject.organisation)


def test_what_users_typed_is_escaped_in_the_rows(demo, client):
    task = _waiting_review_quote("23")
    subject = task.process.coerced.subject
    hostile = '<img src=x onerror="alert(1)"> & « guillemets »'
    ChangeRequest.objects.filter(pk=subject.pk).update(title=hostile)

    response = _home(client, demo.user("cd23.porteur"))

    page = response.content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; « guillemets »" in page


def test_the_queues_ask_no_table_of_django_permissions(demo, client):
    """The role permissions come from the memberships the shell already read:
    « Mes tâches » asks nothing of Django's user and group permission tables."""
    client.force_login(demo.user("cd23.porteur"))

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("index"))

    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "auth_permission" not in read and "auth_group" not in read


# --- Who sees what -------------------------------------------------------------------


def test_a_porteur_sees_the_tasks_waiting_for_their_role(demo, client):
    porteur = demo.user("cd23.porteur")

    response = _home(client, porteur)

    rows = _rows(response)
    assert _pks(response) == _expected(porteur, {"23"})
    assert len(rows) >= 5
    assert {row.flow for row in rows} == {EvolutionFlow, RecetteFlow}
    assert all(not row.mine and row.organisation == demo.creuse for row in rows)
    page = _text(response)
    assert "<h1" in page and "Mes tâches</h1>" in page
    assert "Mener la campagne de tests" in page  # a step of RecetteFlow
    assert "Accepter ou refuser le devis" in page
    assert "À prendre" in page and "À vous" not in page
    assert f"{len(rows)} tâches à faire" in page
    assert "EVO-57-" not in page


def test_the_order_owner_sees_the_tasks_assigned_to_him_for_every_client(demo, client):
    commande = demo.user("cnaf.commande")

    response = _home(client, commande)

    rows = _rows(response)
    assert _pks(response) == _expected(commande, {"23", "57"})
    assert {row.organisation.code for row in rows} == {"23", "57"}
    assert rows and all(row.mine for row in rows)
    owners = Task.objects.filter(pk__in=_pks(response)).values_list("owner", flat=True)
    assert set(owners) == {commande.pk}
    page = _text(response)
    assert "Établir le devis" in page and "Rédiger le cahier des charges" in page
    assert "Rendre la tâche" in page


def test_another_clients_tasks_never_appear(demo, client):
    moselle = demo.user("cd57.porteur")
    # Even a task of client 23 carrying client 57's permission (never made by the
    # flows) stays out: the list is scoped by the process's organisation.
    forged = _waiting_review_quote("23")
    Task.objects.filter(pk=forged.pk).update(
        owner_permission="roles.porteur_demande_57"
    )

    response = _home(client, moselle, {"organisme": "23"})  # ignored: not theirs

    assert _pks(response) == _expected(moselle, {"57"})
    assert forged.pk not in _pks(response)
    assert {row.organisation.code for row in _rows(response)} == {"57"}
    assert "EVO-23-" not in response.content.decode()
    assert response.context["tasks"].count == len(_expected(moselle, {"57"}))
    client.force_login(moselle)
    assert client.post(_open_url(forged)).status_code == 404


def test_a_user_without_tasks_is_told_so(demo, client):
    response = _home(client, demo.user("cnaf.admin"))

    page = _text(response)
    assert "Aucune tâche ne vous attend." in page
    assert "<table" not in page
    assert "Vos organismes et vos rôles" in page  # what was there stays below


def test_the_table_is_in_its_own_scrolling_region_with_a_caption(demo, client):
    page = _home(client, demo.user("cd23.porteur")).content.decode()

    assert re.search(
        r'<div class="tandem-table-scroll[^"]*" role="region" aria-label="[^"]+" '
        r'tabindex="0"><table',
        page,
    )
    assert "<caption>" in page
    assert page.index("Mes tâches</h1>") < page.index("<table")
    assert page.index("</table>") < page.index("Vos organismes et vos rôles")


# --- Deadlines in words --------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "today", "departement", "left", "text"),
    [
        (date(2026, 6, 5), date(2026, 6, 1), None, 4, "dans 4 jours ouvrés"),
        (date(2026, 6, 2), date(2026, 6, 1), None, 1, "dans 1 jour ouvré"),
        (date(2026, 6, 5), date(2026, 6, 5), None, 0, "aujourd'hui"),
        # Due on a Friday, read on Saturday: late, by less than a working day.
        (date(2026, 6, 5), date(2026, 6, 6), None, -1, "en retard de 1 jour ouvré"),
        (date(2026, 6, 5), date(2026, 6, 10), None, -3, "en retard de 3 jours ouvrés"),
        # Good Friday is a public holiday in Moselle only; Easter Monday everywhere.
        (date(2026, 4, 2), date(2026, 4, 7), "23", -2, "en retard de 2 jours ouvrés"),
        (date(2026, 4, 2), date(2026, 4, 7), "57", -1, "en retard de 1 jour ouvré"),
        (date(2026, 4, 7), date(2026, 4, 2), "57", 1, "dans 1 jour ouvré"),
    ],
)
def test_a_deadline_is_said_in_working_days(due, today, departement, left, text):
    assert working_days_left(due, today, departement) == left
    assert deadline_text(left) == text


def test_no_deadline_is_said_too():
    assert deadline_text(None) == "sans échéance"


def test_an_overdue_task_says_by_how_many_working_days(demo, client):
    task = _waiting_review_quote("23")
    created = timezone.now() - timedelta(days=40)
    Task.objects.filter(pk=task.pk).update(created=created)
    task.refresh_from_db()
    due = deadlines.task_due_date(task)
    late = working_days_between(due, timezone.localdate(), "23")
    assert late > 1

    response = _home(client, demo.user("cd23.porteur"))

    row = next(r for r in _rows(response) if r.pk == task.pk)
    assert (row.due, row.days_left, row.overdue) == (due, -late, True)
    expected = f"en retard de {late} jours ouvrés"
    page = _text(response)
    # Said in words (not colour alone), first of the list: the most urgent.
    assert f'<strong class="tandem-overdue">{expected}</strong>' in page
    assert _rows(response)[0].pk == task.pk
    assert f'<time datetime="{due.isoformat()}">' in page


def test_a_task_due_later_says_in_how_many_working_days(demo, client):
    task = _waiting_review_quote("23")
    due = deadlines.task_due_date(task)
    ahead = working_days_between(timezone.localdate(), due, "23")

    response = _home(client, demo.user("cd23.porteur"))

    row = next(r for r in _rows(response) if r.pk == task.pk)
    assert row.days_left == ahead == EvolutionFlow.deadlines["review_quote"]
    assert row.deadline == f"dans {ahead} jours ouvrés"


# --- Sort and filters ------------------------------------------------------------


def _dues(response) -> list[date]:
    return [row.due for row in _rows(response)]


def test_the_most_urgent_come_first_unless_asked_otherwise(demo, client):
    porteur = demo.user("cd23.porteur")

    urgent_first = _dues(_home(client, porteur))
    urgent_last = _dues(_home(client, porteur, {"tri": "-echeance"}))

    assert len(set(urgent_first)) > 1
    assert urgent_first == sorted(urgent_first)
    assert urgent_last == sorted(urgent_first, reverse=True)
    page = _text(_home(client, porteur, {"tri": "-echeance"}))
    assert 'aria-sort="descending"' in page


def test_the_list_filters_by_process_and_by_organisation(demo, client):
    commande, porteur = demo.user("cnaf.commande"), demo.user("cd23.porteur")

    recettes = _rows(_home(client, porteur, {"processus": "taches-recettes"}))
    moselle = _rows(_home(client, commande, {"organisme": "57"}))
    both = _home(client, commande, {"organisme": "57", "processus": "taches-recettes"})

    assert recettes and {row.flow for row in recettes} == {RecetteFlow}
    assert moselle and {row.organisation.code for row in moselle} == {"57"}
    assert len(moselle) < len(_expected(commande, {"23", "57"}))
    assert _rows(both) == []
    assert "Aucune tâche ne correspond à ces filtres." in _text(both)


@pytest.mark.parametrize(
    "query",
    [
        {"processus": "<script>alert(1)</script>"},
        {"organisme": "99999"},
        {"tri": "n'importe quoi"},
        {"page": "-1"},
        {"page": "x" * 300, "tri": ["echeance", "<b>gras</b>"]},
    ],
)
def test_a_bad_filter_is_ignored_never_an_error(demo, client, query):
    commande = demo.user("cnaf.commande")

    response = _home(client, commande, query)

    assert _pks(response) == _expected(commande, {"23", "57"})
    page = response.content.decode()
    assert "<script>alert" not in page and "<b>gras" not in page
    if set(query) - {"page"}:
        assert "valeur inconnue, ignorée" in _text(response)


# --- What it costs ----------------------------------------------------------------


def _submitted_requests(world, n: int) -> None:
    porteur = world.user("cd23.porteur")
    for number in range(n):
        change_request = services.change_request_create(
            by=porteur,
            organisation=world.creuse,
            title=f"Demande supplémentaire {number}",
            kind=ChangeRequest.Kind.TECHNICAL,
            data_flows=["DSG"],
            description="Pour compter les requêtes.",
            expected_benefit="Aucun.",
        )
        services.change_request_submit(pk=change_request.pk, by=porteur)


def test_the_home_page_reads_a_bounded_number_of_queries(
    demo, client, django_assert_max_num_queries
):
    contact = demo.user("cnaf.contact")
    client.force_login(contact)
    client.get(reverse("index"))  # the session's first reads
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("index"))
    _submitted_requests(demo, 12)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("index"))

    assert len(_rows(response)) == len(_expected(contact, {"23", "57"})) >= 14
    assert len(few.captured_queries) <= 20


# --- Links of the porteur ---------------------------------------------------------


def test_a_porteur_gets_new_request_and_my_requests(demo, client):
    porteur = demo.user("cd23.porteur")

    page = _home(client, porteur).content.decode()

    create = reverse("evolutions:create")
    mine = f"{reverse('evolutions:index')}?owner={porteur.pk}"
    assert (
        f'<a class="tandem-button tandem-button--primary" href="{create}">'
        "Nouvelle demande</a>"
    ) in page
    assert f'<a class="tandem-button" href="{mine}">Mes demandes</a>' in page
    listed = client.get(mine)
    assert listed.context["filters"].cleaned_data["owner"] == porteur
    for other in ("cnaf.commande", "cd23.testeur"):
        assert (
            "Nouvelle demande" not in _home(client, demo.user(other)).content.decode()
        )


def test_a_home_link_is_declared_once_for_known_roles(monkeypatch):
    monkeypatch.setattr(mytasks, "_HOME_LINKS", [])
    mytasks.register_home_link("Essai", "evolutions:roadmap", ["testeur"])

    with pytest.raises(ValueError, match="déjà déclaré"):
        mytasks.register_home_link("Encore", "evolutions:roadmap", ["moe"])
    with pytest.raises(ValueError):
        mytasks.register_home_link("Rôle inconnu", "evolutions:index", ["pilote"])


# --- Taking a task in one click -----------------------------------------------------


def test_opening_a_waiting_task_takes_it_and_goes_to_its_page(
    demo, client, monkeypatch
):
    porteur, task = demo.user("cd23.porteur"), _waiting_review_quote("23")
    locked = []
    lock = EvolutionFlow.lock
    monkeypatch.setattr(
        EvolutionFlow, "lock", staticmethod(lambda pk: locked.append(pk) or lock(pk))
    )
    client.force_login(porteur)

    response = client.post(_open_url(task))

    assert (response.status_code, response.url) == (302, _execute_url(task))
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, porteur)
    assert task.assigned is not None
    assert locked == [task.process_id]  # under the flow's lock
    assert client.get(response.url).status_code == 200
    row = next(r for r in _rows(_home(client, porteur)) if r.pk == task.pk)
    assert row.mine


def test_the_list_offers_a_form_not_a_link_to_take_a_task(demo, client):
    task = _waiting_review_quote("23")

    page = _home(client, demo.user("cd23.porteur")).content.decode()

    assert f'<form method="post" action="{_open_url(task)}">' in page
    assert f'href="{_open_url(task)}"' not in page


def test_opening_ones_own_task_just_opens_it(demo, client):
    porteur, task = demo.user("cd23.porteur"), _waiting_review_quote("23")
    client.force_login(porteur)
    client.post(_open_url(task))

    again = client.post(_open_url(task))

    assert (again.status_code, again.url) == (302, _execute_url(task))
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, porteur)


def test_a_get_changes_nothing(demo, client):
    task = _waiting_review_quote("23")
    client.force_login(demo.user("cd23.porteur"))

    assert client.get(_open_url(task)).status_code == 405
    assert client.get(_give_back_url(task)).status_code == 405

    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)


def test_a_task_taken_by_someone_else_says_by_whom_and_when(demo, client):
    task = _waiting_review_quote("23")
    first, second = demo.user("cd23.porteur"), _second_porteur(demo)
    client.force_login(first)
    client.post(_open_url(task))
    task.refresh_from_db()

    client.force_login(second)
    response = client.post(_open_url(task))

    assert response.status_code == 409
    when = timezone.localtime(task.assigned)
    expected = (
        f"Cette tâche a été prise par Julie Bernard le "
        f"{date_format(when, 'DATE_FORMAT')} à {date_format(when, 'TIME_FORMAT')}."
    )
    page = _text(response)
    assert expected in page
    change_request = task.process.coerced.subject
    assert f'href="{change_request.get_absolute_url()}"' in page
    task.refresh_from_db()
    assert task.owner == first


def test_a_task_already_done_says_by_whom_and_when(demo, client):
    task = _waiting_review_quote("23")
    first, second = demo.user("cd23.porteur"), _second_porteur(demo)
    change_request = task.process.coerced.subject
    client.force_login(second)
    home = _home(client, second)  # the task is on the second porteur's screen…
    assert task.pk in _pks(home)
    complete_open_task(  # … when the first one decides
        EvolutionFlow.review_quote,
        first,
        lambda: services.quote_decide(pk=change_request.pk, by=first, accepted=True),
        evolutionprocess__change_request=change_request,
    )
    task.refresh_from_db()

    response = client.post(_open_url(task))

    assert response.status_code == 409
    when = timezone.localtime(task.finished)
    assert (
        f"Cette tâche a déjà été traitée par Julie Bernard le "
        f"{date_format(when, 'DATE_FORMAT')} à {date_format(when, 'TIME_FORMAT')}."
    ) in _text(response)
    assert f'href="{change_request.get_absolute_url()}"' in response.content.decode()


@pytest.mark.parametrize("username", ["cd57.porteur", "cnaf.admin"])
def test_a_task_of_another_client_is_not_found(demo, client, username):
    task = _waiting_review_quote("23")
    client.force_login(demo.user(username))

    assert client.post(_open_url(task)).status_code == 404
    assert client.post(_give_back_url(task)).status_code == 404
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)


def test_a_task_of_a_role_the_user_lacks_is_refused(demo, client):
    task = _waiting_review_quote("23")
    client.force_login(demo.user("cnaf.contact"))  # sees client 23, not its porteur

    assert client.post(_open_url(task)).status_code == 403
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)


def test_an_unknown_flow_or_a_task_nobody_does_is_not_found(demo, client):
    task = _waiting_review_quote("23")
    start = Task.objects.get(process=task.process, flow_task=EvolutionFlow.start)
    client.force_login(demo.user("cd23.porteur"))

    assert client.post(_open_url(task, flow=RecetteFlow)).status_code == 404
    assert (
        client.post(reverse("task_open", args=["inconnu", task.pk])).status_code == 404
    )
    assert client.post(_open_url(start)).status_code == 404


# --- Giving it back -------------------------------------------------------------------


def test_giving_a_task_back_leaves_it_waiting_again(demo, client):
    porteur, task = demo.user("cd23.porteur"), _waiting_review_quote("23")
    client.force_login(porteur)
    client.post(_open_url(task))

    response = client.post(_give_back_url(task), follow=True)

    assert response.redirect_chain == [(reverse("index"), 302)]
    task.refresh_from_db()
    assert (task.status, task.owner, task.assigned) == (STATUS.NEW, None, None)
    assert "Vous avez rendu la tâche « Accepter ou refuser le devis »" in _text(
        response
    )
    row = next(r for r in _rows(response) if r.pk == task.pk)
    assert not row.mine
    again = client.post(_give_back_url(task))
    assert again.status_code == 409
    assert "Cette tâche ne vous est plus attribuée" in _text(again)


def test_only_the_holder_gives_a_task_back(demo, client):
    task = _waiting_review_quote("23")
    first, second = demo.user("cd23.porteur"), _second_porteur(demo)
    client.force_login(first)
    client.post(_open_url(task))

    client.force_login(second)  # same role, not the holder
    taken = client.post(_give_back_url(task))
    client.force_login(demo.user("cnaf.contact"))  # not even the role
    refused = client.post(_give_back_url(task))

    assert (taken.status_code, refused.status_code) == (409, 403)
    assert "Cette tâche a été prise par Julie Bernard" in _text(taken)
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, first)


def test_the_order_owner_gives_back_a_task_the_flow_assigned_him(demo, client):
    commande = demo.user("cnaf.commande")
    task = Task.objects.filter(
        flow_task=EvolutionFlow.write_quote, status=STATUS.ASSIGNED, owner=commande
    ).first()
    client.force_login(commande)

    assert client.post(_give_back_url(task)).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.NEW, None)
    # Back in his list as waiting for his role, and his to take again.
    assert not next(r for r in _rows(_home(client, commande)) if r.pk == task.pk).mine
    assert client.post(_open_url(task)).url == _execute_url(task)


# --- The list's statement, compiled once per user's conditions -------------------


def test_the_list_is_compiled_once_per_users_conditions(demo, client, monkeypatch):
    from workflow import statements

    monkeypatch.setattr(statements, "_COMPILED", {})
    compiled = []
    original = statements._Compiled.__init__

    def counting(self, queryset, connection):
        compiled.append(queryset)
        original(self, queryset, connection)

    monkeypatch.setattr(statements._Compiled, "__init__", counting)
    porteur, moselle = demo.user("cd23.porteur"), demo.user("cd57.porteur")

    first = _pks(_home(client, porteur))
    assert _pks(_home(client, porteur)) == first
    assert len(compiled) == 1
    assert _pks(_home(client, moselle)) == _expected(moselle, {"57"})
    assert len(compiled) == 2
    # Kept within its bound: the oldest goes first.
    monkeypatch.setattr(statements, "COMPILED_MAX", 2)
    _home(client, demo.user("cnaf.commande"))
    assert len(statements._COMPILED) == 2
    assert _pks(_home(client, moselle)) == _expected(moselle, {"57"})
    assert len(compiled) == 3  # moselle's was still kept
    assert _pks(_home(client, porteur)) == first
    assert len(compiled) == 4  # porteur's had gone


def test_a_role_given_or_taken_changes_the_list_at_once(demo, client):
    porteur = demo.user("cd23.porteur")
    assert _pks(_home(client, porteur)) == _expected(porteur, {"23"})

    given = Membership.objects.create(
        user=porteur, organisation=demo.moselle, role=Role.PORTEUR_DEMANDE
    )
    porteur = get_user_model().objects.get(pk=porteur.pk)  # permissions anew
    both = _pks(_home(client, porteur))
    assert both == _expected(porteur, {"23", "57"})
    assert both > _expected(porteur, {"23"})

    given.delete()
    porteur = get_user_model().objects.get(pk=porteur.pk)
    assert _pks(_home(client, porteur)) == _expected(porteur, {"23"})
