"""Import of an acceptance plan's test cases from a spreadsheet (CSV or XLSX).

Pure parsing and validation behind the dry-run preview: nothing here touches the
database. `parse_cases` always reads and checks the whole file and returns the cases
it understood together with every bad row, so that the user fixes the file in one go.
A service elsewhere saves the cases, and only when the preview is `ok`; when it is
not, `cases` still holds a best-effort reading for display.

Spreadsheet format
------------------
One row per step. The first non-blank row holds the headers, in any order. They are
matched ignoring case, accents and surrounding spaces (and spaces, underscores,
hyphens and apostrophes inside): "Résultat attendu ", "RESULTAT_ATTENDU" and
"résultat attendu" are the same column. Unknown columns are ignored.

==================  =========  ======================================================
Header              Required   Content
==================  =========  ======================================================
référence           yes        case reference, e.g. "CT-001"; starts a case
titre               yes        case title, required on the first row of a case
objectif            no         case objective
priorité            no         haute, moyenne or basse (also h, m, b or 1, 2, 3);
                               moyenne when empty
préconditions       no         case preconditions (also "précondition")
section             no         section of the specification, free text ("3.2")
étape               no         step number, see below
action              yes        what the tester does, on every row
résultat attendu    yes        what should happen, on every row
                               (also "résultats attendus")
==================  =========  ======================================================

A row with a reference starts a case; the rows below it with an empty reference (or
the same reference repeated) add steps to that case. On those continuation rows the
case columns (titre, objectif, priorité, préconditions, section) are empty or repeat
the value of the case's first row. A reference that comes back after another case is
an error ("référence en double"): the rows of a case are contiguous.

Step numbers are optional. A given number is a positive integer greater than the
previous step's number in the case; an empty one is the previous number plus one, so
a case without numbers has steps 1..n in row order.

Limits: at most `max_rows` non-blank data rows (5,000 by default) and 4,000
characters per cell. Blank rows are skipped, but they count towards a bound on the
lines read, blank or not: twice `max_rows` (10,000 by default), and a file is read
only on its first `MAX_COLUMNS` (50) columns, a value further right refusing it.

These bounds are checked before or while reading, never after: a file over them is
refused as soon as they are passed, so a small file that unfolds into millions of
rows costs no more than one at the limit. The file itself is refused above
`TANDEM_MAX_UPLOAD_MB`; an XLSX whose worksheets (and shared strings) would take
more than `MAX_XLSX_XML_BYTES` once uncompressed, or whose worksheet declares more
lines or columns than the bounds (its `dimension`), is refused before any row is
parsed, and the lines of every worksheet are counted on the uncompressed XML before
openpyxl loads it (openpyxl reads a whole worksheet when it has no `dimension`).

Line numbers are those the user sees in a spreadsheet program: the header is line 1
and a CSV record whose quoted cell spans several text lines counts as one line.
Errors about the file as a whole (format, encoding, damage, size) carry line 0.

CSV: UTF-8 with or without BOM (UTF-16 with BOM too, as Excel's "Unicode text"),
otherwise Windows-1252; the delimiter, ';' (French Excel), ',' or tab, is sniffed,
';' being the fallback. XLSX: first worksheet, cached values of formulas; whole
numbers read as integers (a step typed 1 or 1.0 is "1"), dates as dd/mm/yyyy.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import load_workbook

from workflow.uploads import max_upload_bytes, safe_download_name, validate_upload_size

__all__ = [
    "DEFAULT_MAX_ROWS",
    "HEADERS",
    "MAX_CELL_LENGTH",
    "MAX_COLUMNS",
    "MAX_STEP_NUMBER",
    "MAX_XLSX_XML_BYTES",
    "PRIORITIES",
    "CaseRow",
    "ImportPreview",
    "RowError",
    "StepRow",
    "parse_cases",
]

DEFAULT_MAX_ROWS = 5000
MAX_CELL_LENGTH = 4000
# The format has 9 columns; the rest leaves room for the user's own notes.
MAX_COLUMNS = 50
# A plan at the row limit with long texts takes a few megabytes of XML; parsing it
# costs about a second per 8 MB, whatever the size of the compressed file.
MAX_XLSX_XML_BYTES = 16 * 1024 * 1024
# Far above any real case; keeps the number within a small integer column.
MAX_STEP_NUMBER = 9999
PRIORITIES: tuple[str, ...] = ("haute", "moyenne", "basse")
DEFAULT_PRIORITY = "moyenne"

# Field name → header as written in the template and named in error messages. The
# headers stay French whatever the interface language: they are the file's.
HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "reference": "référence",
        "title": "titre",
        "objective": "objectif",
        "priority": "priorité",
        "preconditions": "préconditions",
        "section": "section",
        "step": "étape",
        "action": "action",
        "expected": "résultat attendu",
    }
)
_HEADER_ALIASES: Mapping[str, str] = MappingProxyType(
    {"précondition": "preconditions", "résultats attendus": "expected"}
)
_REQUIRED_FIELDS = ("reference", "title", "action", "expected")
_CASE_FIELDS = ("title", "objective", "priority", "preconditions", "section")

_EXTENSIONS = (".csv", ".xlsx")
_CSV_DELIMITERS = ";,\t"
_CSV_FALLBACK_DELIMITER = ";"
# csv.Sniffer's regular expressions are quadratic on hostile input: keep it small.
_SNIFF_MAX_CHARS = 4096
_SNIFF_MAX_LINES = 20
_EXCERPT_CHARS = 60
_XLSX_XML_PARTS = re.compile(r"xl/(?:worksheets/[^/]+|sharedStrings)\.xml", re.I)
_XLSX_WORKSHEET = re.compile(r"xl/worksheets/[^/]+\.xml", re.I)
# A row's start tag, with or without a namespace prefix ("<row r=", "<x:row>").
_XLSX_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_XLSX_SCAN_CHUNK = 256 * 1024
# Longer than any row tag: a tag cut by a chunk boundary is found in the next one.
_XLSX_SCAN_OVERLAP = 64
_STEP_NUMBER = re.compile(r"(\d+)(?:[.,]0*)?")


@dataclass(frozen=True)
class StepRow:
    """One step of a test case: what the tester does and what should happen."""

    number: int
    action: str
    expected: str


@dataclass(frozen=True)
class CaseRow:
    """One test case read from the spreadsheet, with its steps in order."""

    reference: str
    title: str
    objective: str
    priority: str  # "haute" | "moyenne" | "basse"
    preconditions: str
    section: str
    steps: tuple[StepRow, ...]
    first_line: int


@dataclass(frozen=True)
class RowError:
    """A problem found on one line (0 for the whole file), in French."""

    line: int  # spreadsheet line number as the user sees it (header = line 1)
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line and self.column:
            return _("Ligne %(line)s, « %(column)s » : %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        if self.line:
            return _("Ligne %(line)s : %(message)s") % {
                "line": self.line,
                "message": self.message,
            }
        return self.message


@dataclass(frozen=True)
class ImportPreview:
    """What an import would create, and every reason it cannot yet."""

    cases: tuple[CaseRow, ...]
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        """True when the file has no error and its cases may be saved."""
        return not self.errors

    @property
    def bad_lines(self) -> list[int]:
        """Sorted distinct line numbers that carry at least one error."""
        return sorted({error.line for error in self.errors})


def parse_cases(
    file: IO[bytes] | bytes,
    *,
    filename: str,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ImportPreview:
    """Read a CSV or XLSX plan of test cases and report every bad row."""
    extension = PurePath(filename or "").suffix.lower()
    if extension not in _EXTENSIONS:
        return _file_error(
            _(
                "Le fichier « %(name)s » n'est pas pris en charge : importez un "
                "tableau au format .csv ou .xlsx."
            )
            % {"name": safe_download_name(filename)}
        )
    max_lines = 2 * max_rows
    try:
        data = _read_bounded(file, filename)
        if extension == ".csv":
            rows = _csv_rows(data)
        else:
            _check_xlsx_archive(data, max_lines=max_lines)
            rows = _xlsx_rows(data, max_lines=max_lines)
    except _UnreadableFileError as error:
        return _file_error(error.message)
    try:
        return _parse_rows(_bounded(rows, max_lines), max_rows=max_rows)
    except _UnreadableFileError as error:
        return _file_error(error.message)
    finally:
        # Closes the workbook when parsing stopped early (too many rows).
        rows.close()


class _UnreadableFileError(Exception):
    """The file cannot be read as its format, or not within the import's bounds."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _read_bounded(file: IO[bytes] | bytes, filename: str) -> bytes:
    """The file's bytes, refused above the upload limit without reading further."""
    limit = max_upload_bytes()
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
    else:
        # A form may already have read the upload to check its type.
        if file.seekable():
            file.seek(0)
        data = file.read(limit + 1)
    try:
        # The form has checked the size already, in the same words.
        validate_upload_size(UploadedFile(name=filename, size=len(data)))
    except ValidationError as error:
        raise _UnreadableFileError(error.messages[0]) from error
    return data


