"""Tests for workflow.uploads: upload validation, private storage and downloads."""

import io
import re
import stat
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models.fields.files import FieldFile
from django.forms.forms import BaseForm
from django.utils import timezone

from evolutions import forms as evolutions_forms
from recette import forms as recette_forms
from workflow import forms as workflow_forms
from workflow.uploads import (
    ALLOWED_EXTENSIONS,
    PrivateStorage,
    file_download_response,
    max_upload_bytes,
    private_storage,
    private_upload_to,
    random_storage_name,
    safe_download_name,
    validate_upload,
)

MB = 1024 * 1024

# --- samples -----------------------------------------------------------------------

PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
CSV_UTF8 = "Nom;Prénom;Montant\nDupont;Éloïse;12,50 €\n".encode()
CSV_UTF8_BOM = b"\xef\xbb\xbf" + CSV_UTF8
CSV_CP1252 = "Nom;Prénom;Montant\nDupont;Éloïse;12,50 €\n".encode("cp1252")
TXT = "Compte rendu de la réunion du 3 mai : tout est validé.\r\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def zip_bytes(members: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    """Build a zip in memory; `stored_first` is written first and uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first is not None:
            archive.writestr(
                stored_first, members[stored_first], compress_type=zipfile.ZIP_STORED
            )
        for name, data in members.items():
            if name != stored_first:
                archive.writestr(name, data)
    return buffer.getvalue()


def odf(kind: str, *, mimetype: bytes | None = None) -> bytes:
    """A minimal OpenDocument package of the given kind (text or spreadsheet)."""
    return zip_bytes(
        {
            "mimetype": mimetype
            or f"application/vnd.oasis.opendocument.{kind}".encode(),
            "content.xml": b"<office:document-content/>",
            "META-INF/manifest.xml": b"<manifest:manifest/>",
        },
        stored_first="mimetype",
    )


ODT = odf("text")
ODS = odf("spreadsheet")
DOCX = zip_bytes(
    {
        "[Content_Types].xml": b"<Types/>",
        "_rels/.rels": b"<Relationships/>",
        "word/document.xml": b"<w:document/>",
    }
)
XLSX = zip_bytes(
    {
        "[Content_Types].xml": b"<Types/>",
        "_rels/.rels": b"<Relationships/>",
        "xl/workbook.xml": b"<workbook/>",
    }
)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    """An upload as the form would receive it; the declared type is irrelevant."""
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def refusal(uploaded: UploadedFile) -> ValidationError:
    """Validate an upload that must be refused and return the error."""
    with pytest.raises(ValidationError) as excinfo:
        validate_upload(uploaded)
    return excinfo.value


# --- accepted files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "extension"),
    [
        ("cahier des charges.pdf", PDF, "pdf"),
        ("compte-rendu.odt", ODT, "odt"),
        ("planning.ods", ODS, "ods"),
        ("spécification.docx", DOCX, "docx"),
        ("chiffrage.xlsx", XLSX, "xlsx"),
        ("capture.png", PNG, "png"),
        ("photo.jpg", JPEG, "jpg"),
        ("photo.jpeg", JPEG, "jpg"),
        ("notes.txt", TXT, "txt"),
        ("export.csv", CSV_UTF8, "csv"),
        ("export-bom.csv", CSV_UTF8_BOM, "csv"),
        ("export-excel.csv", CSV_CP1252, "csv"),
        ("RAPPORT.PDF", PDF, "pdf"),
    ],
)
def test_every_allowed_type_is_accepted(name, content, extension) -> None:
    assert validate_upload(upload(name, content)) == extension


def test_allowed_extensions_are_the_documented_ones() -> None:
    assert set(ALLOWED_EXTENSIONS) == {
        "pdf",
        "odt",
        "ods",
        "docx",
        "xlsx",
        "png",
        "jpg",
        "jpeg",
        "txt",
        "csv",
    }


def test_text_with_a_few_terminal_colour_codes_is_accepted() -> None:
    log = ("\x1b[31mERREUR\x1b[0m échec de l'import\n" * 50).encode()
    assert validate_upload(upload("import.txt", log)) == "txt"


