"""Tests for workflow.pdf: escaping, French formats, page frame and blocks."""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from workflow.formats import format_euros, format_number
from workflow.pdf import (
    Field,
    Heading,
    Table,
    Text,
    build_pdf,
    escape_text,
    format_date,
    format_datetime,
)

PARIS = ZoneInfo("Europe/Paris")
MARKUP = '<img src="/etc/passwd"/> <b>gras</b> &amp; <font size="80">x</font>'
FRENCH = "é è à ç œ Œ € « guillemets » l’apostrophe – tiret ê ù ï"


def pdf_of(blocks, **overrides) -> bytes:
    """A document with default header values."""
    values = {
        "title": "Document d’essai",
        "reference": "EVO-23-2027-0042",
        "organisation": "23 – Creuse",
        "version": "Version du 12/05/2027",
        "generated_at": datetime(2027, 5, 12, 12, 5, tzinfo=UTC),
        "blocks": blocks,
    }
    return build_pdf(**{**values, **overrides})


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, blanks collapsed (no-break ones too): wrapping is moot."""
    reader = PdfReader(BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def font_sizes(pdf: bytes) -> set[float]:
    """Every font size set by a Tf operator in the page contents."""
    sizes: set[float] = set()

    def on_operator(operator, operands, cm, tm):
        if operator == b"Tf":
            sizes.add(float(operands[1]))

    for page in PdfReader(BytesIO(pdf)).pages:
        page.extract_text(visitor_operand_before=on_operator)
    return sizes


def image_xobjects(pdf: bytes) -> list:
    """The image XObjects referenced by the pages' resources."""
    images = []
    for page in PdfReader(BytesIO(pdf)).pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        images.extend(
            name
            for name, xobject in xobjects.items()
            if xobject.get_object().get("/Subtype") == "/Image"
        )
    return images


def test_escape_text_turns_markup_into_literal_text():
    assert escape_text('<img src="/etc/passwd"/>') == '&lt;img src="/etc/passwd"/&gt;'
    assert escape_text("a &amp; b") == "a &amp;amp; b"


def test_escape_text_keeps_line_breaks_of_every_convention():
    assert (
        escape_text("un\r\ndeux\rtrois\nquatre") == "un<br/>deux<br/>trois<br/>quatre"
    )


def test_escape_text_blanks_control_characters():
    assert escape_text("a\x00b\tc\x0cd") == "a b c d"


def test_escape_text_composes_decomposed_accents():
    assert escape_text("e\u0301te\u0301") == "été"


def test_dates_are_french_and_on_paris_time():
    assert format_date(date(2027, 5, 2)) == "02/05/2027"
    assert format_datetime(datetime(2027, 5, 12, 12, 5, tzinfo=UTC)) == (
        "12/05/2027 à 14:05"
    )
    assert format_datetime(datetime(2027, 1, 12, 23, 30, tzinfo=UTC)) == (
        "13/01/2027 à 00:30"
    )


def test_naive_datetime_is_taken_as_paris_time():
    naive = datetime(2027, 5, 12, 12, 5)  # noqa: DTZ001 - the case under test
    assert format_datetime(naive) == "12/05/2027 à 12:05"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("8750"), "8 750,00 €"),
        (Decimal("1234567.891"), "1 234 567,89 €"),
        (Decimal("0.005"), "0,01 €"),
        (Decimal("999.5"), "999,50 €"),
        (Decimal("-42"), "-42,00 €"),
    ],
)
def test_euros_are_grouped_by_thousands_with_a_decimal_comma(amount, expected):
    assert format_euros(amount).replace("\u00a0", " ") == expected


def test_euros_never_break_between_digits_and_sign():
    assert format_euros(Decimal("8750")) == "8\u00a0750,00\u00a0€"


def test_trimmed_numbers_drop_useless_zeros():
    assert format_number(Decimal("12.50"), places=2, trim=True) == "12,5"
    assert format_number(Decimal("100"), places=2, trim=True) == "100"
    assert format_number(Decimal("3.25"), places=2, trim=True) == "3,25"


