"""Import of test cases from CSV and XLSX: the dry-run preview lists every bad row."""

import csv
import datetime as dt
import io
import os
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser

from recette import importing, pages, services, tasks
from recette.importing import (
    CaseRow,
    ImportPreview,
    RowError,
    StepRow,
    parse_cases,
)

HEADER = [
    "reference",
    "titre",
    "objectif",
    "priorite",
    "preconditions",
    "section",
    "etape",
    "action",
    "resultat attendu",
]
ACCENTED_HEADER = [
    "Référence",
    "Titre",
    "Objectif",
    "Priorité",
    "Préconditions",
    "Section",
    "Étape",
    "Action",
    "Résultat attendu",
]


def row(
    reference="",
    title="",
    step="",
    action="Agir",
    expected="Constater",
    *,
    objective="",
    priority="",
    preconditions="",
    section="",
):
    return [
        reference,
        title,
        objective,
        priority,
        preconditions,
        section,
        step,
        action,
        expected,
    ]


def plan_rows(cases=50, steps=4):
    """Data rows of `cases` cases of `steps` numbered steps, case columns once."""
    rows = []
    for case in range(1, cases + 1):
        for step in range(1, steps + 1):
            first = step == 1
            rows.append(
                row(
                    f"CT-{case:03d}" if first else "",
                    f"Cas {case}" if first else "",
                    step,
                    f"Action {case}.{step}",
                    f"Résultat {case}.{step}",
                    objective=f"Objectif {case}" if first else "",
                    priority=("haute", "moyenne", "basse")[case % 3] if first else "",
                    section=f"3.{case}" if first else "",
                )
            )
    return rows


def xlsx_bytes(rows, header=HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append([None if value == "" else value for value in values])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, header=HEADER, *, delimiter=";", encoding="utf-8"):
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


def parse_xlsx(rows, header=HEADER, **kwargs):
    return parse_cases(xlsx_bytes(rows, header), filename="plan.xlsx", **kwargs)


def parse_csv(rows, header=HEADER, **kwargs):
    return parse_cases(csv_bytes(rows, header), filename="plan.csv", **kwargs)


def test_xlsx_of_200_rows_with_3_bad_rows_lists_exactly_those_lines():
    rows = plan_rows()
    rows[5][7] = ""  # case 2, step 2: empty action → line 7
    rows[40][3] = "urgente"  # case 11, first row: unknown priority → line 42
    rows[121][6] = "deux"  # case 31, step 2: not a number → line 123

    preview = parse_xlsx(rows)

    assert not preview.ok
    assert preview.bad_lines == [7, 42, 123]
    assert [(error.line, error.column) for error in preview.errors] == [
        (7, "action"),
        (42, "priorité"),
        (123, "étape"),
    ]
    assert preview.errors[0].message == "La colonne « action » est vide."
    assert "« urgente »" in preview.errors[1].message
    assert "« deux »" in preview.errors[2].message


def test_corrected_xlsx_gives_50_cases_of_4_steps_in_order():
    preview = parse_xlsx(plan_rows())

    assert preview.ok
    assert preview.errors == ()
    assert len(preview.cases) == 50
    assert sum(len(case.steps) for case in preview.cases) == 200
    assert [case.reference for case in preview.cases] == [
        f"CT-{case:03d}" for case in range(1, 51)
    ]
    assert preview.cases[1] == CaseRow(
        reference="CT-002",
        title="Cas 2",
        objective="Objectif 2",
        priority="basse",
        preconditions="",
        section="3.2",
        steps=tuple(
            StepRow(number, f"Action 2.{number}", f"Résultat 2.{number}")
            for number in range(1, 5)
        ),
        first_line=6,
    )
    for case in preview.cases:
        assert [step.number for step in case.steps] == [1, 2, 3, 4]