def test_text_cut_in_the_middle_of_a_character_by_the_sample_is_accepted() -> None:
    content = b"a" * (64 * 1024 - 1) + "é".encode() + b" fin\n"
    assert validate_upload(upload("long.txt", content)) == "txt"


# --- refused names -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["programme.exe", "page.html", "logo.svg", "archive.zip", "macro.docm", "x.tar.gz"],
)
def test_extension_not_allowed_is_refused_in_french(name) -> None:
    error = refusal(upload(name, b"contenu"))
    assert error.code == "extension_not_allowed"
    message = error.messages[0]
    assert f"« {name} » n'est pas accepté" in message
    assert ".pdf, .odt, .ods, .docx, .xlsx, .png, .jpg, .jpeg, .txt, .csv" in message


@pytest.mark.parametrize("name", ["LISEZMOI", "rapport.", "rapport. "])
def test_name_without_extension_is_refused(name) -> None:
    error = refusal(upload(name, TXT))
    assert error.code == "no_extension"
    assert "n'a pas d'extension" in error.messages[0]
    assert "Types de fichiers acceptés" in error.messages[0]


@pytest.mark.parametrize("name", [None, "   "])
def test_upload_without_name_is_refused(name) -> None:
    error = refusal(SimpleUploadedFile(name, TXT))
    assert error.code == "no_name"
    assert "n'a pas de nom" in error.messages[0]


def test_refusal_message_shows_the_name_without_control_characters() -> None:
    error = refusal(upload("facture\u202efdp.exe", b"MZ"))
    assert "\u202e" not in error.messages[0]
    assert "« facturefdp.exe »" in error.messages[0]


# --- size --------------------------------------------------------------------------


def test_empty_file_is_refused() -> None:
    error = refusal(upload("vide.pdf", b""))
    assert error.code == "empty"
    assert error.messages == ["Le fichier « vide.pdf » est vide."]