def test_document_is_a4_pdf_with_metadata():
    pdf = pdf_of([Text("Bonjour")])
    reader = PdfReader(BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert pdf.startswith(b"%PDF")
    assert float(box.width) == pytest.approx(595.27, abs=1)
    assert float(box.height) == pytest.approx(841.89, abs=1)
    assert reader.metadata.title == "Document d’essai – EVO-23-2027-0042"
    assert reader.metadata.author == "Tandem"
    assert reader.metadata.subject == "EVO-23-2027-0042"
    assert reader.trailer["/Root"]["/Lang"] == "fr"


def test_header_and_footer_are_on_the_single_page():
    (text,) = pages_text(pdf_of([Heading("Section"), Text("Bonjour")]))
    for expected in (
        "Document d’essai",
        "EVO-23-2027-0042",
        "23 – Creuse",
        "Version du 12/05/2027",
        "Généré le 12/05/2027 à 14:05",
        "Page 1 / 1",
        "Section",
        "Bonjour",
    ):
        assert expected in text


def test_long_text_flows_over_pages_each_with_its_header_and_number():
    paragraphs = "\n\n".join(f"Paragraphe {i}. " + "Du texte. " * 60 for i in range(30))
    pages = pages_text(pdf_of([Heading("Description"), Text(paragraphs)]))
    assert len(pages) > 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in text
        assert "EVO-23-2027-0042" in text
        assert "Généré le 12/05/2027 à 14:05" in text
    assert "Paragraphe 29." in pages[-1]


def test_field_value_longer_than_a_page_breaks_inside_its_row():
    lines = "\n".join(f"ligne {i}" for i in range(150))
    pages = pages_text(pdf_of([Field("Liste", lines)]))
    assert len(pages) >= 2
    assert "ligne 0" in pages[0]
    assert "ligne 149" in pages[-1]


def test_markup_in_every_kind_of_block_is_printed_literally():
    pdf = pdf_of(
        [
            Heading(MARKUP),
            Field(MARKUP, MARKUP),
            Text(MARKUP),
            Table(headers=(MARKUP,), rows=((MARKUP,),)),
        ],
        organisation=MARKUP,
    )
    (text,) = pages_text(pdf)
    assert text.count(MARKUP) == 7
    assert image_xobjects(pdf) == []
    assert max(font_sizes(pdf)) <= 14


def test_french_characters_survive_in_header_and_body():
    (text,) = pages_text(
        pdf_of(
            [Heading(FRENCH), Field(FRENCH, FRENCH), Text(FRENCH)], organisation=FRENCH
        )
    )
    assert text.count(FRENCH) == 5


def test_table_block_pads_short_rows_and_shows_dash_for_blank_cells():
    (text,) = pages_text(
        pdf_of([Table(headers=("Charge", "Montant"), rows=(("12 j/h",), ("", "3")))])
    )
    assert "Charge" in text
    assert "Montant" in text
    assert "12 j/h" in text
    assert "—" in text


def test_empty_document_still_has_its_frame():
    (text,) = pages_text(pdf_of([]))
    assert "Page 1 / 1" in text
    assert "EVO-23-2027-0042" in text


def test_overlong_header_values_are_cut_on_one_line():
    (text,) = pages_text(pdf_of([Text("Corps")], organisation="Conseil " * 40))
    assert "Conseil Conseil" in text
    assert "…" in text
    assert text.count("Conseil") < 40


def test_same_data_gives_the_same_bytes():
    blocks = [Heading("Titre"), Field("Nature", "Technique"), Text("Description")]
    assert pdf_of(blocks) == pdf_of(blocks)


def test_unknown_block_is_refused():
    with pytest.raises(TypeError):
        pdf_of(["pas un bloc"])


def test_reportlab_runs_on_its_c_accelerators():
    # rl_accel (requirements.lock) replaces reportlab's pure-Python number
    # formatting, encodings and text widths: a third of a bilan's CPU.
    from reportlab.lib import rl_accel

    for name in ("fp_str", "asciiBase85Encode", "unicode2T1", "escapePDF"):
        assert not getattr(rl_accel, name).__name__.startswith("_py_"), name