def _bounded(rows: Rows, max_lines: int) -> Generator[tuple[int, list[str]]]:
    """The rows of a reader, refusing the file on the first line past the bound."""
    for line, cells in rows:
        if line > max_lines:
            raise _UnreadableFileError(_too_many_lines_message(max_lines))
        yield line, cells


def _too_many_lines_message(max_lines: int) -> str:
    return _(
        "Le fichier compte plus de %(max)s lignes, lignes vides comprises : "
        "supprimez les lignes vides en fin de tableau ou découpez-le en plusieurs "
        "fichiers."
    ) % {"max": _number(max_lines)}


def _too_many_columns_message() -> str:
    return _(
        "Le fichier a des valeurs au-delà de la colonne %(max)s : supprimez les "
        "colonnes inutiles, le format n'en compte que %(used)s."
    ) % {"max": MAX_COLUMNS, "used": len(HEADERS)}


def _file_error(message: str) -> ImportPreview:
    return ImportPreview(
        cases=(), errors=(RowError(line=0, column=None, message=message),)
    )


# Readers: each yields (line number, cleaned cell texts) for every row of the file.

Rows = Generator[tuple[int, list[str]], None, None]


def _csv_rows(data: bytes) -> Rows:
    text = _decode(data)
    delimiter = _csv_delimiter(text)
    # Only the delimiter is taken from sniffing: it tends to mistake the apostrophes
    # of French text for a quote character.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _UnreadableFileError(
                _(
                    "Le fichier CSV est mal formé à la ligne %(line)s (guillemets non "
                    "refermés ou cellule démesurée)."
                )
                % {"line": line + 1}
            ) from error
        line += 1
        if len(record) > MAX_COLUMNS:
            if any(cell.strip() for cell in record[MAX_COLUMNS:]):
                raise _UnreadableFileError(_too_many_columns_message())
            del record[MAX_COLUMNS:]
        yield line, [_clean(cell) for cell in record]


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _UnreadableFileError(
        _(
            "Le fichier CSV n'a pas pu être décodé : enregistrez-le en UTF-8 ou en "
            "Windows-1252 (« CSV (séparateur : point-virgule) » dans Excel)."
        )
    )