def test_file_over_the_limit_is_refused_with_the_limit_in_mo(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 1
    error = refusal(upload("gros.txt", b"a" * (MB + 1)))
    assert error.code == "too_large"
    assert "1 Mo" in error.messages[0]
    assert "« gros.txt »" in error.messages[0]


def test_file_exactly_at_the_limit_is_accepted(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 1
    assert validate_upload(upload("juste.txt", b"a" * MB)) == "txt"


def test_size_is_checked_before_reading_anything(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 1

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("a file over the limit must not be read")

    huge = UploadedFile(Unreadable(), name="enorme.pdf", size=5 * 1024 * MB)
    assert refusal(huge).code == "too_large"


def test_limit_defaults_to_20_mb(settings) -> None:
    del settings.TANDEM_MAX_UPLOAD_MB
    assert max_upload_bytes() == 20 * MB


def test_fractional_limit_is_shown_the_french_way(settings) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 0.5
    assert max_upload_bytes() == MB // 2
    assert "0,5 Mo" in refusal(upload("moyen.txt", b"a" * MB)).messages[0]


def _file_fields_of_the_product() -> list[tuple[str, forms.FileField]]:
    """Every file field of every form of the apps, found by walking the modules."""
    found = []
    for module in (evolutions_forms, recette_forms, workflow_forms):
        for name, form_class in vars(module).items():
            if not (isinstance(form_class, type) and issubclass(form_class, BaseForm)):
                continue
            found += [
                (f"{module.__name__}.{name}.{field_name}", field)
                for field_name, field in form_class.base_fields.items()
                if isinstance(field, forms.FileField)
            ]
    return found


def test_every_file_field_refuses_a_file_over_the_limit_without_reading_it(
    settings,
) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = 1

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("a file over the limit must not be read")

    fields = _file_fields_of_the_product()
    assert {
        "recette.forms.ImportForm.file",
        "recette.forms.PlanForm.cases_file",
        "recette.forms.QualificationForm.report",
        "recette.forms.EvidenceForm.file",
        "evolutions.forms.SpecificationForm.document",
        "evolutions.forms.QuoteForm.document",
        "evolutions.forms.AttachmentForm.file",
    } <= {name for name, _field in fields}
    for name, field in fields:
        too_large = UploadedFile(Unreadable(), name="plan.csv", size=MB + 1)
        with pytest.raises(ValidationError) as excinfo:
            field.clean(too_large)
        assert excinfo.value.messages == [
            "Le fichier « plan.csv » dépasse la taille maximale autorisée (1 Mo)."
        ], name
        cleaned = field.clean(upload("plan.csv", b"a" * MB))
        # A MultipleFileField cleans to a list of files.
        cleaned = cleaned if isinstance(cleaned, list) else [cleaned]
        assert [one.size for one in cleaned] == [MB], name


@pytest.mark.parametrize("value", [0, -1, "20", True, float("inf"), None])
def test_nonsense_limit_names_the_setting(settings, value) -> None:
    settings.TANDEM_MAX_UPLOAD_MB = value
    with pytest.raises(ImproperlyConfigured, match="TANDEM_MAX_UPLOAD_MB"):
        max_upload_bytes()


# --- disguised content -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("capture.pdf", PNG),
        ("specification.docx", PDF),
        ("chiffrage.xlsx", zip_bytes({"readme.txt": b"pas un classeur"})),
        ("chiffrage.xlsx", DOCX),
        ("specification.docx", XLSX),
        ("planning.ods", ODT),
        ("compte-rendu.odt", ODS),
        ("compte-rendu.odt", odf("text", mimetype=b"application/zip")),
        ("compte-rendu.odt", DOCX),
        ("export.csv", PNG),
        ("notes.txt", b"bonjour\x00\x00monde"),
        ("notes.txt", EXE),
        ("notes.txt", PDF),
        ("export.csv", XLSX),
        ("export.csv", b"\xef\xbb\xbf  %PDF-1.7 cache"),
        ("notes.txt", bytes(range(1, 32)) * 10),
        ("notes.txt", b"\x81\x8d\x8f\x90\x9d"),
        ("photo.jpg", PNG),
        ("capture.png", JPEG),
        ("photo.jpg", TXT),
        ("rapport.pdf", b" %PDF-1.4 avec un espace devant"),
        ("compte-rendu.odt", b"PK\x03\x04 tronque"),
        ("specification.docx", EXE + DOCX),
    ],
    ids=[
        "png-as-pdf",
        "pdf-as-docx",
        "zip-without-workbook-as-xlsx",
        "docx-as-xlsx",
        "xlsx-as-docx",
        "odt-as-ods",
        "ods-as-odt",
        "odf-with-wrong-mimetype",
        "docx-as-odt",
        "png-as-csv",
        "nul-bytes-as-txt",
        "exe-as-txt",
        "pdf-as-txt",
        "zip-as-csv",
        "pdf-after-bom-as-csv",
        "control-characters-as-txt",
        "undecodable-bytes-as-txt",
        "png-as-jpg",
        "jpeg-as-png",
        "text-as-jpg",
        "pdf-not-at-the-start",
        "truncated-zip",
        "self-extracting-exe-as-docx",
    ],
)
def test_disguised_file_is_refused(name, content) -> None:
    error = refusal(upload(name, content))
    assert error.code == "content_mismatch"
    assert "ne correspond pas" in error.messages[0]
    assert f"« {name} »" in error.messages[0]


def deflated_mimetype_bomb(*, declared_size: int | None = None) -> bytes:
    """An ODF-looking zip whose deflated mimetype member inflates to 50 MB."""
    bomb = zip_bytes({"mimetype": b"\x00" * (50 * MB), "content.xml": b"<x/>"})
    if declared_size is None:
        return bomb
    # Lie about the inflated size in both the local and the central header.
    patched = bytearray(bomb)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        header = patched.index(signature)
        patched[header + offset : header + offset + 4] = struct.pack(
            "<I", declared_size
        )
    return bytes(patched)


@pytest.mark.parametrize("declared_size", [None, 39])
def test_odf_zip_bomb_is_refused_without_inflating_it(declared_size) -> None:
    bomb = deflated_mimetype_bomb(declared_size=declared_size)
    assert len(bomb) < MB
    tracemalloc.start()
    try:
        error = refusal(upload("bombe.odt", bomb))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.code == "content_mismatch"
    assert peak < 5 * MB


def test_zip_with_a_flood_of_entries_is_refused() -> None:
    members = {
        "[Content_Types].xml": b"<Types/>",
        "xl/workbook.xml": b"<workbook/>",
        # Long names: 1,200 entries make a central directory above 1 MB.
        **{f"xl/{'x' * 1000}{index}.xml": b"" for index in range(1200)},
    }
    assert refusal(upload("inonde.xlsx", zip_bytes(members))).code == (
        "content_mismatch"
    )


# --- file pointer ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", TXT), ("chiffrage.xlsx", XLSX), ("compte-rendu.odt", ODT)],
)
def test_file_is_rewound_after_validation(name, content) -> None:
    uploaded = upload(name, content)
    uploaded.read(3)
    validate_upload(uploaded)
    assert uploaded.tell() == 0
    assert uploaded.read() == content


