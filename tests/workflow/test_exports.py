"""workflow.exports: CSV as French Excel reads it, a valid XLSX workbook, and no
cell that a spreadsheet would run as a formula."""

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import openpyxl
import pytest

from workflow.exports import (
    CONTENT_TYPES,
    csv_chunks,
    export_response,
    neutralised,
    xlsx_file,
)

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
HEADER = ("Référence", "Intitulé", "Montant", "Date", "Créée le")
# What a spreadsheet would read as a formula (or a DDE call) if written as is.
HOSTILE = (
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1",
    "@x",
    "\tà la tabulation",
    "\rau retour chariot",
    "=1+1;2",
)


def _csv(header, rows) -> str:
    return b"".join(csv_chunks(header, rows)).decode("utf-8")


def _csv_rows(header, rows) -> list[list[str]]:
    text = _csv(header, rows)
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def _xml(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)  # noqa: S314 - the module's own output


def _sheet(header, rows) -> list[ElementTree.Element]:
    """The sheet's cells (c elements), read back with zipfile and ElementTree."""
    with zipfile.ZipFile(xlsx_file(header, rows)) as archive:
        root = _xml(archive.read("xl/worksheets/sheet1.xml"))
    return root.findall(f".//{MAIN}c")


def _workbook(header, rows):
    return openpyxl.load_workbook(xlsx_file(header, rows)).active


def test_csv_is_french_excels_utf8_bom_semicolons_and_crlf():
    text = _csv(HEADER, [("EVO-1", "Déclaration ; accentuée", 7800, None, None)])

    assert text.startswith("\ufeffRéférence;Intitulé;Montant;Date;Créée le\r\n")
    assert text.endswith('EVO-1;"Déclaration ; accentuée";7800;;\r\n')
    assert text.count("\r\n") == 2


def test_csv_writes_numbers_with_a_decimal_comma_and_dates_the_french_way():
    moment = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)  # 10:30 in Paris

    [_header, row] = _csv_rows(
        HEADER, [("EVO-1", None, Decimal("7800.50"), date(2026, 12, 4), moment)]
    )

    assert row == ["EVO-1", "", "7800,50", "04/12/2026", "04/12/2026 10:30"]


def test_csv_keeps_multi_line_text_in_one_quoted_cell():
    [_header, row] = _csv_rows(["Commentaire"], [("Ligne 1\r\nLigne 2",)])

    assert row == ["Ligne 1\r\nLigne 2"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_is_text_with_a_quote_in_csv(text):
    [_header, row] = _csv_rows(["Intitulé", "Nombre"], [(text, -1)])

    assert row[0] == f"'{text}"
    # Numbers are numbers, never prefixed: only text can hide a formula.
    assert row[1] == "-1"


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_is_an_inline_string_with_a_quote_in_xlsx(text):
    cells = _sheet(["Intitulé"], [(text,)])
    sheet = _workbook(["Intitulé"], [(text,)])

    cell = cells[1]
    assert cell.get("t") == "inlineStr"
    assert cell.find(f"{MAIN}f") is None and cell.find(f"{MAIN}v") is None
    assert cell.find(f"{MAIN}is/{MAIN}t").text == f"'{text}"
    # As a spreadsheet reads it: a string, not a formula.
    assert sheet["A2"].data_type == "s"
    assert sheet["A2"].value == f"'{text}"


def test_ordinary_text_is_left_as_it_is():
    assert neutralised("Un intitulé - avec un tiret") == "Un intitulé - avec un tiret"
    assert neutralised(" =pas en tête") == " =pas en tête"


def test_xlsx_is_a_workbook_with_its_parts_a_bold_header_numbers_and_dates():
    moment = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    rows = [
        ("EVO-1", "Déclaration", Decimal("7800.50"), date(2026, 12, 4), moment),
        ("EVO-2", "Autre", 3, None, None),
    ]

    with zipfile.ZipFile(xlsx_file(HEADER, rows)) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
        for name in names:  # every part is well-formed XML
            _xml(archive.read(name))
    sheet = _workbook(HEADER, rows)

    assert names == {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
    }
    assert [c.value for c in sheet[1]] == list(HEADER)
    assert sheet["A1"].font.b
    assert sheet["C2"].value == 7800.5 and sheet["C2"].data_type == "n"
    assert sheet["C3"].value == 3
    # Excel has no time zones: the moment comes back as Paris's wall-clock time.
    assert sheet["D2"].value == datetime(2026, 12, 4)  # noqa: DTZ001
    assert sheet["D2"].number_format == "dd/mm/yyyy"
    assert sheet["E2"].value == datetime(2026, 12, 4, 10, 30)  # noqa: DTZ001
    assert sheet["D3"].value is None
    assert sheet.max_row == 3


def test_characters_xml_forbids_are_dropped_and_the_rest_escaped():
    text = "a\x00b\x07c\x1b<d>&\"e' \ud800f\r\ng  "

    cells = _sheet(["x"], [(text,)])
    [_header, row] = _csv_rows(["x"], [(text,)])

    assert cells[1].find(f"{MAIN}is/{MAIN}t").text == "abc<d>&\"e' f\r\ng  "
    assert row == ["abc<d>&\"e' f\r\ng  "]


def test_a_long_text_is_cut_to_what_an_excel_cell_holds():
    sheet = _workbook(["x"], [("é" * 40_000,)])

    assert len(sheet["A2"].value) == 32_767


def test_the_sheet_is_named_without_what_excel_refuses():
    with zipfile.ZipFile(
        xlsx_file(["x"], [], sheet="Campagne [1]: a/b*c?\\ très longue, trop longue")
    ) as archive:
        workbook = _xml(archive.read("xl/workbook.xml"))

    name = workbook.find(f"{MAIN}sheets/{MAIN}sheet").get("name")
    assert name == "Campagne  1   a b c   très long"
    assert len(name) == 31


def test_many_rows_are_streamed_in_chunks():
    rows = ((f"CT-{n:05d}", n) for n in range(1, 1001))

    chunks = list(csv_chunks(["Cas", "N"], rows))

    assert len(chunks) > 2
    assert b"".join(chunks).count(b"\r\n") == 1001


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_response_is_a_download_never_sniffed_nor_cached(fmt):
    response = export_response(
        fmt,
        filename='demandes "23" évolution',
        header=["Intitulé"],
        rows=iter([("Une demande",)]),
    )

    content = b"".join(response.streaming_content)
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    # Quotes cannot close the header's value, accents are encoded (RFC 6266).
    assert response["Content-Disposition"] == (
        f"attachment; filename*=utf-8''demandes%20_23_%20%C3%A9volution.{fmt}"
    )
    assert response.audit["action"] == "document"
    if fmt == "csv":
        assert content.startswith("\ufeffIntitulé\r\n".encode())
    else:
        assert zipfile.is_zipfile(io.BytesIO(content))


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="ods"):
        export_response("ods", filename="x", header=[], rows=[])
