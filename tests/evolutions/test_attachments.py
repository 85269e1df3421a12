"""Files of a change request: several in one submit, all or none; joined from the
creation form; PDF and images opened in the browser, sandboxed, the others
downloaded (tests/evolutions/test_downloads.py covers one file and the documents)."""

import html
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.urls import reverse

from contacts.models import Role
from evolutions import services
from evolutions.models import Attachment, ChangeRequest, ReferenceSequence
from tests.workflow.test_uploads import DOCX, EXE, JPEG, PDF, PNG, TXT
from workflow.uploads import private_storage

S = ChangeRequest.Status
HTML = b"<html><script>alert(document.cookie)</script></html>"
NEEDS = {
    "title": "Flux DSN rejetés",
    "kind": "technique",
    "data_flows": ["DSG"],
    "description": "Les rejets du flux « DSG » ne sont pas signalés.",
    "expected_benefit": "Moins de relances",
    "wished_date": "2031-03-15",
}


@pytest.fixture
def in_study(demo):
    return ChangeRequest.objects.get(organisation__code="23", status=S.IN_STUDY)


@pytest.fixture
def porteur(demo, client):
    user = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def storage(demo, monkeypatch):
    """The test's own private storage (the field's was built at import, under
    var/)."""
    storage = private_storage()
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", storage)
    return storage


@pytest.fixture
def disk(storage):
    """The files on disk in the test's private storage, as a set of paths."""
    root = Path(storage.location)
    return lambda: {path for path in root.rglob("*") if path.is_file()}


def _files(*named):
    return [SimpleUploadedFile(name, content) for name, content in named]


def _page(response) -> str:
    return html.unescape(response.content.decode())


# --- several files in one submit ---------------------------------------------------


def test_several_files_are_joined_in_one_submit(in_study, porteur, client, disk):
    before = disk()

    response = client.post(
        reverse("evolutions:attach", args=[in_study.pk]),
        {"file": _files(("note.pdf", PDF), ("écran.png", PNG), ("cdc.docx", DOCX))},
    )

    assert response.status_code == 302
    attachments = Attachment.objects.filter(change_request=in_study)
    assert sorted(a.original_name for a in attachments) == [
        "cdc.docx",
        "note.pdf",
        "écran.png",
    ]
    assert {a.uploaded_by for a in attachments} == {porteur}
    assert len(disk() - before) == 3
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "3 fichiers joints à la demande."
    ]
    page = _page(client.get(reverse("evolutions:detail", args=[in_study.pk])))
    assert page.count("s’ouvre dans le navigateur") == 2
    assert page.count("à télécharger") == 1
    assert "multiple" in page and "Joindre les fichiers" in page


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("capture.exe", EXE), "« capture.exe » n'est pas accepté"),
        (("capture.png", HTML), "« capture.png » ne correspond pas à un fichier .png"),
        (("vide.txt", b""), "« vide.txt » est vide"),
    ],
)
def test_one_bad_file_stores_none_and_is_named(
    in_study, porteur, client, disk, bad, message
):
    before = disk()

    response = client.post(
        reverse("evolutions:attach", args=[in_study.pk]),
        {"file": _files(("note.pdf", PDF), bad, ("photo.jpg", JPEG))},
    )

    assert response.status_code == 400
    assert message in _page(response)
    assert "note.pdf" not in _page(response)  # only the culprit is named
    assert not Attachment.objects.filter(change_request=in_study).exists()
    assert disk() == before


def test_too_many_files_or_too_heavy_together_are_refused(
    in_study, porteur, client, settings
):
    url = reverse("evolutions:attach", args=[in_study.pk])
    eleven = _files(*((f"note-{i}.txt", TXT) for i in range(11)))
    settings.TANDEM_MAX_UPLOAD_TOTAL_MB = 1
    heavy = _files(("a.txt", b"a" * 600_000), ("b.txt", b"b" * 600_000))

    too_many = client.post(url, {"file": eleven})
    too_heavy = client.post(url, {"file": heavy})

    assert (too_many.status_code, too_heavy.status_code) == (400, 400)
    assert "Vous avez choisi 11 fichiers : 10 au plus par envoi." in _page(too_many)
    assert "1 Mo au plus par envoi" in _page(too_heavy)
    assert not Attachment.objects.filter(change_request=in_study).exists()


def test_no_file_chosen_is_a_french_400(in_study, porteur, client):
    response = client.post(reverse("evolutions:attach", args=[in_study.pk]), {})

    assert response.status_code == 400
    assert "Choisissez au moins un fichier." in _page(response)


def test_another_organisation_can_neither_join_nor_read(demo, in_study, client):
    client.force_login(demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE))
    client.post(
        reverse("evolutions:attach", args=[in_study.pk]),
        {"file": _files(("note.pdf", PDF))},
    )
    attachment = Attachment.objects.get(change_request=in_study)
    download = reverse("evolutions:attachment", args=[in_study.pk, attachment.pk])

    client.force_login(demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE))
    upload = client.post(
        reverse("evolutions:attach", args=[in_study.pk]),
        {"file": _files(("intrus.pdf", PDF), ("intrus.png", PNG))},
    )
    read = client.get(download)

    assert (upload.status_code, read.status_code) == (404, 404)
    assert Attachment.objects.filter(change_request=in_study).count() == 1


