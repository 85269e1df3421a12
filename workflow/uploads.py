"""Uploaded documents: validation, private storage on disk, and safe downloads.

An upload is accepted only if its extension is allowed, its size is within
`TANDEM_MAX_UPLOAD_MB` and its first bytes match the extension; one submission holds
at most `MAX_FILES_PER_UPLOAD` files and `TANDEM_MAX_UPLOAD_TOTAL_MB` in all
(`validate_uploads`, `MultipleFileField`). It is stored under a random name in a
private folder, never under the user's name, and served by a view that has checked
the access rules first: PDF, PNG and JPEG shown in the browser, in a sandbox, the
other types as attachments (`file_download_response`).
"""

from __future__ import annotations

import codecs
import math
import re
import secrets
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils import formats, timezone
from django.utils.cache import patch_cache_control
from django.utils.deconstruct import deconstructible
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflow.env import ConfigError

__all__ = [
    "ALLOWED_EXTENSIONS",
    "CONTENT_TYPES",
    "INLINE_EXTENSIONS",
    "MAX_FILES_PER_UPLOAD",
    "MultipleFileField",
    "MultipleFileInput",
    "PrivateStorage",
    "file_download_response",
    "files_removed_on_failure",
    "max_upload_bytes",
    "max_upload_total_bytes",
    "note_files_not_kept",
    "opens_in_browser",
    "private_storage",
    "private_upload_to",
    "random_storage_name",
    "safe_download_name",
    "validate_upload",
    "validate_upload_size",
    "validate_uploads",
]

# Ordered for the messages that list them; "jpeg" is accepted and normalised to "jpg".
ALLOWED_EXTENSIONS: tuple[str, ...] = (
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
)
_EXTENSION_ALIASES: Mapping[str, str] = MappingProxyType({"jpeg": "jpg"})

CONTENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "pdf": "application/pdf",
        "odt": "application/vnd.oasis.opendocument.text",
        "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "docx": "application/vnd.openxmlformats-officedocument"
        ".wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "png": "image/png",
        "jpg": "image/jpeg",
        "txt": "text/plain",
        "csv": "text/csv",
    }
)
_DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Types every browser displays itself without running anything the file holds:
# served inline, in a sandbox; the others are downloaded.
INLINE_EXTENSIONS = frozenset({"pdf", "png", "jpg"})
# The download's own policy: no allow-* token, so nothing in the file runs, reaches
# the site's cookies or storage, or submits anything. Not `default-src 'none'` on
# inline files: PDF viewers are plugins, which it would forbid too.
_INLINE_POLICY = "sandbox"
_ATTACHMENT_POLICY = "default-src 'none'; sandbox"

_DEFAULT_MAX_UPLOAD_MB = 20
_DEFAULT_MAX_UPLOAD_TOTAL_MB = 50
# Files in one submission: each is read (content check, SHA-256) before the answer.
MAX_FILES_PER_UPLOAD = 10
_MEGABYTE = 1024 * 1024

_PDF_SIGNATURE = b"%PDF-"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_SIGNATURES: Mapping[str, bytes] = MappingProxyType(
    {"pdf": _PDF_SIGNATURE, "png": _PNG_SIGNATURE, "jpg": _JPEG_SIGNATURE}
)

_ODF_MIMETYPES: Mapping[str, bytes] = MappingProxyType(
    {
        "odt": b"application/vnd.oasis.opendocument.text",
        "ods": b"application/vnd.oasis.opendocument.spreadsheet",
    }
)
_OOXML_MEMBERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "docx": frozenset({"[Content_Types].xml", "word/document.xml"}),
        "xlsx": frozenset({"[Content_Types].xml", "xl/workbook.xml"}),
    }
)
# The ODF mimetype member is a few dozen bytes; reading more means it is not one.
_MAX_MIMETYPE_BYTES = 128
# zipfile loads the whole central directory in one read and builds an object per
# entry: a 20 MB upload made only of entries costs seconds and ~150 MB of memory.
# Office documents need a few kilobytes of it, so any larger single read is refused.
_MAX_ZIP_READ = _MEGABYTE
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    ValueError,
    RuntimeError,  # encrypted member
    NotImplementedError,  # unsupported compression method
)