def test_csv_with_semicolons_in_cp1252_keeps_the_accents():
    rows = [
        row(
            "CT-001",
            "Éligibilité au RSA",
            "",
            "Saisir l'allocataire, puis valider",
            "Le droit est ouvert ; le montant s'affiche",
            priority="Haute",
            preconditions="Dossier complété à l'accueil",
        ),
        row(action="Contrôler l'échéancier", expected="Échéances à jour"),
    ]
    data = csv_bytes(rows, ACCENTED_HEADER, delimiter=";", encoding="cp1252")
    assert b"\xc9ligibilit\xe9" in data  # really Windows-1252, not UTF-8

    preview = parse_cases(data, filename="plan.csv")

    assert preview.ok, preview.errors
    (case,) = preview.cases
    assert case.title == "Éligibilité au RSA"
    assert case.priority == "haute"
    assert case.preconditions == "Dossier complété à l'accueil"
    assert case.steps == (
        StepRow(
            1,
            "Saisir l'allocataire, puis valider",
            "Le droit est ouvert ; le montant s'affiche",
        ),
        StepRow(2, "Contrôler l'échéancier", "Échéances à jour"),
    )


def test_csv_with_commas_in_utf8_with_bom_counts_multiline_cells_as_one_line():
    rows = [
        row("CT-001", "Notification, courrier", "", "Envoyer ; relancer", "Reçu"),
        row(action="Ouvrir le courrier\nle lire", expected="Texte « lisible »"),
        row(action=""),
    ]
    data = csv_bytes(rows, delimiter=",", encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")

    preview = parse_cases(data, filename="plan.csv")

    assert preview.cases[0].title == "Notification, courrier"
    assert preview.cases[0].steps[0].action == "Envoyer ; relancer"
    assert preview.cases[0].steps[1].action == "Ouvrir le courrier\nle lire"
    assert preview.cases[0].steps[1].expected == "Texte « lisible »"
    # The quoted cell spans two text lines but is one spreadsheet line.
    assert preview.bad_lines == [4]


def test_csv_with_tabs_is_read():
    data = csv_bytes([row("CT-001", "Titre", "", "Agir", "Voir")], delimiter="\t")

    preview = parse_cases(data, filename="plan.csv")

    assert preview.ok
    assert preview.cases[0].steps == (StepRow(1, "Agir", "Voir"),)


def test_csv_with_semicolons_is_read_even_when_sniffing_guesses_commas():
    # csv.Sniffer alone takes ',' for the delimiter of this file.
    rows = [
        row("CT-001", "Titre, suite", "", "a, 'b', 'c'", "'d', 'e'"),
        row(action="a, 'b', 'c'", expected="'d', 'e'"),
    ]

    preview = parse_cases(csv_bytes(rows, delimiter=";"), filename="plan.csv")

    assert preview.ok, preview.errors
    assert preview.cases[0].title == "Titre, suite"
    assert preview.cases[0].steps[0] == StepRow(1, "a, 'b', 'c'", "'d', 'e'")


def test_csv_that_is_neither_utf8_nor_cp1252_is_refused():
    data = csv_bytes([row("CT-001", "Titre")]) + b"\x81\x8d"

    preview = parse_cases(data, filename="plan.csv")

    assert preview.bad_lines == [0]
    assert "UTF-8" in preview.errors[0].message


def test_reference_coming_back_after_another_case_is_a_duplicate():
    rows = [
        row("CT-001", "Premier"),
        row("CT-002", "Deuxième"),
        row("ct-001", "Premier encore"),
        row(action=""),
    ]

    preview = parse_xlsx(rows)

    assert preview.bad_lines == [4, 5]
    duplicate = preview.errors[0]
    assert (duplicate.line, duplicate.column) == (4, "référence")
    assert duplicate.message.startswith("Référence en double : « ct-001 »")
    assert "ligne 2" in duplicate.message
    assert [case.reference for case in preview.cases] == ["CT-001", "CT-002"]


def test_reference_repeated_on_contiguous_rows_adds_steps_to_the_case():
    rows = [
        row("CT-001", "Titre", action="Un"),
        row("CT-001", "Titre", action="Deux"),
        row("CT-001", action="Trois"),
    ]

    preview = parse_xlsx(rows)

    assert preview.ok
    (case,) = preview.cases
    assert [(step.number, step.action) for step in case.steps] == [
        (1, "Un"),
        (2, "Deux"),
        (3, "Trois"),
    ]


def test_continuation_row_with_another_title_is_an_error():
    rows = [
        row("CT-001", "Titre", priority="h", section="3.2"),
        row(title="Titre", priority="haute", section="3.2"),
        row(title="Autre titre"),
        row(section="4.1"),
    ]

    preview = parse_xlsx(rows)

    assert [(error.line, error.column) for error in preview.errors] == [
        (4, "titre"),
        (5, "section"),
    ]
    assert preview.errors[0].message.startswith(
        "« Autre titre » diffère de la valeur de la ligne 2"
    )
    assert len(preview.cases[0].steps) == 4


def test_step_numbers_must_increase_within_a_case():
    rows = [
        row("CT-001", "Titre", 1),
        row(step=3),
        row(step=2),
        row("CT-002", "Autre", 1),
    ]

    preview = parse_xlsx(rows)

    assert preview.bad_lines == [4]
    assert preview.errors[0].column == "étape"
    assert preview.errors[0].message == (
        "Le numéro d'étape 2 doit être supérieur à celui de l'étape précédente du "
        "cas (3)."
    )


def test_zero_and_negative_step_numbers_are_refused():
    rows = [row("CT-001", "Titre", 0), row(step=-2), row(step="1.5")]

    preview = parse_xlsx(rows)

    assert preview.bad_lines == [2, 3, 4]
    assert {error.column for error in preview.errors} == {"étape"}


def test_empty_step_numbers_follow_the_previous_step():
    rows = [
        row("CT-001", "Titre"),
        row(),
        row(step=10),
        row(),
        row("CT-002", "Autre"),
    ]

    preview = parse_xlsx(rows)

    assert preview.ok
    assert [step.number for step in preview.cases[0].steps] == [1, 2, 10, 11]
    assert [step.number for step in preview.cases[1].steps] == [1]


def test_missing_required_columns_give_one_error_naming_them():
    header = ["reference", "objectif", "action"]

    preview = parse_xlsx([["CT-001", "Objectif", "Agir"]], header)

    (error,) = preview.errors
    assert (error.line, error.column) == (1, None)
    assert error.message.startswith(
        "Les colonnes obligatoires « titre », « résultat attendu » sont absentes"
    )
    assert preview.cases == ()


def test_optional_columns_may_be_absent_and_extra_columns_are_ignored():
    header = ["Commentaire", "reference", "titre", "action", "resultat attendu"]
    rows = [
        ["à revoir", "CT-001", "Titre", "Agir", "Voir"],
        ["note seule", "", "", "", ""],
    ]

    preview = parse_xlsx(rows, header)

    assert preview.ok
    assert preview.cases == (
        CaseRow(
            "CT-001", "Titre", "", "moyenne", "", "", (StepRow(1, "Agir", "Voir"),), 2
        ),
    )


def test_duplicate_header_is_an_error():
    preview = parse_xlsx([], [*HEADER, "Titre"])

    assert [(error.line, error.column) for error in preview.errors] == [(1, "titre")]


def test_headers_match_whatever_their_accents_case_and_spaces():
    header = [
        "  RÉFÉRENCE",
        "Titre",
        "PRIORITÉ",
        "pré-conditions",
        "Étape ",
        "ACTION",
        "Résultat attendu ",
    ]
    rows = [["CT-001", "Titre", "B", "Connecté", 1, "Agir", "Voir"]]

    preview = parse_xlsx(rows, header)

    assert preview.ok, preview.errors
    assert preview.cases[0].priority == "basse"
    assert preview.cases[0].preconditions == "Connecté"
    assert preview.cases[0].steps == (StepRow(1, "Agir", "Voir"),)


def test_priorities_accept_letters_and_numbers_and_default_to_moyenne():
    values = ["haute", "M", "b", "1", "2", "3", "", " Moyenne "]
    rows = [row(f"CT-{n}", "Titre", priority=value) for n, value in enumerate(values)]

    preview = parse_xlsx(rows)

    assert preview.ok
    assert [case.priority for case in preview.cases] == [
        "haute",
        "moyenne",
        "basse",
        "haute",
        "moyenne",
        "basse",
        "moyenne",
        "moyenne",
    ]


def test_title_action_and_expected_result_are_required():
    rows = [row("CT-001", "", action="", expected="")]

    preview = parse_xlsx(rows)

    assert [(error.line, error.column) for error in preview.errors] == [
        (2, "titre"),
        (2, "action"),
        (2, "résultat attendu"),
    ]


def test_rows_before_the_first_reference_belong_to_no_case():
    rows = [row(title="Sans référence"), row(), row("CT-001", "Titre")]

    preview = parse_xlsx(rows)

    assert preview.bad_lines == [2, 3]
    assert {error.column for error in preview.errors} == {"référence"}
    assert [case.reference for case in preview.cases] == ["CT-001"]


def test_every_error_of_a_row_and_of_the_file_is_reported():
    rows = [
        row("CT-001", "", "x", action="", priority="urgent"),
        row(title="Autre", step=0, expected=""),
    ]

    preview = parse_xlsx(rows)

    assert [(error.line, error.column) for error in preview.errors] == [
        (2, "titre"),
        (2, "priorité"),
        (2, "étape"),
        (2, "action"),
        (3, "titre"),
        (3, "étape"),
        (3, "résultat attendu"),
    ]


def test_blank_rows_are_skipped_and_lines_keep_their_numbers():
    rows = [
        row("CT-001", "Titre"),
        [""] * 9,
        row(),
        ["  ", "", "", "", "", "", "", "", ""],
        row(action=""),
    ]

    preview = parse_xlsx(rows)

    assert [step.number for step in preview.cases[0].steps] == [1, 2, 3]
    assert preview.bad_lines == [6]


def test_blank_lines_in_csv_are_skipped():
    data = csv_bytes([row("CT-001", "Titre"), [], row(action="")])

    preview = parse_cases(data, filename="plan.csv")

    assert len(preview.cases[0].steps) == 2
    assert preview.bad_lines == [4]


def test_more_rows_than_the_limit_refuse_the_file():
    rows = plan_rows(cases=1, steps=4)

    assert parse_xlsx(rows, max_rows=4).ok
    preview = parse_xlsx([*rows, [""] * 9], max_rows=4)
    assert preview.ok
    refused = parse_xlsx(plan_rows(cases=1, steps=5), max_rows=4)
    assert refused.cases == ()
    assert refused.bad_lines == [0]
    assert "plus de 4 lignes" in refused.errors[0].message


def test_default_limit_is_5000_rows():
    preview = parse_csv(plan_rows(cases=1001, steps=5))

    assert preview.bad_lines == [0]


def test_cell_longer_than_4000_characters_is_an_error():
    rows = [row("CT-001", "Titre", action="a" * 4000), row(expected="é" * 4001)]

    preview = parse_xlsx(rows)

    assert [(error.line, error.column) for error in preview.errors] == [
        (3, "résultat attendu")
    ]
    assert "4\xa0001 caractères" in preview.errors[0].message


def test_wrong_extension_is_one_error_on_line_0():
    preview = parse_cases(b"%PDF-1.7", filename="plan.pdf")

    assert preview == ImportPreview(
        cases=(),
        errors=(
            RowError(
                0,
                None,
                "Le fichier « plan.pdf » n'est pas pris en charge : importez un "
                "tableau au format .csv ou .xlsx.",
            ),
        ),
    )


def test_extension_is_matched_whatever_its_case():
    rows = [row("CT-001", "Titre")]

    assert parse_cases(xlsx_bytes(rows), filename="PLAN.XLSX").ok
    assert parse_cases(csv_bytes(rows), filename="plan.Csv").ok


def test_corrupt_xlsx_is_one_error_not_an_exception():
    valid = xlsx_bytes([row("CT-001", "Titre")])
    not_a_sheet = io.BytesIO()
    with zipfile.ZipFile(not_a_sheet, "w") as archive:
        archive.writestr("hello.txt", "bonjour")

    for data in (
        b"",
        b"not a zip at all",
        valid[: len(valid) // 2],
        not_a_sheet.getvalue(),
    ):
        preview = parse_cases(data, filename="plan.xlsx")
        assert preview.cases == ()
        assert preview.bad_lines == [0]
        assert preview.errors[0].message.startswith("Le classeur n'a pas pu être lu")


def test_empty_file_is_one_error():
    assert parse_cases(b"", filename="plan.csv").bad_lines == [0]
    assert parse_cases(xlsx_bytes([], header=[]), filename="plan.xlsx").bad_lines == [0]


def test_xlsx_numbers_and_dates_become_text():
    # Excel has no time zones: openpyxl refuses aware datetimes.
    midnight = dt.datetime(2025, 3, 5)  # noqa: DTZ001
    rows = [
        row(1001, "Titre", 1.0, objective=midnight, section=3.2),
        row(step=2.0, action=42, expected=dt.date(2025, 12, 31)),
    ]

    preview = parse_xlsx(rows)

    assert preview.ok, preview.errors
    (case,) = preview.cases
    assert (case.reference, case.objective, case.section) == (
        "1001",
        "05/03/2025",
        "3.2",
    )
    assert case.steps == (
        StepRow(1, "Agir", "Constater"),
        StepRow(2, "42", "31/12/2025"),
    )


def test_file_object_is_read_from_its_start():
    upload = io.BytesIO(xlsx_bytes([row("CT-001", "Titre")]))
    upload.read(10)

    assert parse_cases(upload, filename="plan.xlsx").ok


def test_row_error_reads_as_a_sentence_with_its_line_and_column():
    assert (
        str(RowError(7, "action", "La colonne « action » est vide."))
        == "Ligne 7, « action » : La colonne « action » est vide."
    )
    assert (
        str(RowError(1, None, "Colonnes absentes.")) == "Ligne 1 : Colonnes absentes."
    )
    assert str(RowError(0, None, "Fichier illisible.")) == "Fichier illisible."


# Bounds: a file over them is refused before, or as soon as, they are passed.

SHEET_NS = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def xlsx_with_sheet(sheet_data: bytes, dimension: str | None = None) -> bytes:
    """A valid workbook whose first worksheet's XML is replaced by this sheetData."""
    xml = SHEET_NS
    if dimension:
        xml += b'<dimension ref="%s"/>' % dimension.encode()
    xml += b"<sheetData>" + sheet_data + b"</sheetData></worksheet>"
    source = io.BytesIO(xlsx_bytes([]))
    out = io.BytesIO()
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = xml
            copy.writestr(info.filename, data)
    return out.getvalue()


def inline_cell(reference: str, text: str) -> bytes:
    return b'<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (
        reference.encode(),
        text.encode(),
    )


@pytest.fixture
def rows_parsed(monkeypatch):
    """How many rows openpyxl parsed, and how many rows its reader handed out."""
    counts = {"parsed": 0, "yielded": 0}
    parse_row = WorkSheetParser.parse_row
    cells_by_row = ReadOnlyWorksheet._cells_by_row

    def counting_parse_row(self, row):
        counts["parsed"] += 1
        return parse_row(self, row)

    def counting_cells_by_row(self, *args, **kwargs):
        for values in cells_by_row(self, *args, **kwargs):
            counts["yielded"] += 1
            yield values

    monkeypatch.setattr(WorkSheetParser, "parse_row", counting_parse_row)
    monkeypatch.setattr(ReadOnlyWorksheet, "_cells_by_row", counting_cells_by_row)
    return counts


def test_small_xlsx_of_a_million_empty_rows_is_refused_before_openpyxl_parses_it(
    rows_parsed, monkeypatch
):
    # No dimension: openpyxl would parse the whole sheet as soon as it opens it.
    data = xlsx_with_sheet(b"<row/>" * 1_000_000)
    assert len(data) < 20_000
    inflated = 0
    read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        nonlocal inflated
        chunk = read(self, n)
        inflated += len(chunk)
        return chunk

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)

    preview = parse_cases(data, filename="plan.xlsx")

    assert preview.bad_lines == [0]
    assert preview.errors[0].message.startswith(
        "Le fichier compte plus de 10\N{NO-BREAK SPACE}000 lignes, lignes vides "
        "comprises"
    )
    assert rows_parsed == {"parsed": 0, "yielded": 0}
    # The count stops at the bound: a few hundred kilobytes of the 6 MB of XML.
    assert inflated < 1_000_000