def _csv_delimiter(text: str) -> str:
    lines = text[:_SNIFF_MAX_CHARS].splitlines()[:_SNIFF_MAX_LINES]
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), _CSV_DELIMITERS).delimiter
    except csv.Error:
        sniffed = _CSV_FALLBACK_DELIMITER
    # The headers are known: a delimiter that splits them better wins over the guess,
    # which a few commas in the text of the first cases can mislead.
    header = next((line for line in lines if line.strip()), "")

    def recognised(delimiter: str) -> int:
        cells = next(csv.reader([header], delimiter=delimiter), [])
        return len({_field_of_header(cell) for cell in cells} - {None})

    best = max(_CSV_DELIMITERS, key=recognised)
    return best if recognised(best) > recognised(sniffed) else sniffed


def _check_xlsx_archive(data: bytes, *, max_lines: int) -> None:
    """Refuse a workbook whose XML is over the bounds before openpyxl parses it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [
                info
                for info in archive.infolist()
                if _XLSX_XML_PARTS.fullmatch(info.filename)
            ]
            # zipfile stops reading a member at its declared size: it is a bound.
            if sum(info.file_size for info in parts) > MAX_XLSX_XML_BYTES:
                raise _UnreadableFileError(
                    _(
                        "Le classeur est trop volumineux une fois décompressé (plus "
                        "de %(max)s Mo de données) : enregistrez-le au format .csv "
                        "ou découpez-le en plusieurs fichiers."
                    )
                    % {"max": MAX_XLSX_XML_BYTES // (1024 * 1024)}
                )
            for info in parts:
                if _XLSX_WORKSHEET.fullmatch(info.filename):
                    with archive.open(info) as member:
                        if _rows_over(member, max_lines):
                            raise _UnreadableFileError(
                                _too_many_lines_message(max_lines)
                            )
    except _UnreadableFileError:
        raise
    # A damaged archive: openpyxl says so in the words of the import.
    except Exception as error:
        raise _UnreadableFileError(_unreadable_workbook_message()) from error


def _rows_over(member: IO[bytes], max_lines: int) -> bool:
    """Tell whether a worksheet's XML has more than `max_lines` rows; stop there."""
    count = 0
    tail = b""
    while chunk := member.read(_XLSX_SCAN_CHUNK):
        window = tail + chunk
        # Tags whole within the overlap were counted with the previous chunk.
        seen = len(tail)
        count += sum(
            1 for match in _XLSX_ROW_TAG.finditer(window) if match.end() > seen
        )
        if count > max_lines:
            return True
        tail = window[-_XLSX_SCAN_OVERLAP:]
    return False


