"""Tests for recette.pdf: the acceptance plan, report and go-live agreement."""

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import get_args

import pytest
from pypdf import PdfReader
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Drawing
from reportlab.platypus import Flowable

from recette.pdf import (
    AcceptancePlanData,
    AcceptanceReportData,
    CampaignFigures,
    CaseData,
    DefectCount,
    DefectLine,
    GoLiveAgreementData,
    SignatureData,
    StepData,
    acceptance_plan_pdf,
    acceptance_report_pdf,
    go_live_agreement_pdf,
    results_chart,
)
from workflow.pdf import Block

GENERATED_AT = datetime(2027, 5, 12, 12, 5, tzinfo=UTC)  # 14:05 in Paris
MARKUP = '<img src="/etc/passwd"/> <b>x</b> &amp; <font size="80">y</font>'
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
# The chart and the Courier hash need the shared base to take reportlab flowables.
BASE_TAKES_FLOWABLES = Flowable in get_args(Block)
needs_flowables = pytest.mark.skipif(
    not BASE_TAKES_FLOWABLES, reason="workflow.pdf ne prend pas encore de Flowable"
)


def case(number: int, steps: int = 3) -> CaseData:
    """A test case with numbered, unique texts."""
    return CaseData(
        reference=f"CT-{number:03d}",
        title=f"Cas numéro {number}",
        objective=f"Vérifier le comportement {number}.",
        priority="Haute" if number % 2 else "Normale",
        preconditions=f"Jeu de données {number} chargé.",
        section="Flux entrants" if number < 30 else "Restitutions",
        steps=tuple(
            StepData(
                number=step,
                action=f"Action {number}.{step} : ouvrir l’écran et saisir.",
                expected=f"Attendu {number}.{step} : le dossier est enregistré.",
            )
            for step in range(1, steps + 1)
        ),
    )


PLAN = AcceptancePlanData(
    reference="EVO-23-2027-0042",
    organisation="23 – Creuse",
    change_request_title="Transmission des changements de situation",
    version=3,
    status="Validé",
    man_days=Decimal("12.5"),
    start=date(2027, 9, 1),
    end=date(2027, 9, 30),
    production_date=date(2027, 10, 15),
    release_number="2027.3",
    margin_warning="La recette finit 3 jours ouvrés avant la mise en production.",
    cases=(case(1), case(2), case(3)),
)

FINAL = CampaignFigures(
    name="Campagne 3",
    delivery_number=3,
    planned=1500,
    run=1450,
    passed=1234,
    failed=150,
    blocked=40,
    not_applicable=26,
)

REPORT = AcceptanceReportData(
    reference="EVO-23-2027-0042",
    organisation="23 – Creuse",
    change_request_title="Transmission des changements de situation",
    version=2,
    verdict="Favorable avec réserves",
    reserves="Le libellé du courrier reste à corriger.",
    submitted_at=datetime(2027, 10, 1, 8, 30, tzinfo=UTC),
    author="Marie Dupré",
    campaigns=(
        CampaignFigures("Campagne 1", 1, 1500, 900, 700, 150, 30, 20),
        CampaignFigures("Campagne 2", 2, 1500, 1300, 1100, 120, 50, 30),
    ),
    final=FINAL,
    defect_counts=(
        DefectCount("Bloquante", "Ouverte", 1),
        DefectCount("Majeure", "Ouverte", 2),
        DefectCount("Majeure", "Corrigée", 3),
        DefectCount("Mineure", "Close", 4),
    ),
    defects=(
        DefectLine("ANO-0001", "Courrier sans adresse", "Bloquante", "Ouverte"),
        DefectLine("ANO-0002", "Libellé tronqué", "Mineure", "Close"),
    ),
    deliveries=((1, date(2027, 9, 1)), (2, date(2027, 9, 12)), (3, date(2027, 9, 22))),
    planned_start=date(2027, 9, 1),
    planned_end=date(2027, 9, 30),
    actual_start=date(2027, 9, 2),
    actual_end=date(2027, 9, 29),
)

