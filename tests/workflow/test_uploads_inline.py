"""workflow.uploads: which files open in the browser (sandboxed) and which download,
and several files in one form field (MultipleFileField), all checked or none kept."""

import io

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict

from tests.workflow.test_uploads import (
    CSV_UTF8,
    DOCX,
    EXE,
    JPEG,
    MB,
    ODT,
    PDF,
    PNG,
    TXT,
    body,
    upload,
)
from workflow.uploads import (
    MAX_FILES_PER_UPLOAD,
    MultipleFileField,
    file_download_response,
    files_removed_on_failure,
    note_files_not_kept,
    opens_in_browser,
    random_storage_name,
    validate_upload,
)

HTML = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# --- downloads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extension", "content", "content_type"),
    [
        ("pdf", PDF, "application/pdf"),
        ("png", PNG, "image/png"),
        ("jpg", JPEG, "image/jpeg"),
    ],
)
def test_pdf_and_images_open_in_the_browser_inside_a_sandbox(
    stored, extension, content, content_type
) -> None:
    field_file = stored(content, random_storage_name(extension))

    response = file_download_response(field_file, download_name=f"vue.{extension}")

    assert response["Content-Disposition"] == f'inline; filename="vue.{extension}"'
    assert response["Content-Type"] == content_type
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert body(response, field_file) == content


@pytest.mark.parametrize(
    ("extension", "content"),
    [("txt", TXT), ("csv", CSV_UTF8), ("docx", DOCX), ("odt", ODT)],
)
def test_other_types_download_as_attachments(stored, extension, content) -> None:
    field_file = stored(content, random_storage_name(extension))

    response = file_download_response(field_file, download_name=f"doc.{extension}")

    assert response["Content-Disposition"] == f'attachment; filename="doc.{extension}"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    body(response, field_file)


def test_the_type_comes_from_the_stored_file_not_from_the_users_name(stored) -> None:
    field_file = stored(PNG, random_storage_name("png"))

    response = file_download_response(field_file, download_name="page.html")

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="page.html.png"'
    body(response, field_file)


@pytest.mark.parametrize("extension", ["png", "jpg", "pdf"])
def test_a_stored_image_holding_html_is_never_shown_inline(stored, extension) -> None:
    # Stored before the content checks, or by another path: its bytes are read again.
    field_file = stored(HTML, random_storage_name(extension))

    response = file_download_response(field_file, download_name=f"x.{extension}")

    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response, field_file) == HTML