def _xlsx_rows(data: bytes, *, max_lines: int) -> Rows:
    try:
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    # openpyxl fails in many ways on a damaged file (zip, XML, missing parts).
    except Exception as error:
        raise _UnreadableFileError(_unreadable_workbook_message()) from error
    try:
        try:
            sheet = workbook.worksheets[0]
            # The declared dimension is enough to refuse, not to read by: it may be
            # wrong, so the rows are read without it and bounded as they come.
            declared_rows, declared_columns = sheet.max_row, sheet.max_column
            sheet.reset_dimensions()
            # One column past the bound tells whether anything lies beyond it;
            # openpyxl drops the cells further right instead of padding rows to them.
            rows = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        except Exception as error:
            raise _UnreadableFileError(_unreadable_workbook_message()) from error
        if declared_rows is not None and declared_rows > max_lines:
            raise _UnreadableFileError(_too_many_lines_message(max_lines))
        if declared_columns is not None and declared_columns > MAX_COLUMNS:
            raise _UnreadableFileError(_too_many_columns_message())
        line = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as error:
                raise _UnreadableFileError(_unreadable_workbook_message()) from error
            line += 1
            if values[MAX_COLUMNS] is not None:
                raise _UnreadableFileError(_too_many_columns_message())
            # Missing rows come as one shared tuple of None: nothing to convert.
            if values.count(None) == len(values):
                yield line, []
                continue
            end = MAX_COLUMNS
            while values[end - 1] is None:
                end -= 1
            yield line, [_clean(_xlsx_text(value)) for value in values[:end]]
    finally:
        workbook.close()


def _unreadable_workbook_message() -> str:
    return _(
        "Le classeur n'a pas pu être lu : il est peut-être endommagé, protégé par un "
        "mot de passe ou d'un autre format. Enregistrez-le de nouveau au format .xlsx "
        "ou .csv."
    )