def test_the_service_checks_every_file_too(demo, in_study, porteur):
    with pytest.raises(ValidationError) as excinfo:
        services.attachments_add(
            pk=in_study.pk,
            by=porteur,
            files=_files(("ok.txt", TXT), ("faux.pdf", PNG)),
        )

    assert "« faux.pdf » ne correspond pas" in " ".join(excinfo.value.messages)
    assert not Attachment.objects.filter(change_request=in_study).exists()


# --- what opens in the browser -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type", "disposition"),
    [
        ("plan.pdf", PDF, "application/pdf", "inline"),
        ("écran.png", PNG, "image/png", "inline"),
        ("photo.jpeg", JPEG, "image/jpeg", "inline"),
        ("notes.txt", TXT, "text/plain", "attachment"),
        ("cdc.docx", DOCX, "application/vnd.openxmlformats-officedocument"
         ".wordprocessingml.document", "attachment"),
    ],
)  # fmt: skip
def test_downloads_are_inline_only_for_pdf_and_images(
    in_study, porteur, client, name, content, content_type, disposition
):
    client.post(
        reverse("evolutions:attach", args=[in_study.pk]),
        # The type the browser declares is never believed.
        {"file": SimpleUploadedFile(name, content, content_type="text/html")},
    )
    attachment = Attachment.objects.get(change_request=in_study)

    response = client.get(
        reverse("evolutions:attachment", args=[in_study.pk, attachment.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].split(";")[0] == disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    # Through every middleware: the site's page policy does not replace the file's.
    expected = "sandbox" if disposition == "inline" else "default-src 'none'; sandbox"
    assert response["Content-Security-Policy"] == expected
    assert b"".join(response.streaming_content) == content


# --- files joined at creation ------------------------------------------------------


def test_creation_stores_the_files_with_the_request(demo, porteur, client, disk):
    before = disk()

    response = client.post(
        reverse("evolutions:create"),
        {**NEEDS, "attachments": _files(("maquette.png", PNG), ("note.pdf", PDF))},
    )

    assert response.status_code == 302
    cr = ChangeRequest.objects.get(title=NEEDS["title"])
    assert response["Location"] == reverse("evolutions:detail", args=[cr.pk])
    assert sorted(a.original_name for a in cr.attachments.all()) == [
        "maquette.png",
        "note.pdf",
    ]
    assert {a.uploaded_by for a in cr.attachments.all()} == {porteur}
    assert len(disk() - before) == 2


def test_creation_form_takes_files(demo, porteur, client):
    page = client.get(reverse("evolutions:create")).content.decode()

    assert 'enctype="multipart/form-data"' in page
    assert 'name="attachments"' in page and "multiple" in page
    assert "Jusqu'à 10 fichiers par envoi, 20 Mo chacun, 50 Mo en tout." in page


def test_a_bad_file_at_creation_keeps_what_was_typed(demo, porteur, client, disk):
    before = (disk(), list(ReferenceSequence.objects.values_list("last_number")))

    response = client.post(
        reverse("evolutions:create"),
        {**NEEDS, "attachments": _files(("note.pdf", PDF), ("outil.exe", EXE))},
    )

    assert response.status_code == 200
    page = _page(response)
    form = response.context["form"]
    assert form["title"].value() == NEEDS["title"]
    for name in ("kind", "expected_benefit", "wished_date", "data_flows"):
        assert form[name].value() == NEEDS[name], name
    assert NEEDS["title"] in page and NEEDS["description"] in page
    assert 'value="2031-03-15"' in page
    errors = form.errors["attachments"]
    assert "« outil.exe » n'est pas accepté" in errors[0]
    assert errors[-1] == (
        "Aucun des fichiers choisis n'a été enregistré : choisissez-les de nouveau."
    )
    assert "choisissez-les de nouveau" in page
    assert not ChangeRequest.objects.filter(title=NEEDS["title"]).exists()
    after = (disk(), list(ReferenceSequence.objects.values_list("last_number")))
    assert after == before


def test_files_sent_with_a_missing_field_must_be_chosen_again(demo, porteur, client):
    response = client.post(
        reverse("evolutions:create"),
        {**NEEDS, "title": "", "attachments": _files(("note.pdf", PDF))},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["attachments"] == [
        "Aucun des fichiers choisis n'a été enregistré : choisissez-les de nouveau."
    ]
    assert not Attachment.objects.filter(original_name="note.pdf").exists()


def test_a_failure_while_storing_leaves_no_request_and_no_file(
    demo, porteur, disk, monkeypatch
):
    before = (disk(), ChangeRequest.objects.count())
    saved = []
    real_save = Attachment.save

    def fail_second(self, *args, **kwargs):
        saved.append(self)
        if len(saved) == 2:
            raise IntegrityError("disque plein")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Attachment, "save", fail_second)

    with pytest.raises(IntegrityError):
        services.change_request_create(
            by=porteur,
            organisation=demo.creuse,
            attachments=_files(("a.pdf", PDF), ("b.png", PNG)),
            **{**NEEDS, "wished_date": None},
        )

    assert (disk(), ChangeRequest.objects.count()) == before
