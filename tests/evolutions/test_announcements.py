"""Release announcements: written by the supplier, sent to every client's DSI and
webmaster, listed on the roadmap."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evolutions.models import Release, ReleaseAnnouncement
from workflow.models import Notification


@pytest.fixture
def release(db):
    today = timezone.localdate()
    return Release.objects.create(
        number="2099.1",
        recette_start=today + timedelta(days=30),
        recette_end=today + timedelta(days=60),
        production_date=today + timedelta(days=90),
    )


def _draft(client, release, kind="annonce_evolution"):
    return client.post(
        reverse("evolutions:announcement_new"),
        {
            "release": release.pk,
            "kind": kind,
            "title": "Nouveau format du flux DSG",
            "changes": "Deux champs s'ajoutent.",
            "schedule": "À la mise en production de la version.",
            "client_actions": "Mettre à jour l'import.",
        },
    )


def test_published_announcement_reaches_every_clients_dsi_and_webmaster(
    world, client, release
):
    client.force_login(world.user("cnaf.commande"))
    assert _draft(client, release).status_code == 302
    announcement = ReleaseAnnouncement.objects.get()

    client.post(reverse("evolutions:announcement_publish", args=[announcement.pk]))
    client.post(reverse("evolutions:announcement_publish", args=[announcement.pk]))

    rows = Notification.objects.filter(kind="announcement")
    assert {(n.organisation.code, n.recipient_email) for n in rows} == {
        ("23", "cd23.dsi@demo.tandem.invalid"),
        ("23", "webmaster.portail@cd23.demo.tandem.invalid"),
        ("57", "cd57.dsi@demo.tandem.invalid"),
        ("57", "webmaster.portail@cd57.demo.tandem.invalid"),
    }  # published twice: nothing more
    assert all("Nouveau format du flux DSG" in n.subject for n in rows)


def test_clients_read_published_announcements_but_cannot_write_them(
    world, client, release
):
    client.force_login(world.user("cnaf.commande"))
    _draft(client, release)
    client.force_login(world.user("cd57.porteur"))

    draft_hidden = client.get(reverse("evolutions:roadmap")).content.decode()
    assert "Nouveau format du flux DSG" not in draft_hidden
    assert _draft(client, release).status_code == 403
    announcement = ReleaseAnnouncement.objects.get()
    publish = reverse("evolutions:announcement_publish", args=[announcement.pk])
    assert client.post(publish).status_code == 403

    client.force_login(world.user("cnaf.contact"))
    client.post(publish)
    client.force_login(world.user("cd57.porteur"))
    assert (
        "Nouveau format du flux DSG"
        in client.get(reverse("evolutions:roadmap")).content.decode()
    )


def test_a_delivery_planning_change_is_announced_the_same_way(world, client, release):
    client.force_login(world.user("cnaf.commande"))
    _draft(client, release, kind="planning_livraisons")
    announcement = ReleaseAnnouncement.objects.get()
    client.post(reverse("evolutions:announcement_publish", args=[announcement.pk]))

    rows = Notification.objects.filter(kind="announcement")
    assert {n.recipient_email for n in rows} == {
        "cd23.dsi@demo.tandem.invalid",
        "webmaster.portail@cd23.demo.tandem.invalid",
        "cd57.dsi@demo.tandem.invalid",
        "webmaster.portail@cd57.demo.tandem.invalid",
    }
    assert all(n.subject.startswith("[Tandem] Planning des livraisons") for n in rows)
    client.force_login(world.user("cd23.dsi"))
    roadmap = client.get(reverse("evolutions:roadmap")).content.decode()
    assert "Planning des livraisons – Nouveau format du flux DSG" in roadmap