def _xlsx_text(value: object) -> str:
    """Give a cell value the text the user typed or sees."""
    if value is None:
        return ""
    if isinstance(value, bool):
        # As French Excel displays them.
        return "VRAI" if value else "FAUX"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _clean(text: str) -> str:
    # NUL cannot be stored by PostgreSQL; NFC makes macOS exports compare equal.
    text = unicodedata.normalize("NFC", text.replace("\x00", ""))
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _fold(text: str) -> str:
    """Lower-case, accent-free, letters and digits only: how headers are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed.casefold() if char.isalnum())


_FIELDS_BY_FOLDED_HEADER: Mapping[str, str] = MappingProxyType(
    {_fold(header): name for name, header in HEADERS.items()}
    | {_fold(header): name for header, name in _HEADER_ALIASES.items()}
)
_PRIORITIES_BY_FOLDED_VALUE: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("haute", "h", "1"), "haute"),
        **dict.fromkeys(("moyenne", "m", "2"), "moyenne"),
        **dict.fromkeys(("basse", "b", "3"), "basse"),
    }
)


def _field_of_header(header: str) -> str | None:
    return _FIELDS_BY_FOLDED_HEADER.get(_fold(header))


def _priority_of(text: str) -> str | None:
    """Canonical priority of a cell, the default when empty, None when unknown."""
    if not text:
        return DEFAULT_PRIORITY
    return _PRIORITIES_BY_FOLDED_VALUE.get(_fold(text))


def _step_number_of(text: str) -> int | None:
    """A positive whole number, also written "2.0" or "2,0"; None otherwise."""
    match = _STEP_NUMBER.fullmatch(text)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number > 0 else None


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _EXCERPT_CHARS:
        return text
    return text[: _EXCERPT_CHARS - 1] + "…"


def _number(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


# Validation of the rows, once the reader has turned them into text.


def _parse_rows(
    rows: Iterator[tuple[int, list[str]]], *, max_rows: int
) -> ImportPreview:
    header = next(((line, cells) for line, cells in rows if any(cells)), None)
    if header is None:
        return _file_error(
            _(
                "Le fichier est vide : sa première ligne doit porter les en-têtes des "
                "colonnes, puis une ligne par étape."
            )
        )
    columns, header_errors = _read_header(*header)
    if header_errors:
        return ImportPreview(cases=(), errors=tuple(header_errors))
    plan = _PlanBuilder()
    data_rows = 0
    for line, cells in rows:
        values = {
            name: cells[index] if index < len(cells) else ""
            for name, index in columns.items()
        }
        if not any(values.values()):
            continue
        data_rows += 1
        if data_rows > max_rows:
            return _file_error(
                _(
                    "Le fichier compte plus de %(max)s lignes d'étapes : découpez-le "
                    "en plusieurs fichiers."
                )
                % {"max": _number(max_rows)}
            )
        plan.add_row(line, values)
    return plan.preview()


def _read_header(line: int, cells: list[str]) -> tuple[dict[str, int], list[RowError]]:
    """Map each known field to its column index; report duplicate or missing ones."""
    columns: dict[str, int] = {}
    errors: list[RowError] = []
    for index, cell in enumerate(cells):
        name = _field_of_header(cell)
        if name is None:
            continue
        if name not in columns:
            columns[name] = index
            continue
        if not any(error.column == HEADERS[name] for error in errors):
            errors.append(
                RowError(
                    line=line,
                    column=HEADERS[name],
                    message=_(
                        "La colonne « %(column)s » apparaît plusieurs fois dans "
                        "l'en-tête : gardez-en une seule."
                    )
                    % {"column": HEADERS[name]},
                )
            )
    missing = [name for name in _REQUIRED_FIELDS if name not in columns]
    if missing:
        message = ngettext(
            "La colonne obligatoire %(columns)s est absente de l'en-tête.",
            "Les colonnes obligatoires %(columns)s sont absentes de l'en-tête.",
            len(missing),
        ) % {"columns": ", ".join(f"« {HEADERS[name]} »" for name in missing)}
        message += " " + _(
            "La première ligne doit porter les en-têtes : %(headers)s."
        ) % {"headers": ", ".join(HEADERS.values())}
        errors.insert(0, RowError(line=line, column=None, message=message))
    return columns, errors


@dataclass
class _CaseDraft:
    reference: str
    first_line: int
    title: str
    objective: str
    priority: str
    preconditions: str
    section: str
    # What continuation rows must repeat, per case field; None: nothing to compare.
    expected_values: dict[str, str | None]
    steps: list[StepRow] = field(default_factory=list)

    @property
    def last_number(self) -> int:
        return self.steps[-1].number if self.steps else 0

    def freeze(self) -> CaseRow:
        return CaseRow(
            reference=self.reference,
            title=self.title,
            objective=self.objective,
            priority=self.priority,
            preconditions=self.preconditions,
            section=self.section,
            steps=tuple(self.steps),
            first_line=self.first_line,
        )


class _PlanBuilder:
    """Groups the data rows into cases, row by row, collecting every error."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.cases: list[_CaseDraft] = []
        self.first_lines: dict[str, int] = {}  # folded reference → line
        self.current: _CaseDraft | None = None

    def preview(self) -> ImportPreview:
        return ImportPreview(
            cases=tuple(case.freeze() for case in self.cases),
            errors=tuple(self.errors),
        )

    def add_row(self, line: int, values: dict[str, str]) -> None:
        self._check_lengths(line, values)
        reference = values["reference"]
        current = self.current
        if reference and (
            current is None or reference.casefold() != current.reference.casefold()
        ):
            self.current = self._start_case(line, values)
        elif current is None:
            self._error(
                line,
                "reference",
                _(
                    "Aucun cas ne commence avant cette ligne : renseignez la "
                    "référence du cas dans la colonne « référence »."
                ),
            )
        else:
            self._check_continuation(line, values, current)
        self._add_step(line, values, self.current)

    def _error(self, line: int, name: str, message: str) -> None:
        self.errors.append(RowError(line=line, column=HEADERS[name], message=message))

    def _check_lengths(self, line: int, values: dict[str, str]) -> None:
        for name, value in values.items():
            if len(value) > MAX_CELL_LENGTH:
                self._error(
                    line,
                    name,
                    _("Le texte compte %(length)s caractères : %(max)s au plus.")
                    % {"length": _number(len(value)), "max": _number(MAX_CELL_LENGTH)},
                )

    def _start_case(self, line: int, values: dict[str, str]) -> _CaseDraft:
        reference = values["reference"]
        if not values["title"]:
            self._error(
                line,
                "title",
                _(
                    "La colonne « titre » est vide : elle est obligatoire sur la "
                    "première ligne d'un cas."
                ),
            )
        raw_priority = values.get("priority", "")
        priority = _priority_of(raw_priority)
        if priority is None:
            self._error(line, "priority", _unknown_priority_message(raw_priority))
        draft = _CaseDraft(
            reference=reference,
            first_line=line,
            title=values["title"],
            objective=values.get("objective", ""),
            priority=priority or DEFAULT_PRIORITY,
            preconditions=values.get("preconditions", ""),
            section=values.get("section", ""),
            expected_values={
                **{name: values.get(name, "") for name in _CASE_FIELDS},
                "priority": priority,
            },
        )
        first_line = self.first_lines.get(reference.casefold())
        if first_line is None:
            self.first_lines[reference.casefold()] = line
            self.cases.append(draft)
        else:
            # Its rows are still checked, but it is kept out of the preview's cases.
            self._error(
                line,
                "reference",
                _(
                    "Référence en double : « %(reference)s » est déjà celle du cas "
                    "commencé ligne %(line)s. Les lignes d'un même cas doivent se "
                    "suivre ; donnez une autre référence à ce cas."
                )
                % {"reference": _excerpt(reference), "line": first_line},
            )
        return draft

    def _check_continuation(
        self, line: int, values: dict[str, str], case: _CaseDraft
    ) -> None:
        for name in _CASE_FIELDS:
            value = values.get(name, "")
            if not value:
                continue
            compared: str | None = value
            if name == "priority":
                compared = _priority_of(value)
                if compared is None:
                    self._error(line, name, _unknown_priority_message(value))
                    continue
            expected = case.expected_values[name]
            if expected is None or compared == expected:
                continue
            self._error(
                line,
                name,
                _(
                    "« %(value)s » diffère de la valeur de la ligne %(line)s, où "
                    "commence le cas « %(reference)s » : laissez la cellule vide ou "
                    "reprenez la même valeur. Si cette ligne commence un nouveau cas, "
                    "renseignez sa référence."
                )
                % {
                    "value": _excerpt(value),
                    "line": case.first_line,
                    "reference": _excerpt(case.reference),
                },
            )

    def _add_step(
        self, line: int, values: dict[str, str], case: _CaseDraft | None
    ) -> None:
        previous = case.last_number if case else 0
        number = previous + 1
        raw_number = values.get("step", "")
        if raw_number:
            given = _step_number_of(raw_number)
            if given is None:
                self._error(
                    line,
                    "step",
                    _("Le numéro d'étape « %(value)s » n'est pas un entier positif.")
                    % {"value": _excerpt(raw_number)},
                )
            elif given > MAX_STEP_NUMBER:
                self._error(
                    line,
                    "step",
                    _("Le numéro d'étape %(number)s dépasse %(max)s.")
                    % {"number": given, "max": _number(MAX_STEP_NUMBER)},
                )
            elif given <= previous:
                self._error(
                    line,
                    "step",
                    _(
                        "Le numéro d'étape %(number)s doit être supérieur à celui de "
                        "l'étape précédente du cas (%(previous)s)."
                    )
                    % {"number": given, "previous": previous},
                )
            else:
                number = given
        for name in ("action", "expected"):
            if not values[name]:
                self._error(
                    line,
                    name,
                    _("La colonne « %(column)s » est vide.")
                    % {"column": HEADERS[name]},
                )
        if case is not None:
            case.steps.append(
                StepRow(
                    number=number, action=values["action"], expected=values["expected"]
                )
            )


def _unknown_priority_message(value: str) -> str:
    return _(
        "La priorité « %(value)s » n'est pas reconnue : indiquez haute, moyenne ou "
        "basse (ou h, m, b, ou 1, 2, 3)."
    ) % {"value": _excerpt(value)}
