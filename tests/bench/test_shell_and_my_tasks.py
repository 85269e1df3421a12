"""The bench's two measures of issue 16: the shell's own cost (an empty page in
tandem/page.html, bench/pages.py) and « Mes tâches » against its floor, the rows
read from viewflow's task table (bench/floors.py). Timings belong to `make bench`;
these tests check what is measured."""

import json

import pytest
from django.test import RequestFactory
from django.urls import reverse

from bench import floors, report
from evolutions.demo import evolutions_demo_load
from recette.demo import recette_demo_load
from workflow import mytasks


@pytest.fixture
def bench_urls(settings):
    """bench/urls.py, as bench/settings.py mounts it."""
    settings.ROOT_URLCONF = "bench.urls"


@pytest.fixture
def demo(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    recette_demo_load()
    return world


def test_the_shell_page_is_tandems_shell_around_an_empty_body(
    world, client, bench_urls
):
    client.force_login(world.user("cd23.porteur"))

    response = client.get(reverse("bench_shell"))

    assert response.status_code == 200
    assert "tandem/page.html" in [t.name for t in response.templates]
    # The context processors ran: the menu and the unread count.
    assert response.context["unread_notifications"] == 0
    assert response.context["shell_menu"][0]["url"] == "/"
    main = response.content.decode().split('<main id="contenu"', 1)[1]
    assert '<h1 class="tandem-title"></h1>' in main.split("</main>", 1)[0]


def test_the_shell_page_is_not_a_url_of_the_product(world, client):
    client.force_login(world.user("cd23.porteur"))

    assert client.get("/_bench/shell/").status_code == 404


@pytest.mark.parametrize("username", ["cnaf.commande", "cd23.porteur"])
@pytest.mark.parametrize(
    "floor", [floors.my_tasks_view, floors.my_tasks_task_table_view]
)
def test_the_my_tasks_floors_read_the_tasks_the_page_lists(demo, username, floor):
    user = demo.user(username)
    request = RequestFactory().get("/")
    request.user = user

    answer = json.loads(floor(user)(request).content)

    page = mytasks.my_tasks(user)
    assert answer["count"] == page.count > 0
    assert page.count <= floors.MY_TASKS_PAGE_SIZE == mytasks.PAGE_SIZE
    assert {row[1] for row in answer["rows"]} == {row.pk for row in page.page}


@pytest.mark.parametrize("username", ["cnaf.commande", "cd23.porteur"])
def test_the_my_tasks_floor_answers_what_the_page_shows(demo, username):
    """Like for like: the floor reads, for each task, the subject and the
    organisation the page prints."""
    user = demo.user(username)
    request = RequestFactory().get("/")
    request.user = user

    answer = json.loads(floors.my_tasks_view(user)(request).content)

    shown = {
        row.pk: (row.reference, row.title, row.organisation.code, row.organisation.name)
        for row in mytasks.my_tasks(user).page
    }
    # created, pk, process, step, status, permission, then what the page shows:
    # reference, title, organisation code, kind, name.
    read = {row[1]: (row[6], row[7], row[8], row[10]) for row in answer["rows"]}
    assert read == shown


def test_my_tasks_is_held_to_the_page_ratio_and_the_shell_to_none():
    row = {
        "tier": "large",
        "queries": 15,
        "median_ms": 30.0,
        "floor_ms": 6.0,
        "ratio": 5.0,
        "rows": 50,
        "tasks": 375,
    }
    run = {"database": {"vendor": "postgresql"}}
    results = {
        "runs": {"large": run},
        "results": [
            {**row, "name": "my_tasks_order_owner", "kind": "page"},
            {**row, "name": "shell", "kind": "shell"},
            {**row, "name": "my_tasks_order_owner_vs_task_table", "kind": "comparison"},
        ],
    }

    checks = report.targets(results)

    assert [(c["name"], c["target"], c["met"], c["official"]) for c in checks] == [
        ("my_tasks_order_owner", f"ratio ≤ {report.PAGE_RATIO}", False, True)
    ]
    assert checks[0]["missed_by"] == "+150 %"
