"""Attachments, task documents and PDFs of a change request, under the access rules."""

import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pypdf import PdfReader

from contacts.models import Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from evolutions.models import Attachment, ChangeRequest
from workflow.formats import format_file_size

S = ChangeRequest.Status
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def demo(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return world


def _cr(status, code="23"):
    return ChangeRequest.objects.get(organisation__code=code, status=status)


def _text(response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_attachment_is_stored_privately_and_served_to_those_who_may_see(demo, client):
    cr = _cr(S.IN_STUDY)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(
        reverse("evolutions:attach", args=[cr.pk]),
        {"file": SimpleUploadedFile("../../Note <b>é</b>.pdf", PDF_BYTES)},
    )

    assert response.status_code == 302
    attachment = Attachment.objects.get(change_request=cr)
    assert "Note" not in attachment.file.name and attachment.file.name.endswith(".pdf")
    assert "/" not in attachment.original_name
    url = reverse("evolutions:attachment", args=[cr.pk, attachment.pk])
    download = client.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF_BYTES
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("inline")  # a PDF opens
    assert download["Content-Security-Policy"] == "sandbox"

    client.force_login(demo.user("cnaf.moe"))
    assert client.get(url).status_code == 200
    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    assert client.get(url).status_code == 404
    other = reverse(
        "evolutions:attachment", args=[_cr(S.IN_STUDY, "57").pk, attachment.pk]
    )
    assert client.get(other).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("image.pdf", PNG_BYTES, "ne correspond pas"),
        ("programme.exe", b"MZ" + b"\x00" * 10, "n'est pas autorisé"),
        ("vide.txt", b"", "est vide"),
    ],
)
def test_bad_files_are_refused_and_nothing_saved(demo, client, name, content, message):
    cr = _cr(S.IN_STUDY)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(
        reverse("evolutions:attach", args=[cr.pk]),
        {"file": SimpleUploadedFile(name, content)},
    )

    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert not Attachment.objects.exists()


def test_oversize_file_is_refused(demo, client, settings):
    settings.TANDEM_MAX_UPLOAD_MB = 1
    cr = _cr(S.IN_STUDY)
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))

    response = client.post(
        reverse("evolutions:attach", args=[cr.pk]),
        {"file": SimpleUploadedFile("gros.txt", b"a" * (1024 * 1024 + 1))},
    )

    assert response.status_code == 400
    assert "1 Mo" in response.content.decode()
    assert not Attachment.objects.exists()


def test_testeur_cannot_attach_and_closed_request_takes_no_file(demo, client):
    client.force_login(demo.client_user(demo.creuse, Role.TESTEUR))
    refused = client.post(
        reverse("evolutions:attach", args=[_cr(S.IN_STUDY).pk]),
        {"file": SimpleUploadedFile("a.pdf", PDF_BYTES)},
    )
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    closed = client.post(
        reverse("evolutions:attach", args=[_cr(S.WITHDRAWN).pk]),
        {"file": SimpleUploadedFile("a.pdf", PDF_BYTES)},
    )

    assert (refused.status_code, closed.status_code) == (403, 409)
    assert not Attachment.objects.exists()


def test_needs_expression_pdf_is_scoped_and_escapes_markup(demo, client):
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    cr = services.change_request_create(
        by=porteur,
        organisation=demo.creuse,
        title='<img src="/etc/passwd"/> Motif',
        kind="technique",
        data_flows=["DSG"],
        description="<b>gras</b> & <font size=80>x</font>",
    )
    url = reverse("evolutions:needs_expression_pdf", args=[cr.pk])

    client.force_login(porteur)
    response = client.get(url)
    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    refused = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = _text(response)
    assert cr.reference in text and "23 – Creuse" in text
    assert '<img src="/etc/passwd"/>' in text
    assert "<b>gras</b>" in text
    assert refused.status_code == 404


def test_quote_pdf_and_documents_are_scoped(demo, client):
    cr = _cr(S.QUOTE_REVIEW)
    url = reverse("evolutions:quote_pdf", args=[cr.pk, 1])

    client.force_login(demo.user("cnaf.commande"))
    response = client.get(url)
    client.force_login(demo.client_user(demo.moselle, Role.DSI_CLIENT))
    refused = client.get(url)

    assert response.status_code == 200
    assert "Devis v1" in _text(response)
    assert "8 750,00 € HT" in _text(response).replace("\xa0", " ")
    assert refused.status_code == 404
    missing = reverse("evolutions:quote_document", args=[cr.pk, 1])
    client.force_login(demo.user("cnaf.commande"))
    assert client.get(missing).status_code == 404  # no document was joined


def test_specification_document_given_with_the_task(demo, client):
    from evolutions.flows import EvolutionFlow
    from tests.evolutions.test_flow_http import _act

    cr = _cr(S.IN_STUDY)
    owner = demo.user("cnaf.commande")
    document = SimpleUploadedFile("CDC v1.pdf", PDF_BYTES)
    _act(client, owner, cr, EvolutionFlow.write_specification,
         {"summary": "v1", "document": document})  # fmt: skip

    url = reverse("evolutions:specification_document", args=[cr.pk, 1])
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    assert client.get(url).status_code == 200
    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    assert client.get(url).status_code == 404


def test_disguised_specification_document_is_a_form_error(demo, client):
    from evolutions.flows import EvolutionFlow
    from tests.evolutions.test_flow_http import _open_task

    cr = _cr(S.IN_STUDY)
    task = _open_task(cr, EvolutionFlow.write_specification)
    client.force_login(demo.user("cnaf.commande"))

    response = client.post(
        EvolutionFlow.write_specification.reverse(
            "execute", args=[task.process_id, task.pk]
        ),
        {"summary": "v1", "document": SimpleUploadedFile("cdc.pdf", PNG_BYTES)},
    )

    assert response.status_code == 400
    assert "ne correspond pas" in html.unescape(response.content.decode())
    assert ChangeRequest.objects.get(pk=cr.pk).status == S.IN_STUDY


def test_the_request_page_writes_amounts_and_sizes_the_french_way(demo, client):
    cr = _cr(S.QUOTE_REVIEW)
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(porteur)
    client.post(
        reverse("evolutions:attach", args=[cr.pk]),
        {"file": SimpleUploadedFile("note.pdf", PDF_BYTES + b" " * 3000)},
    )

    page = client.get(reverse("evolutions:detail", args=[cr.pk])).content.decode()

    shown = page.replace("\xa0", " ")
    assert "8 750,00 € HT" in shown
    size = Attachment.objects.get(change_request=cr).size
    assert 1024 <= size < 1024 * 1024
    assert f"({format_file_size(size).replace(chr(160), ' ')}, " in shown
    assert " Ko, " in shown and "Kio" not in shown and "8750" not in shown
