"""The Content-Security-Policy: on every HTML answer, a fresh script nonce each time,
no inline script or event handler left in Tandem's templates. Refusals of anonymous
requests counted rather than journalled; a 403 logged on one line."""

import logging
import re
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from workflow import audit, middleware
from workflow.models import AnonymousRefusal, AuditEntry

ROOT = Path(__file__).resolve().parents[2]
# The project's templates and each of our apps' own.
TEMPLATES = [ROOT / "templates", *ROOT.glob("*/templates")]
NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'")
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)


def csp_nonce(response) -> str:
    """The response's script nonce, after checking the policy around it."""
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().partition(" ")[::2] for part in policy.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"
    return NONCE.search(policy).group(1)


def scripts_without_nonce(page: str, nonce: str) -> list[str]:
    """The <script> tags of a page that neither load a file nor carry the nonce."""
    return [
        tag
        for tag in SCRIPT_TAG.findall(page)
        if "src=" not in tag and f'nonce="{nonce}"' not in tag
    ]


def test_every_html_answer_has_the_policy_with_a_fresh_nonce(client):
    first = client.get(reverse("login"))
    second = client.get(reverse("login"))

    assert csp_nonce(first) != csp_nonce(second)
    assert len(csp_nonce(first)) >= 22
    assert (
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ) in first["Content-Security-Policy"]


def test_error_pages_have_the_policy_too(world, client):
    client.force_login(world.user("cd23.porteur"))

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert csp_nonce(response)


def test_answers_that_are_not_html_have_no_policy(client):
    response = client.get(reverse("javascript-catalog"))

    assert response["Content-Type"].startswith("text/javascript")
    assert "Content-Security-Policy" not in response


def test_our_templates_have_no_inline_script_nor_event_handler():
    problems = []
    found = sorted(t for folder in TEMPLATES for t in folder.rglob("*.html"))
    assert len(found) > 40  # every folder was read
    for template in found:
        source = template.read_text(encoding="utf-8")
        name = template.relative_to(ROOT)
        problems += [
            f"{name}: {tag}" for tag in scripts_without_nonce(source, "{{ csp_nonce }}")
        ]
        problems += [
            f"{name}: {m.group().strip()}" for m in INLINE_HANDLER.finditer(source)
        ]

    assert not problems, problems


# Refusals of anonymous requests are counted, not chained (issue 14, finding 5).


def test_anonymous_refusals_are_counted_without_touching_the_journal(
    world, client, django_assert_max_num_queries
):
    before = AuditEntry.objects.count()
    for _attempt in range(3):
        client.get("/accounts/no-such-page/", REMOTE_ADDR="203.0.113.7")
    client.get("/accounts/other/", REMOTE_ADDR="203.0.113.7")
    client.get("/accounts/other/", REMOTE_ADDR="198.51.100.1")

    assert AuditEntry.objects.count() == before
    counts = {
        (row.path, row.address, row.status): row.count
        for row in AnonymousRefusal.objects.all()
    }
    assert counts == {
        ("/accounts/no-such-page/", "203.0.113.7", 404): 3,
        ("/accounts/other/", "203.0.113.7", 404): 1,
        ("/accounts/other/", "198.51.100.1", 404): 1,
    }
    assert {row.day for row in AnonymousRefusal.objects.all()} == {timezone.localdate()}


def test_a_day_holds_a_bounded_number_of_rows_then_one_for_the_rest(
    world, client, settings
):
    settings.TANDEM_ANONYMOUS_REFUSAL_ROWS = 3
    for number in range(10):
        client.get(f"/accounts/x{number}/", REMOTE_ADDR=f"10.0.0.{number}")
    client.get("/accounts/x0/", REMOTE_ADDR="10.0.0.0")

    rows = AnonymousRefusal.objects.order_by("path")
    assert [(row.path, row.address, row.count) for row in rows] == [
        ("*", "", 7),
        ("/accounts/x0/", "10.0.0.0", 2),
        ("/accounts/x1/", "10.0.0.1", 1),
        ("/accounts/x2/", "10.0.0.2", 1),
    ]