def test_file_is_rewound_after_a_content_refusal() -> None:
    uploaded = upload("capture.pdf", PNG)
    refusal(uploaded)
    assert uploaded.tell() == 0


# --- storage names -----------------------------------------------------------------


def test_random_names_differ_and_sit_in_a_year_month_folder() -> None:
    names = {random_storage_name("pdf") for _ in range(50)}
    assert len(names) == 50
    folder = f"{timezone.localdate():%Y/%m}/"
    for name in names:
        assert re.fullmatch(r"\d{4}/\d{2}/[0-9a-f]{32}\.pdf", name)
        assert name.startswith(folder)


def test_random_name_normalises_jpeg() -> None:
    assert random_storage_name("JPEG").endswith(".jpg")


@pytest.mark.parametrize("extension", ["exe", "../pdf", "pdf/../../x", ""])
def test_random_name_refuses_an_unvalidated_extension(extension) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        random_storage_name(extension)


def test_upload_to_never_uses_the_original_name() -> None:
    name = private_upload_to(None, "../Rapport-confidentiel-Dupont.PDF")
    assert "Rapport" not in name
    assert "Dupont" not in name
    assert ".." not in name
    assert name.endswith(".pdf")


# --- private storage ---------------------------------------------------------------


def test_private_storage_defaults_to_var_private_outside_static(settings) -> None:
    del settings.PRIVATE_MEDIA_ROOT
    storage = private_storage()
    location = Path(storage.location)
    assert location == (Path(settings.VAR_DIR) / "private").resolve()
    assert not location.is_relative_to(Path(settings.STATIC_ROOT).resolve())
    assert location != Path(settings.MEDIA_ROOT).resolve()


def test_private_storage_falls_back_to_media_private(settings) -> None:
    del settings.PRIVATE_MEDIA_ROOT
    del settings.VAR_DIR
    location = Path(private_storage().location)
    assert location == (Path(settings.MEDIA_ROOT) / "private").resolve()