AGREEMENT = GoLiveAgreementData(
    reference="EVO-23-2027-0042",
    organisation="23 – Creuse",
    change_request_title="Transmission des changements de situation",
    report_version=2,
    report_sha256=SHA256,
    verdict="Favorable avec réserves",
    reserves="Le libellé du courrier reste à corriger.",
    signatures=(
        SignatureData(
            "DSI du Conseil départemental",
            "Paul Lefèvre",
            datetime(2027, 10, 3, 7, 15, tzinfo=UTC),
        ),
        SignatureData("DSI de la CNAF", "Claire Bernard", None),
    ),
)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, blanks collapsed (no-break ones too): wrapping is moot."""
    reader = PdfReader(BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def all_text(pdf: bytes) -> str:
    """The whole document's text, blanks collapsed."""
    return " ".join(pages_text(pdf))


def squashed(text: str) -> str:
    """The text without any blank: cells wrap words differently as widths change."""
    return re.sub(r"\s+", "", text)


def has_image(pdf: bytes) -> bool:
    """Does any page reference an image XObject?"""
    for page in PdfReader(BytesIO(pdf)).pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        if any(x.get_object().get("/Subtype") == "/Image" for x in xobjects.values()):
            return True
    return False


def font_names(pdf: bytes) -> set[str]:
    """The base fonts used on the pages."""
    names = set()
    for page in PdfReader(BytesIO(pdf)).pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        names.update(str(font.get_object()["/BaseFont"]) for font in fonts.values())
    return names


def test_plan_shows_header_fields_and_margin_warning():
    text = all_text(acceptance_plan_pdf(PLAN, generated_at=GENERATED_AT))
    for expected in (
        "Cahier de recette",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Plan v3",
        "Transmission des changements de situation",
        "Validé",
        "12,5 j/h",
        "du 01/09/2027 au 30/09/2027",
        "2027.3",
        "15/10/2027",
        "Attention La recette finit 3 jours ouvrés avant la mise en production.",
        "Cas de test 3 cas, 9 étapes.",
        "Généré le 12/05/2027 à 14:05",
        "Page 1 /",
    ):
        assert expected in text


def test_plan_without_release_or_warning_says_so():
    plan = replace(PLAN, production_date=None, release_number=None, margin_warning=None)
    text = all_text(acceptance_plan_pdf(plan, generated_at=GENERATED_AT))
    assert "Non définie" in text
    assert "Non planifiée" in text
    assert "Attention" not in text


def test_plan_without_cases_says_so():
    text = all_text(
        acceptance_plan_pdf(replace(PLAN, cases=()), generated_at=GENERATED_AT)
    )
    assert "Aucun cas de test" in text


def test_case_shows_its_description_and_steps_table():
    text = all_text(acceptance_plan_pdf(PLAN, generated_at=GENERATED_AT))
    assert (
        "CT-002 – Cas numéro 2 Rubrique Flux entrants Priorité Normale "
        "Objectif Vérifier le comportement 2. Préconditions Jeu de données 2 chargé. "
        "N° Action Résultat attendu "
        "1 Action 2.1 : ouvrir l’écran et saisir. "
        "Attendu 2.1 : le dossier est enregistré. 2 Action 2.2"
    ) in text


def test_long_plan_lists_every_case_and_step_in_order_over_numbered_pages():
    plan = replace(PLAN, cases=tuple(case(number, steps=5) for number in range(60)))
    pages = pages_text(acceptance_plan_pdf(plan, generated_at=GENERATED_AT))
    assert len(pages) >= 5
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in text
        assert "Cahier de recette" in text
        assert "EVO-23-2027-0042" in text
        assert "Plan v3" in text
    text = " ".join(pages)
    position = text.index("CT-000 – Cas numéro 0")
    for number in range(60):
        expected = [f"CT-{number:03d} – Cas numéro {number}"]
        for step in range(1, 6):
            expected += [f"Action {number}.{step} :", f"Attendu {number}.{step} :"]
        for value in expected:
            found = text.index(value, position)
            assert found > position or value.startswith("CT-000")
            position = found


def test_long_plan_keeps_each_step_row_on_one_page_under_a_repeated_header():
    plan = replace(PLAN, cases=tuple(case(number, steps=5) for number in range(60)))
    pages = pages_text(acceptance_plan_pdf(plan, generated_at=GENERATED_AT))
    for text in pages:
        for number, step in re.findall(r"Action (\d+)\.(\d+) :", text):
            assert f"Attendu {number}.{step} :" in text
            assert "N° Action Résultat attendu" in text