def test_row_tags_cut_by_the_scan_chunks_are_counted_once(monkeypatch):
    monkeypatch.setattr(importing, "_XLSX_SCAN_CHUNK", 7)
    xml = b'<row r="1"/><x:row>' + b"<row/>" * 8

    assert importing._rows_over(io.BytesIO(xml), 9)
    assert not importing._rows_over(io.BytesIO(xml), 10)


def test_xlsx_declaring_more_lines_than_the_bound_is_refused_unread(rows_parsed):
    data = xlsx_with_sheet(b"<row/>", dimension="A1:I1000000")

    preview = parse_cases(data, filename="plan.xlsx")

    assert preview.errors[0].message.startswith("Le fichier compte plus de 10")
    assert rows_parsed["yielded"] == 0


def test_xlsx_whose_dimension_lies_is_read_up_to_the_line_bound_only(rows_parsed):
    # One cell in the last row: openpyxl hands out every missing row before it.
    data = xlsx_with_sheet(
        b'<row r="1000000">' + inline_cell("A1000000", "x") + b"</row>",
        dimension="A1:A1",
    )

    preview = parse_cases(data, filename="plan.xlsx", max_rows=10)

    assert preview.errors[0].message.startswith("Le fichier compte plus de 20 lignes")
    assert rows_parsed["yielded"] == 21


