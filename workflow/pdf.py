"""PDF base shared by the documents of both processes: page frame, blocks, formats.

A document is described as plain data (a title, the page header values and a list of
blocks) and rendered to bytes by `build_pdf`, so builders are testable without a
database. Every user string goes through `escape_text` before it reaches reportlab's
Paragraph markup: a description containing `<img src="/etc/passwd"/>` is printed as
those characters, it never embeds a file nor changes the formatting.

Font: the built-in Helvetica (one of the 14 standard PDF fonts, nothing embedded).
ReportLab writes it in WinAnsiEncoding, which holds every character of French text:
accented letters, œ Œ æ ç, « », ’, –, —, …, € and the no-break space. The narrow
no-break space U+202F is not in it, so amounts use U+00A0. Outside that set reportlab
borrows a few signs from the Symbol font (→ ≥ Ω) and prints a black box for the rest
(ł, ő, CJK, emoji). ReportLab also ships Vera, but its coverage is hardly wider and it
would have to be embedded in every file.
"""

import copy
import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as GridTable

PARIS = ZoneInfo("Europe/Paris")
EMPTY_VALUE = "—"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 2 * cm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
# The header sits in the top margin band and the frame starts below its rule, so
# long content never runs under the header or the footer.
HEADER_FIRST_BASELINE = PAGE_HEIGHT - 1.4 * cm
HEADER_SECOND_BASELINE = PAGE_HEIGHT - 1.95 * cm
HEADER_RULE = PAGE_HEIGHT - 2.2 * cm
FRAME_TOP = PAGE_HEIGHT - 2.8 * cm
FOOTER_RULE = 1.6 * cm
FOOTER_BASELINE = 1.1 * cm
FRAME_BOTTOM = MARGIN

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
INK = colors.HexColor("#1f2933")
ACCENT = colors.HexColor("#1f3a5f")
MUTED = colors.HexColor("#52606d")
RULE = colors.HexColor("#9aa5b1")
GRID = colors.HexColor("#cbd2d9")
LABEL_BACKGROUND = colors.HexColor("#f0f4f8")
WATERMARK = colors.HexColor("#e4e7eb")

FIELD_LABEL_WIDTH = 5.2 * cm
# Left and right padding of a table cell, together (points).
CELL_PADDING = 12
_GRID_STYLE = (
    ("GRID", (0, 0), (-1, -1), 0.5, GRID),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("TOPPADDING", (0, 0), (-1, -1), 4),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ("RIGHTPADDING", (0, 0), (-1, -1), 6),
)

# Everything below U+0020 but the line feed, and DEL: reportlab would print them as
# black boxes (or choke on NUL); tabs and form feeds are blanks to a reader.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Heading:
    """A section title."""

    text: str


@dataclass(frozen=True)
class Field:
    """A label and its value; consecutive fields make one two-column table."""

    label: str
    value: str


@dataclass(frozen=True)
class Text:
    """Free text: blank lines separate paragraphs, single line breaks are kept."""

    value: str


