"""Tables downloaded for a spreadsheet: CSV as French Excel opens it, and XLSX.

- CSV: UTF-8 with a byte order mark (without it Excel reads the accents as
  Windows-1252), « ; » between values (the French list separator), CRLF line ends,
  decimal commas. Streamed: the rows are read while the file is sent.
- XLSX: a minimal workbook of one sheet written here with zipfile (the parts Excel
  and LibreOffice need, a header in bold, dates as dates), built in a temporary
  file that stays in memory while small and goes to disk beyond.

Every text cell is written as text, never as a formula: one that a spreadsheet
would read as a formula (it starts with = + - @, a tab or a carriage return) is
prefixed with a quote « ' », in both formats, so that a title such as
`=HYPERLINK("http://…")` stays the text it is, even once the XLSX is saved again as
CSV. Characters XML 1.0 forbids (control characters, lone surrogates) are dropped
from both formats alike.

A view builds the header and an iterable of rows (plain values: str, int, Decimal,
date, datetime, None; read with `.values_list(…).iterator()`), translates its labels
before answering (a streamed body is read after the view has returned, outside the
request's language), and answers `export_response(…)`.
"""

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from xml.sax.saxutils import escape

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from workflow.uploads import safe_download_name

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# What makes a spreadsheet read a cell as a formula (or run one: DDE).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Everything but what XML 1.0 allows (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
# #x10000-#x10FFFF): control characters and lone surrogates.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The most characters a cell of Excel holds.
_CELL_LIMIT = 32_767
# Rows written to the CSV stream at a time: one chunk per row would cost a write
# to the socket each.
_ROWS_PER_WRITE = 200
# The XLSX stays in memory up to this size, then goes to a temporary file.
_XLSX_IN_MEMORY = 8 * 1024 * 1024
# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
_EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - a serial date has no zone


def neutralised(text: str) -> str:
    """`text` cleaned of what XML forbids and, when a spreadsheet would read it as
    a formula, prefixed with a quote."""
    if not text.isprintable():  # what XML forbids is never printable
        text = _NOT_XML.sub("", text)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def person_name(first: str | None, last: str | None, username: str | None) -> str:
    """A user's name as the pages print it (get_full_name, else the username),
    from the three columns an export reads."""
    return " ".join(part for part in (first, last) if part) or username or ""


def _local(value: datetime, zone: tzinfo) -> datetime:
    return value.astimezone(zone) if timezone.is_aware(value) else value


# --- CSV -----------------------------------------------------------------------------


def _csv_value(value, zone: tzinfo) -> str:
    if type(value) is str:  # most cells: first
        return neutralised(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return neutralised(str(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, datetime):
        return _local(value, zone).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return neutralised(str(value))


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence], *, zone: tzinfo | None = None
) -> Iterator[bytes]:
    """The CSV file, a few hundred rows at a time, the header first; moments in
    `zone` (the current time zone by default, read when called)."""
    zone = zone or timezone.get_current_timezone()
    return _csv_chunks(header, rows, zone)


def _csv_chunks(header, rows, zone: tzinfo) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([_csv_value(name, zone) for name in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(value, zone) for value in row])
        if count % _ROWS_PER_WRITE == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# --- XLSX ----------------------------------------------------------------------------

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PACKAGE}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_OFFICE}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Cell styles (the s attribute): 0 plain, 1 header (bold), 2 date, 3 date and time.
_HEADER, _DATE, _DATETIME = 1, 2, 3
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
    '<numFmt numFmtId="165" formatCode="dd/mm/yyyy hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
    "</borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
    'applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" '
    'applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)
# The header row stays in view while scrolling.
_SHEET_START = (
    f'{_XML}<worksheet xmlns="{_MAIN}"><sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    "</sheetView></sheetViews><sheetData>"
)
_SHEET_END = "</sheetData></worksheet>"
# What a sheet's name may not hold, and its length.
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_NAME_LIMIT = 31


