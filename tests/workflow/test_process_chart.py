"""The process chart inside the shell, and the links between a request and its
acceptance both ways."""

from django.urls import reverse

from evolutions.models import ChangeRequest


def _in_acceptance():
    return ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )


def test_the_chart_is_a_page_of_the_shell_with_its_steps_and_way_back(demo, client):
    cr = _in_acceptance()
    url = reverse("process_chart", args=["taches-evolutions", cr.process.pk])
    client.force_login(demo.user("cd23.porteur"))

    page = client.get(url)

    html = page.content.decode()
    assert page.status_code == 200
    assert "tandem/page.html" in [t.name for t in page.templates]
    assert reverse("taches-evolutions:process_chart", args=[cr.process.pk]) in html
    assert f'href="{cr.get_absolute_url()}"' in html
    assert "Faite" in html  # the steps already taken, as text
    assert [t.flow_task_type for t in page.context["steps"]] == ["HUMAN"] * len(
        page.context["steps"]
    )


def test_another_client_gets_no_chart(demo, client):
    cr = _in_acceptance()
    client.force_login(demo.user("cd57.porteur"))

    for url in (
        reverse("process_chart", args=["taches-evolutions", cr.process.pk]),
        reverse("process_chart", args=["taches-recettes", cr.recette_process.pk]),
        reverse("process_chart", args=["inconnu", cr.process.pk]),
    ):
        assert client.get(url).status_code == 404


def test_a_request_links_to_its_acceptance_and_back(demo, client):
    cr = _in_acceptance()
    draft = ChangeRequest.objects.filter(
        organisation__code="23", acceptance_plan__isnull=True
    ).first()
    client.force_login(demo.user("cd23.porteur"))

    request_page = client.get(reverse("evolutions:detail", args=[cr.pk]))
    other = client.get(reverse("evolutions:detail", args=[draft.pk]))
    acceptance = client.get(reverse("recettes:detail", args=[cr.pk]))

    link = reverse("recettes:detail", args=[cr.pk])
    assert f'href="{link}"' in request_page.content.decode()
    assert "/recettes/" not in other.content.decode().split("<main", 1)[1]
    html = acceptance.content.decode()
    assert f'href="{cr.get_absolute_url()}"' in html
    chart = reverse("process_chart", args=["taches-recettes", cr.recette_process.pk])
    assert f'href="{chart}"' in html