_TEXT_FORMATS = frozenset({"txt", "csv"})
_TEXT_SAMPLE_BYTES = 64 * 1024
# Formats that are not text even when their first bytes happen to be ASCII.
_BINARY_SIGNATURES = (
    _PDF_SIGNATURE,
    _PNG_SIGNATURE,
    _JPEG_SIGNATURE,
    _ZIP_LOCAL_HEADER,
    b"PK\x05\x06",  # empty zip
    b"PK\x07\x08",  # spanned zip
    b"GIF87a",
    b"GIF89a",
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE2: legacy .doc / .xls / .msi
    b"\x1f\x8b",  # gzip
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
)
# Whitespace, DOS end-of-file and the escape of coloured logs occur in real text
# files; the other C0 controls and DEL mark binary data.
_TEXT_CONTROLS = "\t\n\x0b\x0c\r\x1a\x1b"
_BINARY_CONTROLS = {
    code: None for code in [*range(0x20), 0x7F] if chr(code) not in _TEXT_CONTROLS
}
# A stray control character in a long log is tolerated; binary data has far more.
_MAX_CONTROL_SHARE = 0.01

_PRIVATE_FILE_MODE = 0o640
_PRIVATE_DIRECTORY_MODE = 0o750

_MAX_DOWNLOAD_NAME_BYTES = 180
_MAX_KEPT_EXTENSION_BYTES = 16
_FALLBACK_DOWNLOAD_NAME = "fichier"
# Characters Windows refuses in file names; browsers would mangle them anyway.
_WINDOWS_RESERVED = str.maketrans(dict.fromkeys('<>:"|?*', "_"))
_PATH_SEPARATORS = re.compile(r"[/\\]")


# --- limits ------------------------------------------------------------------------