def test_blank_lines_up_to_twice_the_row_limit_are_accepted():
    rows = [row("CT-001", "Titre")] + [[""] * len(HEADER)] * 18

    assert parse_xlsx(rows, max_rows=10).ok
    assert parse_csv(rows, max_rows=10).ok
    assert not parse_csv([*rows, [""] * len(HEADER)], max_rows=10).ok


def test_csv_of_a_million_blank_lines_stops_at_the_line_bound(monkeypatch):
    cleaned = 0
    clean = importing._clean

    def counting_clean(text):
        nonlocal cleaned
        cleaned += 1
        return clean(text)

    monkeypatch.setattr(importing, "_clean", counting_clean)
    data = b"reference;titre;action;resultat attendu\n" + b";;;\n" * 1_000_000

    preview = parse_cases(data, filename="plan.csv")

    assert preview.errors[0].message.startswith("Le fichier compte plus de 10")
    assert cleaned <= 4 * 10_001


def test_xlsx_declaring_more_than_50_columns_is_refused(rows_parsed):
    data = xlsx_with_sheet(b"<row/>", dimension="A1:AY2")

    preview = parse_cases(data, filename="plan.xlsx")

    assert preview.errors[0].message == (
        "Le fichier a des valeurs au-delà de la colonne 50 : supprimez les colonnes "
        "inutiles, le format n'en compte que 9."
    )
    assert rows_parsed["yielded"] == 0


