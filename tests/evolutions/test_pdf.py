"""Tests for evolutions.pdf: the needs expression and quote documents."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from evolutions.pdf import (
    NeedsExpressionData,
    QuoteData,
    format_man_days,
    needs_expression_pdf,
    quote_pdf,
)

GENERATED_AT = datetime(2027, 5, 12, 12, 5, tzinfo=UTC)  # 14:05 in Paris
MARKUP = '<img src="/etc/passwd"/> <b>gras</b> &amp; <font size="80">x</font>'
FRENCH = "é à ç œ € « guillemets » l’apostrophe – tiret"

NEEDS = NeedsExpressionData(
    reference="EVO-23-2027-0042",
    organisation="23 – Creuse",
    title="Transmission des changements de situation",
    kind="Réglementaire",
    data_flows=(
        "DSG – flux dématérialisés de la branche Maladie",
        "GRO – changements de situation",
    ),
    description="Recevoir les changements de situation chaque nuit.",
    expected_benefit="Moins de ressaisies.",
    wished_date=date(2027, 9, 1),
    request_owner="Marie Dupré",
    status="Soumise",
    submitted_at=datetime(2027, 5, 10, 7, 30, tzinfo=UTC),
    version="Version du 10/05/2027",
)

QUOTE = QuoteData(
    reference="EVO-23-2027-0042",
    organisation="23 – Creuse",
    change_request_title="Transmission des changements de situation",
    version=2,
    man_days=Decimal("12.5"),
    amount=Decimal("8750.00"),
    valid_until=date(2027, 7, 1),
    author="Jean Martin",
    issued_at=datetime(2027, 6, 1, 9, 0, tzinfo=UTC),
    decision="Accepté",
    decision_comment="Bon pour accord.",
)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, blanks collapsed (no-break ones too): wrapping is moot."""
    reader = PdfReader(BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def has_image(pdf: bytes) -> bool:
    """Does any page reference an image XObject?"""
    for page in PdfReader(BytesIO(pdf)).pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        if any(x.get_object().get("/Subtype") == "/Image" for x in xobjects.values()):
            return True
    return False


def test_needs_expression_shows_request_header_and_footer():
    (text,) = pages_text(needs_expression_pdf(NEEDS, generated_at=GENERATED_AT))
    for expected in (
        "Expression de besoin",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Version du 10/05/2027",
        "Transmission des changements de situation",
        "Réglementaire",
        "DSG – flux dématérialisés de la branche Maladie",
        "GRO – changements de situation",
        "01/09/2027",
        "Marie Dupré",
        "Soumise",
        "10/05/2027 à 09:30",
        "Recevoir les changements de situation chaque nuit.",
        "Moins de ressaisies.",
        "Généré le 12/05/2027 à 14:05",
        "Page 1 / 1",
    ):
        assert expected in text


def test_needs_expression_says_when_dates_are_missing():
    draft = replace(NEEDS, wished_date=None, submitted_at=None, data_flows=())
    (text,) = pages_text(needs_expression_pdf(draft, generated_at=GENERATED_AT))
    assert "Non précisée" in text
    assert "Pas encore soumise" in text
    assert "Aucun" in text


def test_long_description_spans_pages_each_numbered_out_of_the_total():
    description = "\n\n".join(
        f"Paragraphe {i} : " + "le besoin est détaillé ici. " * 25 for i in range(30)
    )
    pdf = needs_expression_pdf(
        replace(NEEDS, description=description), generated_at=GENERATED_AT
    )
    pages = pages_text(pdf)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in text
        assert "Expression de besoin" in text
        assert "EVO-23-2027-0042" in text
    assert "Paragraphe 0 :" in pages[0]
    assert "Paragraphe 29 :" in " ".join(pages[-2:])
    assert "Moins de ressaisies." in pages[-1]


def test_markup_in_needs_expression_is_literal_text_and_embeds_nothing():
    hostile = replace(NEEDS, title=MARKUP, description=MARKUP, expected_benefit=MARKUP)
    pdf = needs_expression_pdf(hostile, generated_at=GENERATED_AT)
    (text,) = pages_text(pdf)
    assert text.count(MARKUP) == 3
    assert not has_image(pdf)


def test_markup_in_quote_is_literal_text_and_embeds_nothing():
    hostile = replace(QUOTE, change_request_title=MARKUP, decision_comment=MARKUP)
    pdf = quote_pdf(hostile, generated_at=GENERATED_AT)
    (text,) = pages_text(pdf)
    assert text.count(MARKUP) == 2
    assert not has_image(pdf)


def test_french_characters_survive_in_needs_expression():
    french = replace(
        NEEDS,
        organisation=FRENCH,
        title=FRENCH,
        description=FRENCH,
        request_owner=FRENCH,
    )
    (text,) = pages_text(needs_expression_pdf(french, generated_at=GENERATED_AT))
    assert text.count(FRENCH) >= 5


def test_quote_shows_version_amount_and_workload_the_french_way():
    (text,) = pages_text(quote_pdf(QUOTE, generated_at=GENERATED_AT))
    for expected in (
        "Devis",
        "Devis v2",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Transmission des changements de situation",
        "8 750,00 €",
        "12,5 j/h",
        "01/07/2027",
        "Jean Martin",
        "01/06/2027 à 11:00",
        "Accepté",
        "Bon pour accord.",
        "Généré le 12/05/2027 à 14:05",
        "Page 1 / 1",
    ):
        assert expected in text


def test_quote_without_comment_shows_a_dash():
    (text,) = pages_text(
        quote_pdf(replace(QUOTE, decision_comment=""), generated_at=GENERATED_AT)
    )
    assert "Commentaire —" in text


@pytest.mark.parametrize(
    ("man_days", "expected"),
    [
        (Decimal("12.5"), "12,5 j/h"),
        (Decimal("3"), "3 j/h"),
        (Decimal("1500"), "1 500 j/h"),
    ],
)
def test_workload_drops_useless_zeros(man_days, expected):
    assert format_man_days(man_days).replace("\u00a0", " ") == expected


@pytest.mark.parametrize("build", [needs_expression_pdf, quote_pdf])
def test_documents_are_a4_pdf(build):
    data = NEEDS if build is needs_expression_pdf else QUOTE
    pdf = build(data, generated_at=GENERATED_AT)
    box = PdfReader(BytesIO(pdf)).pages[0].mediabox
    assert pdf.startswith(b"%PDF")
    assert float(box.width) == pytest.approx(595.27, abs=1)
    assert float(box.height) == pytest.approx(841.89, abs=1)


def test_documents_are_reproducible():
    assert needs_expression_pdf(NEEDS, generated_at=GENERATED_AT) == (
        needs_expression_pdf(NEEDS, generated_at=GENERATED_AT)
    )
    assert quote_pdf(QUOTE, generated_at=GENERATED_AT) == quote_pdf(
        QUOTE, generated_at=GENERATED_AT
    )