def _limit_mb(name: str, default: int) -> int | float:
    """Return a configured size limit in megabytes, refusing nonsense."""
    value = getattr(settings, name, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(
            name, f"nombre de mégaoctets strictement positif attendu, reçu {value!r}"
        )
    return int(value) if float(value).is_integer() else value


def _max_upload_mb() -> int | float:
    """Return the configured limit of one upload in megabytes."""
    return _limit_mb("TANDEM_MAX_UPLOAD_MB", _DEFAULT_MAX_UPLOAD_MB)


def _max_upload_total_mb() -> int | float:
    """Return the configured limit of one submission's files in megabytes."""
    return _limit_mb("TANDEM_MAX_UPLOAD_TOTAL_MB", _DEFAULT_MAX_UPLOAD_TOTAL_MB)


def max_upload_bytes() -> int:
    """Return the largest accepted upload, in bytes (`TANDEM_MAX_UPLOAD_MB`)."""
    return int(_max_upload_mb() * _MEGABYTE)


def max_upload_total_bytes() -> int:
    """Return the most one submission's files may weigh together, in bytes
    (`TANDEM_MAX_UPLOAD_TOTAL_MB`)."""
    return int(_max_upload_total_mb() * _MEGABYTE)


# --- validation --------------------------------------------------------------------


def _extension_of(name: str) -> str:
    """Return the lower-case, normalised extension of a file name ('' if none)."""
    base = _PATH_SEPARATORS.split(name.strip())[-1]
    _stem, dot, extension = base.rpartition(".")
    if not dot:
        return ""
    extension = extension.strip().lower()
    return _EXTENSION_ALIASES.get(extension, extension)


def _allowed_list() -> str:
    """Return the allowed extensions as shown to users."""
    return ", ".join(f".{extension}" for extension in ALLOWED_EXTENSIONS)


def _size_of(uploaded: UploadedFile) -> int:
    """Return the upload's size, measuring it by seeking when the handler gave none."""
    if uploaded.size is not None:
        return uploaded.size
    uploaded.seek(0, 2)
    size = uploaded.tell()
    uploaded.seek(0)
    return size


def validate_upload(uploaded: UploadedFile) -> str:
    """Check an upload's name, size and content; return its normalised extension."""
    original_name = uploaded.name or ""
    display_name = safe_download_name(original_name)
    if not original_name.strip():
        raise ValidationError(
            _("Le fichier envoyé n'a pas de nom : son type ne peut pas être reconnu."),
            code="no_name",
        )
    extension = _extension_of(original_name)
    if not extension:
        raise ValidationError(
            _(
                "Le fichier « %(name)s » n'a pas d'extension. "
                "Types de fichiers acceptés : %(allowed)s."
            ),
            code="no_extension",
            params={"name": display_name, "allowed": _allowed_list()},
        )
    if extension not in ALLOWED_EXTENSIONS:
        raise ValidationError(
            _(
                "Le fichier « %(name)s » n'est pas accepté : le type .%(extension)s "
                "n'est pas autorisé. Types de fichiers acceptés : %(allowed)s."
            ),
            code="extension_not_allowed",
            params={
                "name": display_name,
                "extension": extension,
                "allowed": _allowed_list(),
            },
        )
    # The size comes from the upload handler: nothing is read before it is checked.
    size = _size_of(uploaded)
    if size == 0:
        raise ValidationError(
            _("Le fichier « %(name)s » est vide."),
            code="empty",
            params={"name": display_name},
        )
    validate_upload_size(uploaded)
    try:
        matches = _content_matches(uploaded, extension, size)
    finally:
        uploaded.seek(0)
    if not matches:
        raise ValidationError(
            _(
                "Le contenu du fichier « %(name)s » ne correspond pas à un fichier "
                ".%(extension)s : il est peut-être endommagé ou d'un autre type."
            ),
            code="content_mismatch",
            params={"name": display_name, "extension": extension},
        )
    return extension


def validate_upload_size(uploaded: UploadedFile) -> None:
    """Refuse an upload above `TANDEM_MAX_UPLOAD_MB`: every file field validates it."""
    # The size comes from the upload handler: nothing is read before it is checked.
    if _size_of(uploaded) > max_upload_bytes():
        raise ValidationError(
            _(
                "Le fichier « %(name)s » dépasse la taille maximale autorisée "
                "(%(limit)s Mo)."
            ),
            code="too_large",
            params={
                "name": safe_download_name(uploaded.name or ""),
                "limit": formats.number_format(_max_upload_mb()),
            },
        )


def validate_uploads(files: Sequence[UploadedFile]) -> list[str]:
    """Check the files of one submission: their number, their total size, then each
    (`validate_upload`, one message per bad file); return their extensions."""
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise ValidationError(
            _(
                "Vous avez choisi %(count)s fichiers : %(limit)s au plus par envoi. "
                "Joignez les autres en un second envoi."
            ),
            code="too_many_files",
            params={"count": len(files), "limit": MAX_FILES_PER_UPLOAD},
        )
    # Sizes come from the upload handler: nothing is read before they are checked.
    total = sum(_size_of(uploaded) for uploaded in files)
    if total > max_upload_total_bytes():
        raise ValidationError(
            _(
                "Les fichiers choisis font %(total)s Mo en tout : %(limit)s Mo au plus "
                "par envoi. Joignez-en une partie en un second envoi."
            ),
            code="total_too_large",
            params={
                "total": formats.number_format(total / _MEGABYTE, decimal_pos=1),
                "limit": formats.number_format(_max_upload_total_mb()),
            },
        )
    extensions, errors = [], []
    for uploaded in files:
        try:
            extensions.append(validate_upload(uploaded))
        except ValidationError as error:
            errors.extend(error.error_list)
    if errors:
        raise ValidationError(errors)
    return extensions


def _content_matches(uploaded: UploadedFile, extension: str, size: int) -> bool:
    """Tell whether the first bytes of the upload are those of its extension."""
    # The browser's declared content type is the user's word: only bytes count.
    if extension in _ODF_MIMETYPES or extension in _OOXML_MEMBERS:
        return _zip_matches(uploaded, extension, size)
    uploaded.seek(0)
    if extension in _TEXT_FORMATS:
        sample = uploaded.read(_TEXT_SAMPLE_BYTES)
        return _looks_like_text(sample, complete=len(sample) >= size)
    signature = _SIGNATURES[extension]
    return uploaded.read(len(signature)) == signature


def _looks_like_text(sample: bytes, *, complete: bool) -> bool:
    """Tell whether a sample is UTF-8 or Windows-1252 text rather than binary data."""
    if b"\x00" in sample:
        return False
    start = sample.removeprefix(codecs.BOM_UTF8).lstrip()
    if start.startswith(_BINARY_SIGNATURES):
        return False
    try:
        # An incomplete sample may end in the middle of a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(
            sample, final=complete
        )
    except UnicodeDecodeError:
        try:
            # French spreadsheets export CSV in Windows-1252.
            text = sample.decode("cp1252")
        except UnicodeDecodeError:
            return False
    controls = len(text) - len(text.translate(_BINARY_CONTROLS))
    return controls <= len(text) * _MAX_CONTROL_SHARE