def test_step_longer_than_a_page_breaks_inside_its_row():
    expected = "\n".join(f"Ligne {line} du résultat attendu." for line in range(90))
    long_case = replace(
        case(1), steps=(StepData(1, "Lancer le traitement.", expected),)
    )
    pdf = acceptance_plan_pdf(
        replace(PLAN, cases=(long_case,)), generated_at=GENERATED_AT
    )
    pages = pages_text(pdf)
    assert len(pages) >= 2
    assert "Ligne 0 du résultat attendu." in pages[0]
    assert "Ligne 89 du résultat attendu." in " ".join(pages[1:])


def test_report_shows_header_calendar_and_deliveries():
    text = all_text(acceptance_report_pdf(REPORT, generated_at=GENERATED_AT))
    for expected in (
        "Bilan de recette",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Bilan v2",
        "Transmission des changements de situation",
        "Marie Dupré",
        "01/10/2027 à 10:30",
        "Début de la recette 01/09/2027 02/09/2027",
        "Fin de la recette 30/09/2027 29/09/2027",
        "n° 2 12/09/2027",
        "n° 3 22/09/2027",
        "Généré le 12/05/2027 à 14:05",
    ):
        assert expected in text


def test_report_shows_figures_of_each_campaign_and_the_final_result():
    text = all_text(acceptance_report_pdf(REPORT, generated_at=GENERATED_AT))
    assert "1 234" in text
    for row in (
        "Campagne 1 n° 1 1 500 900 700 150 30 20",
        "Campagne 2 n° 2 1 500 1 300 1 100 120 50 30",
        "Résultat final n° 3 1 500 1 450 1 234 150 40 26",
    ):
        assert squashed(row) in squashed(text)


def test_report_counts_defects_by_severity_and_status_with_totals():
    text = all_text(acceptance_report_pdf(REPORT, generated_at=GENERATED_AT))
    assert (
        "Gravité Ouverte Corrigée Close Total Bloquante 1 0 0 1 Majeure 2 3 0 5 "
        "Mineure 0 0 4 4 Total 3 3 4 10"
    ) in text
    assert "Anomalies relevées : 2." in text
    assert "ANO-0001 Courrier sans adresse Bloquante Ouverte" in text
    assert "ANO-0002 Libellé tronqué Mineure Close" in text


def test_report_ends_with_reserves_and_verdict():
    text = all_text(acceptance_report_pdf(REPORT, generated_at=GENERATED_AT))
    assert "Réserves Le libellé du courrier reste à corriger." in text
    assert "Avis de recette Favorable avec réserves" in text


def test_report_without_defects_deliveries_nor_reserves_says_so():
    report = replace(
        REPORT,
        defect_counts=(),
        defects=(),
        deliveries=(),
        reserves="  ",
        verdict="Favorable",
        submitted_at=None,
        actual_end=None,
    )
    text = all_text(acceptance_report_pdf(report, generated_at=GENERATED_AT))
    assert text.count("Aucune anomalie") == 2
    assert "Aucune livraison" in text
    assert "Aucune réserve" in text
    assert "Pas encore soumis" in text
    assert "Fin de la recette 30/09/2027 —" in text
    assert "Avis de recette Favorable" in text


def test_chart_has_one_bar_per_result_with_the_final_counts():
    drawing = results_chart(FINAL)
    assert isinstance(drawing, Drawing)
    assert drawing.chart.data == [(1234, 150, 40, 26, 50)]
    assert drawing.chart.categoryAxis.categoryNames == [
        "Réussis",
        "Échoués",
        "Bloqués",
        "Non applicables",
        "Non exécutés",
    ]
    fills = {drawing.chart.bars[(0, index)].fillColor.hexval() for index in range(5)}
    assert len(fills) == 5


def test_chart_renders_with_its_counts_written_the_french_way():
    pdf = renderPDF.drawToString(results_chart(FINAL))
    (text,) = pages_text(pdf)
    for expected in ("1 234", "150", "40", "26", "50", "Non exécutés", "Réussis"):
        assert expected in text


def test_chart_of_a_campaign_without_results_renders():
    empty = CampaignFigures("Campagne 1", None, 0, 0, 0, 0, 0, 0)
    drawing = results_chart(empty)
    assert drawing.chart.data == [(0, 0, 0, 0, 0)]
    assert renderPDF.drawToString(drawing).startswith(b"%PDF")


