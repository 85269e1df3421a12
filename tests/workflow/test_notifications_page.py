"""The in-app notifications page (workflow.views.notification_list): unread first,
read only on request (a POST), filtered by kind, each leading to its object and to
the task waiting for the user on it; only ever the user's own."""

from datetime import timedelta
from html import unescape

from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.flows import EvolutionFlow
from workflow.models import Notification

PAGE = reverse("notifications")
MARK_READ = reverse("notifications_mark_read")


def _notification(user, organisation, *, n=0, age=0, read=False, **fields):
    """One in-app notification of `user`, `age` minutes old."""
    created = timezone.now() - timedelta(minutes=age)
    values = {
        "event": f"essai:{user.pk}:{n}",
        "kind": "event",
        "organisation": organisation,
        "recipient_email": user.email or f"{user.username}@example.fr",
        "recipient_user": user,
        "subject": f"[Tandem] Message {n}",
        "body_text": "…",
        "body_html": "…",
        "created_at": created,
        "read_at": created if read else None,
        **fields,
    }
    return Notification.objects.create(**values)


def _page(client, user, query=None):
    client.force_login(user)
    response = client.get(PAGE, query or {})
    assert response.status_code == 200
    return response


def _shown(response) -> list[int]:
    return [row.notification.pk for row in response.context["page"]]


def test_unread_come_first_then_read_newest_first_within_each(world, client):
    user = world.user("cd23.porteur")
    Notification.objects.filter(recipient_user=user).delete()
    old_unread = _notification(user, world.creuse, n=1, age=50)
    new_read = _notification(user, world.creuse, n=2, age=1, read=True)
    new_unread = _notification(user, world.creuse, n=3, age=10)
    old_read = _notification(user, world.creuse, n=4, age=90, read=True)

    response = _page(client, user)

    assert _shown(response) == [new_unread.pk, old_unread.pk, new_read.pk, old_read.pk]
    page = response.content.decode()
    assert page.index("Message 3") < page.index("Message 1") < page.index("Message 2")
    assert '<th scope="col">État</th>' in page and "Non lue" in page


def test_opening_the_page_reads_nothing(world, client):
    user = world.user("cd23.porteur")
    Notification.objects.filter(recipient_user=user).delete()
    unread = _notification(user, world.creuse)

    _page(client, user)
    response = _page(client, user)

    unread.refresh_from_db()
    assert unread.read_at is None
    assert response.context["unread_notifications"] == 1
    assert "Tout marquer comme lu" in response.content.decode()


def test_mark_all_read_is_a_post_reading_only_ones_own(world, client):
    user, other = world.user("cd23.porteur"), world.user("cd23.dsi")
    Notification.objects.all().delete()
    for n in range(3):
        _notification(user, world.creuse, n=n)
    theirs = _notification(other, world.creuse, n=9)
    client.force_login(user)

    assert client.get(MARK_READ).status_code == 405
    assert Notification.objects.filter(read_at__isnull=True).count() == 4

    response = client.post(MARK_READ, follow=True)

    assert response.redirect_chain[-1] == (PAGE, 302)
    assert "3 notifications marquées comme lues." in response.content.decode()
    assert response.context["unread_notifications"] == 0
    assert "Tout marquer comme lu" not in response.content.decode()
    assert not Notification.objects.filter(recipient_user=user, read_at=None).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # The shell's badge follows.
    assert client.get("/").context["unread_notifications"] == 0


def test_mark_one_read_never_touches_another_users_notification(world, client):
    user, other = world.user("cd23.porteur"), world.user("cd57.porteur")
    Notification.objects.all().delete()
    mine = _notification(user, world.creuse, n=1)
    kept = _notification(user, world.creuse, n=2)
    theirs = _notification(other, world.moselle, n=3)
    client.force_login(user)

    client.post(MARK_READ, {"notification": mine.pk, "type": "event"})
    response = client.post(MARK_READ, {"notification": theirs.pk})

    assert response.status_code == 302
    assert Notification.objects.get(pk=mine.pk).read_at is not None
    assert Notification.objects.get(pk=kept.pk).read_at is None
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    for hostile in ("abc", "-1", "9" * 30):
        refused = client.post(MARK_READ, {"notification": hostile})
        assert refused.status_code == 400
    assert Notification.objects.get(pk=kept.pk).read_at is None


def test_mark_read_goes_back_to_the_filtered_list(world, client):
    user = world.user("cd23.porteur")
    _notification(user, world.creuse, kind="deadline_rappel")
    client.force_login(user)

    response = client.post(MARK_READ, {"type": "deadline_rappel"})

    assert response.url == f"{PAGE}?type=deadline_rappel"


def test_filter_by_kind_offers_the_users_kinds_in_french(world, client):
    user = world.user("cd23.porteur")
    Notification.objects.filter(recipient_user=user).delete()
    _notification(user, world.creuse, n=1, kind="event")
    reminder = _notification(user, world.creuse, n=2, kind="deadline_rappel")
    _notification(world.user("cd23.dsi"), world.creuse, n=3, kind="role_request")

    response = _page(client, user, {"type": "deadline_rappel"})

    assert _shown(response) == [reminder.pk]
    page = response.content.decode()
    assert '<label for="id_type">Type de notification</label>' in page
    assert '<option value="deadline_rappel" selected>Rappel d&#x27;échéance' in page
    assert '<option value="event">Avancement d&#x27;une demande</option>' in page
    assert "role_request" not in page  # another user's kind
    assert "(filtrées)" in page