def _column(index: int) -> str:
    """The letters of the column `index` (0: A, 26: AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _serial(moment: datetime) -> str:
    days = (moment - _EXCEL_EPOCH).total_seconds() / 86400
    return repr(round(days, 8))


def _text_cell(ref: str, text: str, style: int = 0) -> str:
    text = neutralised(text)[:_CELL_LIMIT]
    # A carriage return would come back as a line feed from any XML parser.
    body = escape(text).replace("\r", "&#13;")
    space = ' xml:space="preserve"' if text != text.strip() else ""
    styled = f' s="{style}"' if style else ""
    return f'<c r="{ref}" t="inlineStr"{styled}><is><t{space}>{body}</t></is></c>'


def _xlsx_cell(ref: str, value, zone: tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _text_cell(ref, str(value))
    if isinstance(value, int | Decimal | float):
        number = format(value, "f") if isinstance(value, Decimal) else repr(value)
        if not re.fullmatch(r"-?\d+(\.\d+)?(e[-+]?\d+)?", number):
            return _text_cell(ref, number)  # nan, inf
        return f'<c r="{ref}"><v>{number}</v></c>'
    if isinstance(value, datetime):
        serial = _serial(_local(value, zone).replace(tzinfo=None))
        return f'<c r="{ref}" s="{_DATETIME}"><v>{serial}</v></c>'
    if isinstance(value, date):
        serial = _serial(datetime(value.year, value.month, value.day))  # noqa: DTZ001
        return f'<c r="{ref}" s="{_DATE}"><v>{serial}</v></c>'
    return _text_cell(ref, str(value))


def _sheet_name(title: str) -> str:
    name = _SHEET_NAME_FORBIDDEN.sub(" ", _NOT_XML.sub("", title)).strip("' ")
    return escape(name[:_SHEET_NAME_LIMIT] or "Export", {'"': "&quot;"})


def xlsx_file(
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    sheet: str = "Export",
    zone: tzinfo | None = None,
) -> tempfile.SpooledTemporaryFile:
    """The workbook, in a temporary file read from its start; moments in `zone`
    (the current time zone by default), as Excel has none."""
    zone = zone or timezone.get_current_timezone()
    spooled = tempfile.SpooledTemporaryFile(max_size=_XLSX_IN_MEMORY)  # noqa: SIM115
    workbook = (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}"><sheets>'
        f'<sheet name="{_sheet_name(sheet)}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>"
    )
    with zipfile.ZipFile(spooled, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(_SHEET_START.encode())
            cells = "".join(
                _text_cell(f"{_column(i)}1", str(name), _HEADER)
                for i, name in enumerate(header)
            )
            part.write(f'<row r="1">{cells}</row>'.encode())
            lines = []
            for number, row in enumerate(rows, start=2):
                cells = "".join(
                    _xlsx_cell(f"{_column(i)}{number}", value, zone)
                    for i, value in enumerate(row)
                )
                lines.append(f'<row r="{number}">{cells}</row>')
                if len(lines) == _ROWS_PER_WRITE:
                    part.write("".join(lines).encode())
                    lines.clear()
            part.write("".join(lines).encode())
            part.write(_SHEET_END.encode())
    spooled.seek(0)
    return spooled


# --- The answer ----------------------------------------------------------------------


def export_response(
    fmt: str,
    *,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence],
    sheet: str = "Export",
    subject=None,
):
    """The table as a download: `filename` (without its extension) in `fmt`, never
    cached, never sniffed, and journalled as a generated document
    (workflow.middleware.AuditMiddleware; no digest: a CSV is streamed)."""
    name = safe_download_name(f"{filename}.{fmt}")
    header = [str(label) for label in header]  # translated now, in the request
    if fmt == CSV:
        response = StreamingHttpResponse(
            csv_chunks(header, rows), content_type=CONTENT_TYPES[CSV]
        )
    elif fmt == XLSX:
        response = FileResponse(
            xlsx_file(header, rows, sheet=sheet), content_type=CONTENT_TYPES[XLSX]
        )
    else:
        raise ValueError(fmt)
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response.audit = {
        "action": "document",
        "subject": subject,
        "filename": name,
        "sha256": None,
    }
    return response