def test_value_beyond_column_50_refuses_the_file_whatever_the_dimension():
    header = b"".join(
        inline_cell(f"{letter}1", text)
        for letter, text in zip(
            "ABCD", ["reference", "titre", "action", "resultat"], strict=True
        )
    )
    data = xlsx_with_sheet(
        b'<row r="1">' + header + inline_cell("AY1", "note") + b"</row>",
        dimension="A1:D1",
    )

    preview = parse_cases(data, filename="plan.xlsx")

    assert preview.errors[0].message.startswith(
        "Le fichier a des valeurs au-delà de la colonne 50"
    )


def test_csv_with_values_beyond_column_50_is_refused_but_empty_ones_are_ignored():
    header = [*HEADER, *[""] * 50]
    filled = [*row("CT-001", "Titre"), *[""] * 50]

    assert parse_csv([filled], header).ok
    filled[-1] = "note"
    preview = parse_csv([filled], header)
    assert preview.errors[0].message.startswith(
        "Le fichier a des valeurs au-delà de la colonne 50"
    )


def test_xlsx_larger_than_the_xml_bound_once_uncompressed_is_refused_unopened(
    monkeypatch,
):
    data = xlsx_bytes(plan_rows(cases=10))
    monkeypatch.setattr(importing, "MAX_XLSX_XML_BYTES", 1000)

    def no_load(*args, **kwargs):
        raise AssertionError("openpyxl opened the workbook")

    monkeypatch.setattr(importing, "load_workbook", no_load)

    preview = parse_cases(data, filename="plan.xlsx")

    assert preview.errors[0].message.startswith(
        "Le classeur est trop volumineux une fois décompressé"
    )