class _ReadLimitExceeded(Exception):
    """A zip structure asked for more bytes than an office document needs."""


class _CappedReader:
    """Seekable view of an upload that refuses any single read above a cap."""

    def __init__(self, raw: IO[bytes] | UploadedFile, *, size: int, cap: int):
        self._raw = raw
        self._size = size
        self._cap = cap

    def read(self, n: int | None = -1) -> bytes:
        remaining = max(self._size - self._raw.tell(), 0)
        wanted = remaining if n is None or n < 0 else min(n, remaining)
        if wanted > self._cap:
            raise _ReadLimitExceeded
        return self._raw.read(wanted)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._raw.seek(offset, whence)
        return self._raw.tell()

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return True


def _zip_matches(uploaded: UploadedFile, extension: str, size: int) -> bool:
    """Tell whether an upload is a zip holding the members of its office format."""
    uploaded.seek(0)
    # A zip may follow other data (self-extracting executables): demand it first.
    if uploaded.read(len(_ZIP_LOCAL_HEADER)) != _ZIP_LOCAL_HEADER:
        return False
    reader = _CappedReader(uploaded, size=size, cap=_MAX_ZIP_READ)
    try:
        with zipfile.ZipFile(reader) as archive:
            if extension in _ODF_MIMETYPES:
                mimetype = _read_small_member(archive, "mimetype", _MAX_MIMETYPE_BYTES)
                return mimetype == _ODF_MIMETYPES[extension]
            return _OOXML_MEMBERS[extension] <= set(archive.namelist())
    except (_ReadLimitExceeded, *_ZIP_ERRORS):
        return False


def _read_small_member(archive: zipfile.ZipFile, name: str, cap: int) -> bytes | None:
    """Return a member's bytes if it holds at most `cap` of them, without extracting."""
    info = archive.getinfo(name)
    if info.file_size > cap:
        return None
    # The declared size may lie (zip bomb): the read itself is capped too.
    with archive.open(info) as member:
        data = member.read(cap + 1)
    return data if len(data) <= cap else None


# --- several files in one form field ------------------------------------------------


def _limits_help_text() -> str:
    """The accepted types and limits, as a file field's help text shows them."""
    return " ".join(
        (
            _("PDF, ODT, ODS, DOCX, XLSX, PNG, JPG, TXT ou CSV."),
            _(
                "Jusqu'à %(count)s fichiers par envoi, %(size)s Mo chacun, "
                "%(total)s Mo en tout."
            )
            % {
                "count": MAX_FILES_PER_UPLOAD,
                "size": formats.number_format(_max_upload_mb()),
                "total": formats.number_format(_max_upload_total_mb()),
            },
        )
    )


class MultipleFileInput(forms.ClearableFileInput):
    """A file input where several files are chosen at once."""

    allow_multiple_selected = True

    def __init__(self, attrs=None):
        # The browser's file picker offers the accepted types first.
        accept = ",".join(f".{extension}" for extension in ALLOWED_EXTENSIONS)
        super().__init__({"accept": accept, **(attrs or {})})