def test_private_storage_follows_the_setting(settings, tmp_path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "prive"
    storage = private_storage()
    assert isinstance(storage, PrivateStorage)
    assert Path(storage.location) == (tmp_path / "prive").resolve()


@pytest.mark.parametrize("public", ["STATIC_ROOT", "MEDIA_ROOT"])
def test_private_storage_refuses_a_public_folder(settings, tmp_path, public) -> None:
    setattr(settings, public, tmp_path / "public")
    settings.PRIVATE_MEDIA_ROOT = (
        tmp_path / "public" / "prive"
        if public == "STATIC_ROOT"
        else tmp_path / "public"
    )
    with pytest.raises(ImproperlyConfigured, match="PRIVATE_MEDIA_ROOT"):
        private_storage()


def test_private_storage_has_no_public_url(settings, tmp_path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    storage = private_storage()
    name = storage.save(random_storage_name("pdf"), ContentFile(PDF))
    with pytest.raises(NotImplementedError, match="pas d'URL publique"):
        storage.url(name)


def test_private_files_are_not_world_readable(settings, tmp_path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    storage = private_storage()
    name = storage.save(random_storage_name("pdf"), ContentFile(PDF))
    assert stat.S_IMODE(Path(storage.path(name)).stat().st_mode) & 0o007 == 0


def test_private_storage_deconstructs_to_its_own_class(settings, tmp_path) -> None:
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    path, _args, _kwargs = private_storage().deconstruct()
    assert path == "workflow.uploads.PrivateStorage"


# --- download ----------------------------------------------------------------------


def body(response, field_file: FieldFile) -> bytes:
    """Read a streamed response, then release its file."""
    # Not response.close(): its request_finished signal would touch the database.
    try:
        return b"".join(response.streaming_content)
    finally:
        field_file.close()


def test_download_is_an_attachment_with_protective_headers(stored) -> None:
    field_file = stored(ODT, random_storage_name("odt"))
    response = file_download_response(field_file, download_name="rapport.odt")
    assert response["Content-Disposition"] == 'attachment; filename="rapport.odt"'
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.text"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["Content-Length"] == str(len(ODT))
    assert body(response, field_file) == ODT


def test_download_name_keeps_accents_encoded_per_rfc_5987(stored) -> None:
    field_file = stored(ODT, random_storage_name("odt"))
    response = file_download_response(field_file, download_name="Procès-verbal été.odt")
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Proc%C3%A8s-verbal%20%C3%A9t%C3%A9.odt"
    )
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.text"
    body(response, field_file)


def test_download_type_and_extension_come_from_the_stored_file(stored) -> None:
    field_file = stored(PDF, random_storage_name("pdf"))
    response = file_download_response(field_file, download_name="piege.html")
    assert response["Content-Disposition"] == ('inline; filename="piege.html.pdf"')
    assert response["Content-Type"] == "application/pdf"
    body(response, field_file)


def test_download_of_an_unknown_type_is_octet_stream(stored) -> None:
    field_file = stored(b"\x00\x01", "ancien.bin")
    response = file_download_response(field_file, download_name="ancien.bin")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="ancien.bin"'
    body(response, field_file)


def test_download_header_cannot_be_split_by_the_name(stored) -> None:
    field_file = stored(CSV_UTF8, random_storage_name("csv"))
    response = file_download_response(
        field_file, download_name='export"\r\nSet-Cookie: a=b.csv'
    )
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert response["Content-Type"] == "text/csv"
    body(response, field_file)


# --- download names ----------------------------------------------------------------


def test_safe_name_drops_directories() -> None:
    assert safe_download_name("../../etc/passwd") == "passwd"
    assert safe_download_name("C:\\Users\\agent\\rapport.pdf") == "rapport.pdf"
    assert "/" not in safe_download_name("../../etc/passwd")


def test_safe_name_cleans_newlines_and_control_characters() -> None:
    cleaned = safe_download_name("rapport\r\nfinal\x00\x07 2027.pdf")
    assert cleaned == "rapport final 2027.pdf"
    assert not any(ord(char) < 32 for char in cleaned)


def test_safe_name_removes_bidi_overrides() -> None:
    assert safe_download_name("facture\u202efdp.exe") == "facturefdp.exe"


def test_safe_name_keeps_accents_in_composed_form() -> None:
    assert safe_download_name("Procès-verbal de réception.odt") == (
        "Procès-verbal de réception.odt"
    )
    assert safe_download_name("e\u0301te\u0301.pdf") == "été.pdf"


def test_safe_name_replaces_characters_windows_refuses() -> None:
    assert safe_download_name('devis "final" v2?.pdf') == "devis _final_ v2_.pdf"


def test_safe_name_is_limited_and_keeps_its_extension() -> None:
    cleaned = safe_download_name("é" * 500 + ".xlsx")
    assert cleaned.endswith("é.xlsx")
    assert len(cleaned.encode()) <= 180


@pytest.mark.parametrize("name", ["", "..", "/", "  . ", "\x00\x01"])
def test_safe_name_falls_back_when_nothing_is_left(name) -> None:
    assert safe_download_name(name) == "fichier"