class _ReadRecorder(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_sizes: list[int] = []

    def read(self, size=-1):
        chunk = super().read(size)
        self.read_sizes.append(len(chunk))
        return chunk


def test_file_over_the_upload_limit_is_refused_reading_one_byte_past_it(settings):
    settings.TANDEM_MAX_UPLOAD_MB = 1
    rows = [row("CT-001", "Titre", action="x" * 100)] * 20_000
    data = csv_bytes(rows)
    assert len(data) > 2 * 1024 * 1024
    upload = _ReadRecorder(data)

    preview = parse_cases(upload, filename="plan.csv")
    too_large = parse_cases(data, filename="plan.csv")

    assert preview.errors[0].message == (
        "Le fichier « plan.csv » dépasse la taille maximale autorisée (1 Mo)."
    )
    assert upload.read_sizes == [1024 * 1024 + 1]
    assert too_large.errors == preview.errors


# The import page: previews are bounded in size and in time.


@pytest.fixture
def import_page(world, client, acceptance):
    """The import page of a draft plan, opened by the supplier's project team."""
    plan = services.plan_prepare(
        change_request_pk=acceptance.pk, by=world.user("cnaf.moe")
    )
    client.force_login(world.user("cnaf.moe"))
    return plan, reverse("recettes:cases_import", args=[acceptance.pk])


def stored_previews(settings) -> list[str]:
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "imports"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def upload(data: bytes, name: str = "plan.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def test_file_over_the_size_limit_is_refused_unread_and_keeps_the_pending_preview(
    import_page, client, settings, monkeypatch
):
    plan, url = import_page
    previewed = client.post(url, {"file": upload(xlsx_bytes(plan_rows(cases=2)))})
    token = previewed.context["token"]
    settings.TANDEM_MAX_UPLOAD_MB = 1

    def no_parse(*args, **kwargs):
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(pages, "parse_cases", no_parse)
    too_large = client.post(url, {"file": upload(b"x" * (1024 * 1024 + 1), "p.csv")})

    assert too_large.status_code == 400
    assert (
        "Le fichier « p.csv » dépasse la taille maximale autorisée (1 Mo)."
        in too_large.content.decode()
    )
    assert "preview" not in too_large.context
    monkeypatch.undo()
    assert client.post(url, {"confirm": token}).status_code == 302
    assert plan.cases.count() == 2


def test_cancelling_the_import_deletes_the_stored_preview(
    import_page, client, settings
):
    plan, url = import_page
    previewed = client.post(url, {"file": upload(xlsx_bytes(plan_rows(cases=2)))})
    token = previewed.context["token"]
    assert "Annuler l'import" in previewed.content.decode()
    assert len(stored_previews(settings)) == 1

    cancelled = client.post(url, {"cancel": token})

    assert cancelled.status_code == 302
    assert stored_previews(settings) == []
    assert client.session["tandem_case_imports"] == {}
    assert client.post(url, {"confirm": token}).status_code == 400
    assert not plan.cases.exists()


def test_a_new_file_replaces_the_preview_not_confirmed(import_page, client, settings):
    _plan, url = import_page
    first = client.post(url, {"file": upload(xlsx_bytes(plan_rows(cases=2)))})
    second = client.post(url, {"file": upload(xlsx_bytes(plan_rows(cases=3)))})

    assert stored_previews(settings) == [f"{second.context['token']}.xlsx"]
    assert client.post(url, {"confirm": first.context["token"]}).status_code == 400


def test_confirming_a_preview_deleted_by_expiry_is_refused_not_an_error(
    import_page, client, settings
):
    plan, url = import_page
    previewed = client.post(url, {"file": upload(xlsx_bytes(plan_rows(cases=2)))})
    for name in stored_previews(settings):
        (Path(settings.PRIVATE_MEDIA_ROOT) / "imports" / name).unlink()

    expired = client.post(url, {"confirm": previewed.context["token"]})

    assert expired.status_code == 400
    assert "Import expiré" in expired.content.decode()
    assert not plan.cases.exists()


def test_beat_task_deletes_the_previews_older_than_a_day(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    assert tasks.expire_import_previews() == 0  # no folder yet
    folder = tmp_path / "private" / "imports"
    folder.mkdir(parents=True)
    now = time.time()
    for name, age_hours in (("old.xlsx", 25), ("recent.csv", 23), ("new.xlsx", 0)):
        path = folder / name
        path.write_bytes(b"x")
        os.utime(path, (now - age_hours * 3600, now - age_hours * 3600))

    assert tasks.expire_import_previews() == 1
    assert sorted(path.name for path in folder.iterdir()) == ["new.xlsx", "recent.csv"]
    assert tasks.expire_import_previews() == 0
    assert settings.CELERY_BEAT_SCHEDULE["expire-import-previews"]["task"] == (
        tasks.expire_import_previews.name
    )