@dataclass(frozen=True)
class Table:
    """A grid with a header row repeated on every page it spans."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# Any reportlab Flowable (a chart, a framed box…) may also be given as is.
Block = Heading | Field | Text | Table | Flowable


def _printable(value: str) -> str:
    """User text as reportlab can print it: composed accents, line feeds only, no
    control characters."""
    # NFC first: text pasted from macOS may carry "e" + combining accent, which
    # Helvetica cannot draw, while the composed "é" is in its encoding.
    text = unicodedata.normalize("NFC", str(value))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return _CONTROL_CHARACTERS.sub(" ", text)


def escape_text(value: str) -> str:
    """Turn user text into Paragraph markup that prints exactly that text."""
    return html.escape(_printable(value), quote=False).replace("\n", "<br/>")


def table_cell(value: str, style: ParagraphStyle, width: float) -> Paragraph | str:
    """A table cell printing `value` in `style` within `width` points: a plain
    string when it fits on one line (reportlab draws a string as it is, markup
    included, and lays it out ten times faster than a Paragraph), else a
    Paragraph that wraps. A blank value shows as a dash. The table prints its
    plain strings with the commands of `plain_cell_commands`."""
    text = _printable(value)
    if "\n" not in text:
        # As a Paragraph prints it: blanks collapsed, none at either end.
        line = " ".join(text.split())
        if not line:
            return EMPTY_VALUE
        if stringWidth(line, style.fontName, style.fontSize) <= width:
            return line
    return Paragraph(escape_text(value), style)


def plain_cell_commands(style: ParagraphStyle, start: tuple, end: tuple) -> list:
    """TableStyle commands printing the plain-string cells from `start` to `end`
    as a Paragraph in `style` would."""
    align = {TA_RIGHT: "RIGHT", TA_CENTER: "CENTER"}.get(style.alignment, "LEFT")
    return [
        ("FONT", start, end, style.fontName, style.fontSize, style.leading),
        ("TEXTCOLOR", start, end, style.textColor),
        ("ALIGN", start, end, align),
    ]


def format_date(value: date) -> str:
    """A date the French way: 12/05/2027."""
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime) -> str:
    """A moment the French way, on Paris time: 12/05/2027 à 14:30."""
    local = paris_time(value)
    return _("%(date)s à %(time)s") % {
        "date": format_date(local),
        "time": local.strftime("%H:%M"),
    }


def paris_time(value: datetime) -> datetime:
    """An aware moment on Paris time; a naive one is taken as Paris time already."""
    return value.astimezone(PARIS) if value.tzinfo is not None else value


def build_pdf(
    *,
    title: str,
    reference: str,
    organisation: str,
    version: str,
    generated_at: datetime,
    blocks: list[Block],
    watermark: str = "",
) -> bytes:
    """Render an A4 document with its header and footer on every page, and the
    `watermark` across each page when given (a draft that nobody may sign)."""
    furniture = _PageFurniture(
        title=title,
        reference=reference,
        organisation=organisation,
        version=version,
        generated=_("Généré le %(moment)s") % {"moment": format_datetime(generated_at)},
        watermark=watermark,
    )
    return _render(furniture, blocks)


@dataclass(frozen=True)
class _PageFurniture:
    """What the header and the footer print on every page."""

    title: str
    reference: str
    organisation: str
    version: str
    generated: str
    watermark: str = ""

    def draw(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        """Draw the header and the footer of the current page, all but its number
        (`_PageCountingCanvas` adds it once the page count is known)."""
        canvas.saveState()
        left, right = MARGIN, PAGE_WIDTH - MARGIN
        if self.watermark:
            # Under the page's content, across it, light enough to read through.
            canvas.saveState()
            canvas.setFillColor(WATERMARK)
            canvas.setFont(FONT_BOLD, 44)
            canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
            canvas.rotate(50)
            canvas.drawCentredString(0, 0, self.watermark)
            canvas.restoreState()

        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, 9)
        right_second = _one_line(self.version, FONT, 9, CONTENT_WIDTH / 2)
        canvas.drawRightString(right, HEADER_SECOND_BASELINE, right_second)
        room = CONTENT_WIDTH - stringWidth(right_second, FONT, 9) - 0.6 * cm
        canvas.drawString(
            left,
            HEADER_SECOND_BASELINE,
            _one_line(self.organisation, FONT, 9, room),
        )

        canvas.setFillColor(ACCENT)
        canvas.setFont(FONT_BOLD, 11)
        right_first = _one_line(self.reference, FONT_BOLD, 11, CONTENT_WIDTH / 2)
        canvas.drawRightString(right, HEADER_FIRST_BASELINE, right_first)
        room = CONTENT_WIDTH - stringWidth(right_first, FONT_BOLD, 11) - 0.6 * cm
        canvas.setFont(FONT_BOLD, 14)
        canvas.drawString(
            left, HEADER_FIRST_BASELINE, _one_line(self.title, FONT_BOLD, 14, room)
        )

        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.6)
        canvas.line(left, HEADER_RULE, right, HEADER_RULE)
        canvas.line(left, FOOTER_RULE, right, FOOTER_RULE)

        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, 8)
        canvas.drawString(left, FOOTER_BASELINE, self.generated)
        canvas.drawCentredString(PAGE_WIDTH / 2, FOOTER_BASELINE, "Tandem")
        canvas.restoreState()


class _PageCountingCanvas(Canvas):
    """A canvas that holds every finished page until the document ends, then
    prints "Page X / Y" in each footer: the page count without a second layout
    pass (which doubled the cost of every document)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict] = []

    def showPage(self):
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        count = len(self._held_pages)
        for page in self._held_pages:
            self.__dict__.update(page)
            self.saveState()
            self.setFillColor(MUTED)
            self.setFont(FONT, 8)
            self.drawRightString(
                PAGE_WIDTH - MARGIN,
                FOOTER_BASELINE,
                _("Page %(page)d / %(count)d")
                % {"page": self.getPageNumber(), "count": count},
            )
            self.restoreState()
            super().showPage()
        super().save()


def _one_line(value: str, font: str, size: float, width: float) -> str:
    """The value on one line, cut with an ellipsis where it would overflow `width`."""
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(f"{text}…", font, size) > width:
        text = text[:-1]
    return f"{text.rstrip()}…"