@needs_flowables
def test_report_draws_the_chart_of_the_final_result():
    pdf = acceptance_report_pdf(REPORT, generated_at=GENERATED_AT)
    text = all_text(pdf)
    assert "Non exécutés" in text
    assert not has_image(pdf)


def test_agreement_shows_both_signatures_and_the_full_report_hash():
    pdf = go_live_agreement_pdf(AGREEMENT, generated_at=GENERATED_AT)
    text = all_text(pdf)
    for expected in (
        "Accord de mise en production",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Bilan v2",
        "Transmission des changements de situation",
        "Favorable avec réserves",
        "Le libellé du courrier reste à corriger.",
        "DSI du Conseil départemental Paul Lefèvre Signé le 03/10/2027 à 09:15",
        "DSI de la CNAF Claire Bernard En attente de signature",
    ):
        assert expected in text
    assert SHA256 in squashed(text)


def test_agreement_signed_by_both_sides_has_nothing_pending():
    signed = replace(
        AGREEMENT,
        signatures=tuple(
            replace(signature, signed_at=datetime(2027, 10, 4, 14, 0, tzinfo=UTC))
            for signature in AGREEMENT.signatures
        ),
    )
    text = all_text(go_live_agreement_pdf(signed, generated_at=GENERATED_AT))
    assert text.count("Signé le 04/10/2027 à 16:00") == 2
    assert "En attente de signature" not in text


@needs_flowables
def test_agreement_prints_the_hash_in_courier():
    pdf = go_live_agreement_pdf(AGREEMENT, generated_at=GENERATED_AT)
    assert "/Courier" in font_names(pdf)


def test_markup_in_plan_is_literal_text_and_embeds_nothing():
    hostile_case = replace(
        case(1),
        title=MARKUP,
        objective=MARKUP,
        preconditions=MARKUP,
        section=MARKUP,
        steps=(StepData(1, MARKUP, MARKUP),),
    )
    plan = replace(
        PLAN,
        change_request_title=MARKUP,
        margin_warning=MARKUP,
        cases=(hostile_case,),
    )
    pdf = acceptance_plan_pdf(plan, generated_at=GENERATED_AT)
    # Title, warning; summary: title, section; case: heading, 3 fields, 2 cells.
    assert squashed(all_text(pdf)).count(squashed(MARKUP)) == 10
    assert not has_image(pdf)


def test_markup_in_report_is_literal_text_and_embeds_nothing():
    report = replace(
        REPORT,
        change_request_title=MARKUP,
        reserves=MARKUP,
        verdict=MARKUP,
        author=MARKUP,
        campaigns=(replace(FINAL, name=MARKUP),),
        defect_counts=(DefectCount(MARKUP, MARKUP, 1),),
        defects=(DefectLine(MARKUP, MARKUP, MARKUP, MARKUP),),
    )
    pdf = acceptance_report_pdf(report, generated_at=GENERATED_AT)
    # Title, author, verdict twice, campaign, counts' row and column, 4 defect
    # cells, reserves.
    assert squashed(all_text(pdf)).count(squashed(MARKUP)) == 12
    assert not has_image(pdf)


def test_markup_in_agreement_is_literal_text_and_embeds_nothing():
    agreement = replace(
        AGREEMENT,
        change_request_title=MARKUP,
        reserves=MARKUP,
        report_sha256=MARKUP,
        signatures=(SignatureData(MARKUP, MARKUP, None),),
    )
    pdf = go_live_agreement_pdf(agreement, generated_at=GENERATED_AT)
    assert squashed(all_text(pdf)).count(squashed(MARKUP)) == 5
    assert not has_image(pdf)


@pytest.mark.parametrize(
    ("build", "data"),
    [
        (acceptance_plan_pdf, PLAN),
        (acceptance_report_pdf, REPORT),
        (go_live_agreement_pdf, AGREEMENT),
    ],
)
def test_documents_are_reproducible_a4_pdf(build, data):
    pdf = build(data, generated_at=GENERATED_AT)
    assert pdf == build(data, generated_at=GENERATED_AT)
    assert pdf.startswith(b"%PDF")
    for page in PdfReader(BytesIO(pdf)).pages:
        assert float(page.mediabox.width) == pytest.approx(595.27, abs=1)
        assert float(page.mediabox.height) == pytest.approx(841.89, abs=1)