@pytest.mark.parametrize(("name", "content"), [("a.html", HTML), ("b.svg", SVG)])
def test_html_and_svg_files_kept_from_before_download_as_octet_stream(
    stored, name, content
) -> None:
    field_file = stored(content, name)

    response = file_download_response(field_file, download_name=name)

    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"] == "application/octet-stream"
    body(response, field_file)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("capture.png", HTML, "ne correspond pas à un fichier .png"),
        ("capture.jpg", HTML, "ne correspond pas à un fichier .jpg"),
        ("schema.svg", SVG, "le type .svg n'est pas autorisé"),
        ("page.html", HTML, "le type .html n'est pas autorisé"),
    ],
)
def test_html_or_svg_is_refused_at_upload_whatever_its_name(
    name, content, message
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_upload(upload(name, content))
    assert message in excinfo.value.messages[0]
    assert f"« {name} »" in excinfo.value.messages[0]


def test_opens_in_browser_follows_the_stored_type() -> None:
    assert opens_in_browser("2027/05/abc.pdf")
    assert opens_in_browser("2027/05/abc.jpg")
    assert not opens_in_browser("2027/05/abc.docx")
    assert not opens_in_browser("")


# --- several files in one field ----------------------------------------------------


class FilesForm(forms.Form):
    files = MultipleFileField(label="Fichiers")


class OptionalFilesForm(forms.Form):
    title = forms.CharField()
    files = MultipleFileField(label="Fichiers", required=False)


def test_several_files_are_cleaned_to_a_list() -> None:
    sent = [upload("note.pdf", PDF), upload("capture.png", PNG)]

    assert MultipleFileField().clean(sent) == sent


def test_one_bad_file_names_each_culprit_and_the_field_keeps_none() -> None:
    form = FilesForm(
        files=_multi(
            upload("note.pdf", PDF),
            upload("capture.exe", EXE),
            upload("image.png", PDF),
        )
    )

    assert not form.is_valid()
    assert "files" not in form.cleaned_data
    errors = form.errors["files"]
    assert len(errors) == 2
    assert errors[0].startswith("Le fichier « capture.exe » n'est pas accepté")
    assert "« image.png » ne correspond pas à un fichier .png" in errors[1]


def test_more_than_the_limit_of_files_is_refused() -> None:
    sent = [upload(f"n{i}.txt", TXT) for i in range(MAX_FILES_PER_UPLOAD + 1)]

    with pytest.raises(ValidationError) as excinfo:
        MultipleFileField().clean(sent)

    assert excinfo.value.messages == [
        "Vous avez choisi 11 fichiers : 10 au plus par envoi. "
        "Joignez les autres en un second envoi."
    ]
    assert MultipleFileField().clean(sent[:-1]) == sent[:-1]


def test_total_over_the_limit_is_refused_before_any_file_is_read(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_TOTAL_MB = 1

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("files over the total must not be read")

    sent = [UploadedFile(Unreadable(), name=f"{i}.csv", size=MB // 2) for i in range(3)]

    with pytest.raises(ValidationError) as excinfo:
        MultipleFileField().clean(sent)

    assert excinfo.value.messages == [
        "Les fichiers choisis font 1,5 Mo en tout : 1 Mo au plus par envoi. "
        "Joignez-en une partie en un second envoi."
    ]


def test_each_file_keeps_the_size_limit(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 1

    with pytest.raises(ValidationError) as excinfo:
        MultipleFileField().clean([upload("gros.txt", b"a" * (MB + 1))])

    assert excinfo.value.messages == [
        "Le fichier « gros.txt » dépasse la taille maximale autorisée (1 Mo)."
    ]


def test_empty_file_is_named() -> None:
    with pytest.raises(ValidationError) as excinfo:
        MultipleFileField().clean([upload("vide.txt", b"")])
    assert excinfo.value.messages == ["Le fichier « vide.txt » est vide."]


def test_required_and_optional_fields_without_files() -> None:
    required = FilesForm(data={}, files=_multi())
    optional = OptionalFilesForm(data={"title": "T"}, files=_multi())

    assert required.errors["files"] == ["Choisissez au moins un fichier."]
    assert optional.is_valid() and optional.cleaned_data["files"] == []


def test_a_forged_clear_box_is_no_file_and_no_crash() -> None:
    form = OptionalFilesForm(data={"title": "T", "files-clear": "on"}, files=_multi())
    assert form.is_valid() and form.cleaned_data["files"] == []

    both = OptionalFilesForm(
        data={"title": "T", "files-clear": "on"},
        files=_multi(upload("note.txt", TXT)),
    )
    assert not both.is_valid() and both.errors["files"]


def test_the_input_takes_several_files_and_says_the_limits_in_french(
    settings,
) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 2.5
    settings.TANDEM_MAX_UPLOAD_TOTAL_MB = 30
    field = OptionalFilesForm()["files"]

    html = str(field)

    assert "multiple" in html and 'type="file"' in html
    assert 'accept=".pdf,.odt,.ods,.docx,.xlsx,.png,.jpg,.jpeg,.txt,.csv"' in html
    assert str(field.help_text) == (
        "PDF, ODT, ODS, DOCX, XLSX, PNG, JPG, TXT ou CSV. Jusqu'à 10 fichiers par "
        "envoi, 2,5 Mo chacun, 30 Mo en tout."
    )


def test_a_form_shown_again_says_its_files_must_be_chosen_again() -> None:
    form = OptionalFilesForm(data={"title": ""}, files=_multi(upload("a.pdf", PDF)))
    assert not form.is_valid()

    note_files_not_kept(form, "files")

    assert form.errors["files"] == [
        "Aucun des fichiers choisis n'a été enregistré : choisissez-les de nouveau."
    ]
    untouched = OptionalFilesForm(data={"title": ""}, files=_multi())
    untouched.is_valid()
    note_files_not_kept(untouched, "files")
    assert "files" not in untouched.errors


def test_files_stored_in_a_failed_block_are_removed(stored) -> None:
    kept = stored(PDF, random_storage_name("pdf"))
    lost = stored(PNG, random_storage_name("png"))

    with files_removed_on_failure() as note:
        note(kept)
    with pytest.raises(RuntimeError), files_removed_on_failure() as note:
        note(lost)
        raise RuntimeError

    assert kept.storage.exists(kept.name)
    assert not lost.storage.exists(lost.name)


def _multi(*uploads):
    """request.FILES as a browser sends several files under the name "files"."""
    return MultiValueDict({"files": list(uploads)} if uploads else {})