def test_a_row_created_meanwhile_by_another_request_is_counted_into(world):
    request = RequestFactory().get("/accounts/x/", REMOTE_ADDR="10.0.0.1")
    real_add_one = middleware._add_one
    calls = []

    def first_misses(key, now):
        # The first UPDATE finds nothing; another request then creates the row.
        calls.append(key)
        if len(calls) == 1:
            AnonymousRefusal.objects.create(**key, count=1)
            return False
        return real_add_one(key, now)

    middleware._add_one = first_misses
    try:
        middleware.count_refusal(request, 404)
    finally:
        middleware._add_one = real_add_one

    assert AnonymousRefusal.objects.get().count == 2


def test_authenticated_refusals_stay_journalled(world, client):
    client.force_login(world.user("cd23.porteur"))

    assert client.get("/no-such-page/").status_code == 404

    audit.fold_refusals()
    refusal = AuditEntry.objects.filter(action="refus").latest("seq")
    assert (refusal.actor, refusal.detail["path"]) == ("cd23.porteur", "/no-such-page/")
    assert not AnonymousRefusal.objects.exists()


def test_a_missing_static_file_never_takes_the_journal_lock(world, client):
    client.force_login(world.user("cd23.porteur"))
    before = AuditEntry.objects.count()

    response = client.get("/static/tandem/no-such-file.css")

    assert response.status_code == 404
    assert AuditEntry.objects.count() == before
    # Answered by the static files' middleware, or else counted.
    assert set(AnonymousRefusal.objects.values_list("path", flat=True)) <= {
        "/static/tandem/no-such-file.css"
    }


def test_the_counts_are_read_only_in_the_admin(world, client, django_user_model):
    AnonymousRefusal.objects.create(
        day=timezone.localdate(), path="/x/", address="10.0.0.1", status=404, count=4
    )
    # Like the journal itself, for the superuser (created from the command line).
    client.force_login(
        django_user_model.objects.create_superuser("racine", "racine@example.org")
    )

    page = client.get(reverse("admin:workflow_anonymousrefusal_changelist"))

    assert page.status_code == 200
    assert "/x/" in page.content.decode()
    assert client.get(reverse("admin:workflow_anonymousrefusal_add")).status_code == 403


# A refused access is logged on one line (finding 7).


def test_a_403_is_logged_without_its_traceback(caplog):
    request = RequestFactory().get("/interdit/")

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = response_for_exception(request, PermissionDenied("non"))
        response_for_exception(request, Http404("absent"))

    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /interdit/"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_counts_of_anonymous_refusals_are_kept_a_bounded_time(db, settings):
    from datetime import timedelta

    from workflow.tasks import purge_anonymous_refusals

    settings.TANDEM_ANONYMOUS_REFUSAL_DAYS = 90
    today = timezone.localdate()
    for age in (0, 90, 91, 400):
        AnonymousRefusal.objects.create(
            day=today - timedelta(days=age),
            path=f"/age-{age}/",
            address="192.0.2.1",
            status=404,
            count=1,
        )

    assert purge_anonymous_refusals() == 2
    assert sorted(AnonymousRefusal.objects.values_list("path", flat=True)) == [
        "/age-0/",
        "/age-90/",
    ]
    assert "purge-anonymous-refusals" in settings.CELERY_BEAT_SCHEDULE


def test_a_signed_in_page_gets_the_user_itself_not_the_lazy_stand_in(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    seen = response.wsgi_request.user
    assert type(seen) is type(user) and seen.pk == user.pk


def test_a_stand_in_nobody_read_stays_unread(world):
    request = RequestFactory().get("/")
    reads = []
    request.user = SimpleLazyObject(
        lambda: reads.append(1) or world.user("cd23.porteur")
    )
    signed_in = middleware.SignedInUserMiddleware(lambda r: None)
    signed_in.process_view(request, None, (), {})
    assert reads == [] and isinstance(request.user, SimpleLazyObject)
    assert request.user.username == "cd23.porteur"  # read now, once
    signed_in.process_view(request, None, (), {})
    assert reads == [1] and not isinstance(request.user, SimpleLazyObject)