def _render(furniture: _PageFurniture, blocks: list[Block]) -> bytes:
    """Lay the blocks out on pages with their furniture: the PDF bytes."""
    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=PAGE_HEIGHT - FRAME_TOP,
        bottomMargin=FRAME_BOTTOM,
        title=f"{furniture.title} – {furniture.reference}",
        author="Tandem",
        subject=furniture.reference,
        creator="Tandem",
        lang="fr",
        # Same data, same bytes: fixed document id and dates; the real generation
        # moment is printed in the footer.
        invariant=1,
    )
    body = Frame(
        MARGIN,
        FRAME_BOTTOM,
        CONTENT_WIDTH,
        FRAME_TOP - FRAME_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    doc.addPageTemplates(
        [
            PageTemplate(
                id="page",
                frames=[body],
                onPage=furniture.draw,
            )
        ]
    )
    doc.build(_story(blocks), canvasmaker=_PageCountingCanvas)
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of the body."""
    body = ParagraphStyle(
        "body",
        fontName=FONT,
        fontSize=10,
        leading=13.5,
        textColor=INK,
        alignment=TA_LEFT,
        spaceAfter=5,
    )
    return {
        "body": body,
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=12,
            leading=15,
            textColor=ACCENT,
            spaceBefore=12,
            spaceAfter=6,
            keepWithNext=1,
        ),
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
        "label": ParagraphStyle(
            "label",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=9,
            leading=12,
            textColor=MUTED,
            spaceAfter=0,
        ),
    }


def _story(blocks: list[Block]) -> list[Flowable]:
    """The flowables of the blocks, consecutive fields gathered in one table."""
    styles = _styles()
    story: list[Flowable] = []
    fields: list[Field] = []
    for block in blocks:
        if isinstance(block, Field):
            fields.append(block)
            continue
        if fields:
            story.append(_fields_table(fields, styles))
            fields = []
        match block:
            case Heading(text=text):
                story.append(Paragraph(escape_text(text), styles["heading"]))
            case Text(value=value):
                story.extend(
                    Paragraph(escape_text(part), styles["body"])
                    for part in _paragraphs(value)
                )
            case Table(headers=headers, rows=rows):
                story.append(_grid(headers, rows, styles))
            case Flowable():
                # A fresh copy per document: reportlab marks the flowables it
                # moves to the next page and refuses to move them twice.
                story.append(copy.copy(block))
            case _:
                raise TypeError(f"Bloc de document inconnu : {block!r}")
    if fields:
        story.append(_fields_table(fields, styles))
    # An empty document still gets its one page with header and footer.
    return story or [Spacer(CONTENT_WIDTH, 1)]


def _paragraphs(value: str) -> list[str]:
    """The paragraphs of a free text; an empty text shows as a dash."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [part for part in _BLANK_LINES.split(text) if part.strip()] or [EMPTY_VALUE]


def _fields_table(fields: list[Field], styles: dict[str, ParagraphStyle]) -> GridTable:
    """Label / value rows."""
    label_room = FIELD_LABEL_WIDTH - CELL_PADDING
    value_room = CONTENT_WIDTH - FIELD_LABEL_WIDTH - CELL_PADDING
    table = GridTable(
        [
            [
                table_cell(field.label, styles["label"], label_room),
                table_cell(field.value, styles["cell"], value_room),
            ]
            for field in fields
        ],
        colWidths=[FIELD_LABEL_WIDTH, CONTENT_WIDTH - FIELD_LABEL_WIDTH],
        hAlign="LEFT",
        # A value longer than a page must break inside its row, not fail the layout.
        splitInRow=1,
        spaceAfter=8,
    )
    table.setStyle(
        TableStyle(
            [
                *_GRID_STYLE,
                *plain_cell_commands(styles["label"], (0, 0), (0, -1)),
                *plain_cell_commands(styles["cell"], (1, 0), (1, -1)),
                ("BACKGROUND", (0, 0), (0, -1), LABEL_BACKGROUND),
                # Labels are a point smaller: one more point on top lines up the
                # baselines of label and value.
                ("TOPPADDING", (0, 0), (0, -1), 5),
            ]
        )
    )
    return table


def _grid(
    headers: tuple[str, ...],
    rows: tuple[tuple[str, ...], ...],
    styles: dict[str, ParagraphStyle],
) -> GridTable:
    """A header row (if any) and data rows in equal columns; short rows are padded."""
    width = max([len(headers), *(len(row) for row in rows), 1])
    room = CONTENT_WIDTH / width - CELL_PADDING
    data = []
    if headers:
        data.append(_padded_row(headers, width, styles["label"], room))
    data.extend(_padded_row(row, width, styles["cell"], room) for row in rows)
    table = GridTable(
        data or [_padded_row((), width, styles["cell"], room)],
        colWidths=[CONTENT_WIDTH / width] * width,
        hAlign="LEFT",
        repeatRows=1 if headers else 0,
        splitInRow=1,
        spaceAfter=8,
    )
    commands = [*_GRID_STYLE, *plain_cell_commands(styles["cell"], (0, 0), (-1, -1))]
    if headers:
        commands += plain_cell_commands(styles["label"], (0, 0), (-1, 0))
        commands.append(("BACKGROUND", (0, 0), (-1, 0), LABEL_BACKGROUND))
    table.setStyle(TableStyle(commands))
    return table


def _padded_row(
    values: tuple[str, ...], width: int, style: ParagraphStyle, room: float
) -> list[Paragraph | str]:
    """The cells of one row, empty cells added up to `width`."""
    padding = ["" for _missing in range(width - len(values))]
    return [*(table_cell(value, style, room) for value in values), *padding]
