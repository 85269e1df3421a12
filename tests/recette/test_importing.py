"""Import of test cases from CSV and XLSX: the dry-run preview lists every bad row."""

import csv
import datetime as dt
import io
import zipfile

from openpyxl import Workbook

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