class MultipleFileField(forms.FileField):
    """Several files in one field, cleaned to a list (empty when none is required).

    Each file gets the checks of `validate_upload` (type, size, content; a message
    per bad file, naming it) and the field's own validators; the submission gets
    those of `validate_uploads` (number of files, total size). A form shown again
    has lost its files: say so with `note_files_not_kept`.
    """

    widget = MultipleFileInput
    default_error_messages = {
        "required": gettext_lazy("Choisissez au moins un fichier."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", lazy(_limits_help_text, str)())
        # An empty file is refused by validate_upload, with its name.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> list[UploadedFile]:
        chosen = list(data) if isinstance(data, list | tuple) else [data]
        # False: the clear box of a forged form, with nothing to clear.
        chosen = [
            item
            for item in chosen
            if item is not False and item not in self.empty_values
        ]
        if not chosen:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        files, errors = [], []
        for item in chosen:
            try:
                files.append(super().clean(item, initial))
            except ValidationError as error:
                errors.extend(error.error_list)
        if errors:
            raise ValidationError(errors)
        validate_uploads(files)
        return files


def note_files_not_kept(form: forms.BaseForm, name: str) -> None:
    """On a form shown again, tell that the files sent in `name` were not kept:
    a browser never fills a file input back in, they must be chosen again."""
    if form.is_bound and form.files.getlist(name):
        form.add_error(
            name,
            ValidationError(
                _(
                    "Aucun des fichiers choisis n'a été enregistré : "
                    "choisissez-les de nouveau."
                ),
                code="files_not_kept",
            ),
        )


# --- storage -----------------------------------------------------------------------


def random_storage_name(extension: str) -> str:
    """Return a fresh random storage name such as `2027/05/<32 hex>.pdf`."""
    normalised = _EXTENSION_ALIASES.get(extension.lower(), extension.lower())
    # The extension ends up in a path: only a validated one may get there.
    if normalised not in ALLOWED_EXTENSIONS:
        raise ValueError(f"Extension not allowed for storage: {extension!r}")
    return f"{timezone.localdate():%Y/%m}/{secrets.token_hex(16)}.{normalised}"


def private_upload_to(instance: Any, filename: str) -> str:
    """`upload_to` for FileFields: a random name, keeping only the extension."""
    return random_storage_name(_extension_of(filename))


@deconstructible(path="workflow.uploads.PrivateStorage")
class PrivateStorage(FileSystemStorage):
    """File system storage whose files have no URL: they go through a download view."""

    def url(self, name: str | None) -> str:
        raise NotImplementedError(
            "Les fichiers privés n'ont pas d'URL publique : servez-les par une vue "
            "qui vérifie les droits d'accès puis appelle file_download_response()."
        )


@contextmanager
def files_removed_on_failure() -> Iterator[Callable[[File], None]]:
    """Yield a function to note each file stored in the block; if the block fails,
    remove them from disk. Put the transaction inside: its rollback drops the rows,
    not the files."""
    stored: list[File] = []
    try:
        yield stored.append
    except BaseException:
        for field_file in stored:
            field_file.storage.delete(field_file.name)
        raise


def _private_root() -> Path:
    """Return the configured private folder (PRIVATE_MEDIA_ROOT, else under var/)."""
    configured = getattr(settings, "PRIVATE_MEDIA_ROOT", None)
    if configured:
        return Path(configured)
    var_dir = getattr(settings, "VAR_DIR", None)
    if var_dir:
        return Path(var_dir) / "private"
    return Path(settings.MEDIA_ROOT) / "private"


def _public_roots() -> list[Path]:
    """Return the folders whose content is served without any access check."""
    roots = []
    if static_root := getattr(settings, "STATIC_ROOT", None):
        roots.append(Path(static_root))
    for entry in getattr(settings, "STATICFILES_DIRS", ()):
        roots.append(Path(entry[1] if isinstance(entry, tuple | list) else entry))
    return roots


def private_storage() -> PrivateStorage:
    """Return the storage of private documents (pass it uncalled to FileField)."""
    location = _private_root().resolve()
    media_root = getattr(settings, "MEDIA_ROOT", None)
    public = [root.resolve() for root in _public_roots()]
    if any(location.is_relative_to(root) for root in public) or (
        media_root and location == Path(media_root).resolve()
    ):
        raise ConfigError(
            "PRIVATE_MEDIA_ROOT",
            f"{location} est servi publiquement (fichiers statiques ou MEDIA_ROOT) : "
            "choisissez un dossier à part",
        )
    # Not world-readable: the documents are personal data of the administrations.
    return PrivateStorage(
        location=location,
        base_url=None,
        file_permissions_mode=_PRIVATE_FILE_MODE,
        directory_permissions_mode=_PRIVATE_DIRECTORY_MODE,
    )


# --- download ----------------------------------------------------------------------


def _clean_char(char: str) -> str:
    """Map one character of a user's file name to what a download name may hold."""
    category = unicodedata.category(char)
    if category in {"Cc", "Zl", "Zp"}:
        return " "
    # Format characters include the bidi overrides that disguise "exe.pdf" names.
    if category in {"Cf", "Cs", "Co", "Cn"}:
        return ""
    return char.translate(_WINDOWS_RESERVED)


def safe_download_name(original_name: str) -> str:
    """Return the user's file name cleaned for a Content-Disposition header."""
    name = unicodedata.normalize("NFC", original_name or "")
    name = _PATH_SEPARATORS.split(name)[-1]
    name = " ".join("".join(map(_clean_char, name)).split()).rstrip(" .")
    if not name:
        return _FALLBACK_DOWNLOAD_NAME
    stem, dot, extension = name.rpartition(".")
    suffix = f".{extension}"
    if not dot or len(suffix.encode()) > _MAX_KEPT_EXTENSION_BYTES:
        stem, suffix = name, ""
    budget = _MAX_DOWNLOAD_NAME_BYTES - len(suffix.encode())
    # Leading dots go from the stem only: ".pdf" keeps the extension it was
    # validated (and is stored) with, as "fichier.pdf".
    stem = stem.encode()[:budget].decode("utf-8", "ignore").strip(" .")
    return f"{stem}{suffix}" if stem else f"{_FALLBACK_DOWNLOAD_NAME}{suffix}"


def opens_in_browser(name: str) -> bool:
    """Tell whether a stored file of this name is shown by the browser rather than
    downloaded (its type: `INLINE_EXTENSIONS`)."""
    return _extension_of(name or "") in INLINE_EXTENSIONS


def file_download_response(
    file_field_file: File, *, download_name: str
) -> FileResponse:
    """Send a private file, inline for the types browsers show safely (sandboxed),
    else as an attachment; call only after access rules allowed it."""
    # The stored name was built from the validated extension; the download name is
    # the user's and only labels the file, so the type comes from the stored one.
    extension = _extension_of(file_field_file.name or "")
    filename = safe_download_name(download_name)
    if extension in CONTENT_TYPES and _extension_of(filename) != extension:
        filename = safe_download_name(f"{filename}.{extension}")
    content_type = CONTENT_TYPES.get(extension, _DEFAULT_CONTENT_TYPE)
    handle = file_field_file.open("rb")
    inline = extension in INLINE_EXTENSIONS
    if inline:
        # Files stored before the content checks (or by another path) are shown
        # only if their first bytes are still those of their type.
        signature = _SIGNATURES[extension]
        inline = handle.read(len(signature)) == signature
        handle.seek(0)
        if not inline:
            content_type = _DEFAULT_CONTENT_TYPE
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        _INLINE_POLICY if inline else _ATTACHMENT_POLICY
    )
    patch_cache_control(response, private=True, no_store=True)
    # Journalled by workflow.middleware.AuditMiddleware.
    response.audit = {
        "action": "telechargement",
        "subject": getattr(file_field_file, "instance", None),
        "filename": filename,
        "sha256": getattr(getattr(file_field_file, "instance", None), "sha256", None),
    }
    return response
