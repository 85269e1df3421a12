"""The Content-Security-Policy: on every HTML answer, a fresh script nonce each time,
no inline script or event handler left in Tandem's templates."""

import re
from pathlib import Path

from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
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


def test_turbo_gets_the_nonce_and_the_back_buttons_script_is_loaded(client):
    response = client.get(reverse("login"))
    page = response.content.decode()

    assert f'<meta name="csp-nonce" content="{csp_nonce(response)}">' in page
    assert "/static/tandem/back-buttons.js" in page
    assert not scripts_without_nonce(page, csp_nonce(response))


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
    for template in sorted(TEMPLATES.rglob("*.html")):
        source = template.read_text(encoding="utf-8")
        name = template.relative_to(TEMPLATES)
        problems += [
            f"{name}: {tag}" for tag in scripts_without_nonce(source, "{{ csp_nonce }}")
        ]
        problems += [
            f"{name}: {m.group().strip()}" for m in INLINE_HANDLER.finditer(source)
        ]

    assert not problems, problems