def test_a_bad_kind_is_ignored_never_an_error(world, client):
    user = world.user("cd23.porteur")
    Notification.objects.filter(recipient_user=user).delete()
    _notification(user, world.creuse, n=1, kind="event")
    _notification(user, world.creuse, n=2, kind="deadline_rappel")

    for bad in ("inconnu", "<script>alert(1)</script>", "x" * 500, "role_request"):
        response = _page(client, user, {"type": bad, "page": "zz"})
        assert len(_shown(response)) == 2
        assert "valeur inconnue, ignorée" in response.content.decode()
        assert "<script>alert" not in response.content.decode()


def test_each_notification_links_to_its_object_and_the_task_waiting_on_it(
    world,
    client,
    submit_request,
):
    cr = submit_request()
    contact = world.user("cnaf.contact")
    task = Task.objects.get(
        flow_task=EvolutionFlow.review_submission, status=STATUS.NEW
    )

    page = _page(client, contact).content.decode()

    assert f'<a href="{cr.get_absolute_url()}">' in page
    open_url = reverse("task_open", args=[EvolutionFlow.url_name, task.pk])
    assert f'<form method="post" action="{open_url}">' in page
    assert "Prendre et ouvrir la tâche" in page

    # Once the task is the user's, the page opens it directly.
    client.post(open_url)
    page = _page(client, contact).content.decode()
    execute = EvolutionFlow.review_submission.reverse(
        "execute", args=[task.process_id, task.pk]
    )
    assert f'href="{execute}">Ouvrir la tâche' in page
    assert open_url not in page


def test_no_task_link_without_a_task_for_the_user(world, client, submit_request):
    cr = submit_request()
    # The porteur is told too, but the review is the supplier's to do.
    porteur = world.user("cd23.porteur")
    _notification(porteur, world.creuse, link=cr.get_absolute_url())

    page = _page(client, porteur).content.decode()

    assert f'<a href="{cr.get_absolute_url()}">' in page
    assert "Ouvrir la tâche" not in page and "Prendre et ouvrir" not in page


def test_another_organisations_task_is_never_offered(world, client, submit_request):
    cr = submit_request()  # of client 23: its review waits for the supplier
    stranger = world.user("cd57.porteur")
    Notification.objects.filter(recipient_user=stranger).delete()
    # Even a row pointing at client 23's request gives no way into its task.
    _notification(stranger, world.creuse, link=cr.get_absolute_url())

    page = _page(client, stranger).content.decode()

    assert "Ouvrir la tâche" not in page and "Prendre et ouvrir" not in page
    assert "/ouvrir/" not in page


def test_another_users_notifications_are_never_shown(world, client, submit_request):
    cr = submit_request()  # told to the supplier's contact
    stranger = world.user("cd57.porteur")
    _notification(world.user("cd23.porteur"), world.creuse, subject="Secret 23")

    page = _page(client, stranger).content.decode()

    assert cr.reference not in page
    assert "Secret 23" not in page
    assert "Aucune notification." in page


def test_the_tandem_prefix_is_left_out_of_the_page(world, client, submit_request):
    cr = submit_request()

    response = _page(client, world.user("cnaf.contact"))

    page = unescape(response.content.decode())
    assert f"Expression de besoin {cr.reference} soumise" in page
    assert "[Tandem]" not in page


def test_the_email_carries_the_absolute_link_to_the_object(
    world,
    settings,
    django_capture_on_commit_callbacks,
    submit_request,
):
    settings.TANDEM_SITE_URL = "https://tandem.example.fr"
    with django_capture_on_commit_callbacks(execute=True):
        cr = submit_request()

    url = f"https://tandem.example.fr{cr.get_absolute_url()}"
    message = next(m for m in mail.outbox if "cnaf.contact" in m.to[0])
    assert url in message.body
    html = message.alternatives[0][0]
    assert f'<a href="{url}">' in html
    row = Notification.objects.get(recipient_user__username="cnaf.contact")
    assert row.link == cr.get_absolute_url()  # what the page links to


def _queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    return len(queries)


def test_the_page_costs_the_same_at_3_and_30_notifications(
    world,
    client,
    django_assert_max_num_queries,
    submit_request,
):
    cr = submit_request()
    contact = world.user("cnaf.contact")
    Notification.objects.filter(recipient_user=contact).delete()
    for n in range(3):
        _notification(contact, world.creuse, n=n, link=cr.get_absolute_url())
    few = _queries(client, contact)
    for n in range(3, 30):
        _notification(
            contact, world.creuse, n=n, link=cr.get_absolute_url(), read=n % 2 == 0
        )

    many = _queries(client, contact)

    assert many == few
    with django_assert_max_num_queries(14):
        page = client.get(PAGE).content.decode()
    assert page.count("Prendre et ouvrir la tâche") == 25  # one page of 25
