"""PDF documents of an acceptance: the test plan, the report and the go-live agreement.

Built from plain data (the dataclasses below), so the views fill them from the models
and the tests need no database.

Some pieces are reportlab flowables of their own, laid out by the shared base among
its blocks: the steps and results tables with columns sized to their content, the
framed warnings, the bar chart of the final results and the SHA-256 in Courier.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, TableStyle
from reportlab.platypus import Table as GridTable

from evolutions.pdf import format_man_days
from workflow.formats import format_number
from workflow.pdf import (
    ACCENT,
    CELL_PADDING,
    CONTENT_WIDTH,
    EMPTY_VALUE,
    FONT,
    FONT_BOLD,
    GRID,
    INK,
    LABEL_BACKGROUND,
    MUTED,
    Block,
    Field,
    Heading,
    Text,
    build_pdf,
    escape_text,
    format_date,
    format_datetime,
    plain_cell_commands,
    table_cell,
)

MONOSPACE = "Courier"
WARNING = colors.HexColor("#b44d12")
WARNING_BACKGROUND = colors.HexColor("#fdf1e6")

# Okabe–Ito hues, told apart with every common colour-vision deficiency; each bar
# also carries its count and its category name, so colour is never the only cue.
PASSED_COLOUR = colors.HexColor("#009e73")
FAILED_COLOUR = colors.HexColor("#d55e00")
BLOCKED_COLOUR = colors.HexColor("#e69f00")
NOT_APPLICABLE_COLOUR = colors.HexColor("#8c96a0")
NOT_RUN_COLOUR = colors.HexColor("#dde3e9")
CHART_HEIGHT = 6.5 * cm

_Item = Block | Flowable


@dataclass(frozen=True)
class StepData:
    """One step of a test case."""

    number: int
    action: str
    expected: str


@dataclass(frozen=True)
class CaseData:
    """One test case of the acceptance plan."""

    reference: str
    title: str
    objective: str
    priority: str
    preconditions: str
    section: str
    steps: tuple[StepData, ...]


@dataclass(frozen=True)
class AcceptancePlanData:
    """What one version of the acceptance plan shows."""

    reference: str
    organisation: str
    change_request_title: str
    version: int
    status: str
    man_days: Decimal | None  # None while the plan is being prepared
    start: date | None
    end: date | None
    production_date: date | None
    release_number: str | None
    margin_warning: str | None
    cases: tuple[CaseData, ...]
    # Why the schedule is proposed though it eats the margin (supplier's text).
    margin_justification: str = ""


@dataclass(frozen=True)
class CampaignFigures:
    """Case counts of one campaign; `run` counts the cases that have a result."""

    name: str
    delivery_number: int | None
    planned: int
    run: int
    passed: int
    failed: int
    blocked: int
    not_applicable: int

    @property
    def not_run(self) -> int:
        """Planned cases still without a result."""
        return max(self.planned - self.run, 0)


@dataclass(frozen=True)
class DefectCount:
    """How many defects have this severity and this status."""

    severity: str
    status: str
    count: int


@dataclass(frozen=True)
class DefectLine:
    """One defect in the report's list."""

    reference: str
    title: str
    severity: str
    status: str


@dataclass(frozen=True)
class AcceptanceReportData:
    """What one version of the acceptance report shows.

    The final figures print as "Résultat final", whatever their `name`.
    """

    reference: str
    organisation: str
    change_request_title: str
    version: int
    verdict: str
    reserves: str
    submitted_at: datetime | None
    author: str
    campaigns: tuple[CampaignFigures, ...]
    final: CampaignFigures
    defect_counts: tuple[DefectCount, ...]
    defects: tuple[DefectLine, ...]
    deliveries: tuple[tuple[int, date], ...]
    planned_start: date
    planned_end: date
    actual_start: date | None
    actual_end: date | None
    # A version still in writing: its PDF says so on every page.
    draft: bool = False


@dataclass(frozen=True)
class SignatureData:
    """One side's signature of the go-live agreement."""

    side: str
    name: str
    signed_at: datetime | None


@dataclass(frozen=True)
class GoLiveAgreementData:
    """What the go-live agreement shows: the signed report's hash and signatures."""

    reference: str
    organisation: str
    change_request_title: str
    report_version: int
    report_sha256: str
    verdict: str
    reserves: str
    signatures: tuple[SignatureData, ...]


def acceptance_plan_pdf(data: AcceptancePlanData, *, generated_at: datetime) -> bytes:
    """One version of the acceptance plan as an A4 PDF."""
    items: list[_Item] = [Heading(data.change_request_title)]
    if data.margin_warning:
        items.extend(_notice(_("Attention"), data.margin_warning, warning=True))
        if data.margin_justification:
            items.extend(
                _notice(_("Justification de la CNAF"), data.margin_justification)
            )
    items += [
        Field(_("Référence de la demande"), data.reference),
        Field(_("Organisme"), data.organisation),
        Field(_("Version du plan"), str(data.version)),
        Field(_("État"), data.status),
        Field(
            _("Charge de recette"),
            EMPTY_VALUE if data.man_days is None else format_man_days(data.man_days),
        ),
        Field(
            _("Période de recette"),
            _period(data.start, data.end) if data.start and data.end else EMPTY_VALUE,
        ),
        Field(_("Version applicative"), data.release_number or _("Non définie")),
        Field(
            _("Mise en production"),
            format_date(data.production_date)
            if data.production_date
            else _("Non planifiée"),
        ),
        Heading(_("Cas de test")),
        *_cases_summary(data.cases),
    ]
    for case in data.cases:
        items.extend(_case(case))
    return build_pdf(
        title=_("Cahier de recette"),
        reference=data.reference,
        organisation=data.organisation,
        version=_("Plan v%(version)d") % {"version": data.version},
        generated_at=generated_at,
        blocks=items,
    )


def acceptance_report_pdf(
    data: AcceptanceReportData, *, generated_at: datetime
) -> bytes:
    """One version of the acceptance report as an A4 PDF."""
    items: list[_Item] = [
        Heading(data.change_request_title),
        Field(_("Référence de la demande"), data.reference),
        Field(_("Organisme"), data.organisation),
        Field(_("Version du bilan"), str(data.version)),
        Field(_("Auteur"), data.author),
        Field(
            _("Soumis le"),
            format_datetime(data.submitted_at)
            if data.submitted_at
            else _("Pas encore soumis"),
        ),
        Field(_("Avis"), data.verdict),
        Heading(_("Calendrier")),
        *_table(
            (_("Jalon"), _("Prévu"), _("Réel")),
            [
                (
                    _("Début de la recette"),
                    format_date(data.planned_start),
                    _optional_date(data.actual_start),
                ),
                (
                    _("Fin de la recette"),
                    format_date(data.planned_end),
                    _optional_date(data.actual_end),
                ),
            ],
            widths=(1, 1, 1),
        ),
        Heading(_("Livraisons")),
    ]
    if data.deliveries:
        items.extend(
            _table(
                (_("Livraison"), _("Date")),
                [
                    (_("n° %(number)d") % {"number": number}, format_date(delivered))
                    for number, delivered in data.deliveries
                ],
                widths=(1, 1),
            )
        )
    else:
        items.append(Text(_("Aucune livraison")))
    items += [
        Heading(_("Résultats par campagne")),
        *_results_table(data.campaigns, data.final),
    ]
    items += [Heading(_("Résultat final")), results_chart(data.final)]
    items += [
        Heading(_("Anomalies par gravité et par état")),
        *_defect_counts(data.defect_counts),
        Heading(_("Liste des anomalies")),
        *_defect_list(data.defects),
        Heading(_("Réserves")),
        Text(data.reserves if data.reserves.strip() else _("Aucune réserve")),
        *_notice(_("Avis de recette"), data.verdict),
    ]
    return build_pdf(
        title=_("Bilan de recette"),
        reference=data.reference,
        organisation=data.organisation,
        version=(
            _("Bilan v%(version)d — projet non signé")
            if data.draft
            else _("Bilan v%(version)d")
        )
        % {"version": data.version},
        generated_at=generated_at,
        blocks=items,
        watermark=_("PROJET — non signé") if data.draft else "",
    )


def go_live_agreement_pdf(
    data: GoLiveAgreementData, *, generated_at: datetime
) -> bytes:
    """The go-live agreement, with the signed report's SHA-256, as an A4 PDF."""
    report = _("Bilan v%(version)d") % {"version": data.report_version}
    items: list[_Item] = [
        Heading(data.change_request_title),
        Field(_("Référence de la demande"), data.reference),
        Field(_("Organisme"), data.organisation),
        Field(_("Bilan de recette"), report),
        Field(_("Avis de recette"), data.verdict),
        Heading(_("Réserves")),
        Text(data.reserves if data.reserves.strip() else _("Aucune réserve")),
        Heading(_("Bilan de recette signé")),
        Text(
            _(
                "Les signataires autorisent la mise en production au vu du bilan "
                "de recette dont l’empreinte SHA-256 suit."
            )
        ),
        _monospace(data.report_sha256),
        Heading(_("Signatures")),
    ]
    if data.signatures:
        items.extend(
            _table(
                (_("Signataire"), _("Nom"), _("Signature")),
                [
                    (signature.side, signature.name, _signature_state(signature))
                    for signature in data.signatures
                ],
                widths=(6, 4.5, 6.5),
            )
        )
    else:
        items.append(Text(_("En attente de signature")))
    return build_pdf(
        title=_("Accord de mise en production"),
        reference=data.reference,
        organisation=data.organisation,
        version=report,
        generated_at=generated_at,
        blocks=items,
    )


def results_chart(figures: CampaignFigures) -> Drawing:
    """Labelled bars of the results: passed, failed, blocked, n/a, not run."""
    bars = (
        (_("Réussis"), figures.passed, PASSED_COLOUR),
        (_("Échoués"), figures.failed, FAILED_COLOUR),
        (_("Bloqués"), figures.blocked, BLOCKED_COLOUR),
        (_("Non applicables"), figures.not_applicable, NOT_APPLICABLE_COLOUR),
        (_("Non exécutés"), figures.not_run, NOT_RUN_COLOUR),
    )
    values = tuple(max(value, 0) for _label, value, _colour in bars)
    step = _axis_step(max(values))
    drawing = Drawing(CONTENT_WIDTH, CHART_HEIGHT)
    chart = VerticalBarChart()
    chart.x, chart.y = 1.4 * cm, 0.9 * cm
    chart.width = CONTENT_WIDTH - chart.x - 0.2 * cm
    chart.height = CHART_HEIGHT - chart.y - 0.6 * cm
    chart.data = [values]
    chart.barSpacing = 0
    chart.groupSpacing = 18
    chart.bars.strokeColor = MUTED
    chart.bars.strokeWidth = 0.5
    for index, (_label, _value, colour) in enumerate(bars):
        chart.bars[(0, index)].fillColor = colour
    chart.barLabelFormat = _count
    chart.barLabels.fontName = FONT_BOLD
    chart.barLabels.fontSize = 9
    chart.barLabels.fillColor = INK
    chart.barLabels.nudge = 7
    chart.categoryAxis.categoryNames = [label for label, _value, _colour in bars]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 9
    chart.categoryAxis.labels.fillColor = INK
    chart.categoryAxis.labels.dy = -4
    chart.categoryAxis.strokeColor = MUTED
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = step * max(-(-max(values) // step), 1)
    chart.valueAxis.valueStep = step
    chart.valueAxis.labelTextFormat = _count
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.labels.fillColor = MUTED
    chart.valueAxis.strokeColor = MUTED
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = GRID
    chart.valueAxis.gridStrokeWidth = 0.5
    drawing.add(chart, name="chart")
    return drawing


def _case(case: CaseData) -> list[_Item]:
    """A test case: its heading, its description and its steps."""
    items: list[_Item] = [
        Heading(f"{case.reference} – {case.title}"),
        Field(_("Rubrique"), case.section),
        Field(_("Priorité"), case.priority),
        Field(_("Objectif"), case.objective),
        Field(_("Préconditions"), case.preconditions or _("Aucune")),
    ]
    if not case.steps:
        return [*items, Text(_("Aucune étape"))]
    return items + _table(
        (_("N°"), _("Action"), _("Résultat attendu")),
        [(str(step.number), step.action, step.expected) for step in case.steps],
        widths=(1, 8, 8),
    )


def _cases_summary(cases: tuple[CaseData, ...]) -> list[_Item]:
    """How many cases and steps, then one line per case."""
    if not cases:
        return [Text(_("Aucun cas de test"))]
    steps = sum(len(case.steps) for case in cases)
    return [
        # A line between the heading and the long table: kept with its heading,
        # the whole table would start on a new page.
        Text(
            _("%(cases)s cas, %(steps)s étapes.")
            % {"cases": _count(len(cases)), "steps": _count(steps)}
        ),
        *_table(
            (_("Référence"), _("Titre"), _("Rubrique"), _("Priorité"), _("Étapes")),
            [
                (
                    case.reference,
                    case.title,
                    case.section,
                    case.priority,
                    _count(len(case.steps)),
                )
                for case in cases
            ],
            widths=(2.2, 5.8, 4, 2, 1.5),
            numeric_from=4,
        ),
    ]


def _defect_list(defects: tuple[DefectLine, ...]) -> list[_Item]:
    """How many defects, then one line per defect."""
    if not defects:
        return [Text(_("Aucune anomalie"))]
    return [
        # As for the cases: a line keeps a long table from starting a new page.
        Text(_("Anomalies relevées : %(count)s.") % {"count": _count(len(defects))}),
        *_table(
            (_("Référence"), _("Titre"), _("Gravité"), _("État")),
            [
                (line.reference, line.title, line.severity, line.status)
                for line in defects
            ],
            widths=(2.6, 7, 2.7, 2.7),
        ),
    ]


def _results_table(
    campaigns: tuple[CampaignFigures, ...], final: CampaignFigures
) -> list[_Item]:
    """One row of counts per campaign, then the final result."""
    rows = [_results_row(figures.name, figures) for figures in campaigns] + [
        _results_row(_("Résultat final"), final)
    ]
    return _table(
        (
            _("Campagne"),
            _("Livraison"),
            _("Prévus"),
            _("Exécutés"),
            _("Réussis"),
            _("Échoués"),
            _("Bloqués"),
            _("Non applicables"),
        ),
        rows,
        # Points: every header fits, "Non applicables" on two lines.
        widths=(114, 54, 46, 54, 50, 52, 50, 62),
        numeric_from=2,
        total_row=True,
    )


def _results_row(label: str, figures: CampaignFigures) -> tuple[str, ...]:
    """The cells of one campaign's counts."""
    delivery = (
        _("n° %(number)d") % {"number": figures.delivery_number}
        if figures.delivery_number is not None
        else EMPTY_VALUE
    )
    counts = (
        figures.planned,
        figures.run,
        figures.passed,
        figures.failed,
        figures.blocked,
        figures.not_applicable,
    )
    return (label, delivery, *(_count(count) for count in counts))


def _defect_counts(defect_counts: tuple[DefectCount, ...]) -> list[_Item]:
    """Defects counted by severity (rows) and status (columns), with totals."""
    if not defect_counts:
        return [Text(_("Aucune anomalie"))]
    # Rows and columns keep the order the caller gives (most severe first, say).
    severities = list(dict.fromkeys(line.severity for line in defect_counts))
    statuses = list(dict.fromkeys(line.status for line in defect_counts))
    counts: dict[tuple[str, str], int] = {}
    for line in defect_counts:
        key = (line.severity, line.status)
        counts[key] = counts.get(key, 0) + line.count
    rows = [
        (
            severity,
            *(_count(counts.get((severity, status), 0)) for status in statuses),
            _count(sum(counts.get((severity, status), 0) for status in statuses)),
        )
        for severity in severities
    ]
    rows.append(
        (
            _("Total"),
            *(
                _count(
                    sum(counts.get((severity, status), 0) for severity in severities)
                )
                for status in statuses
            ),
            _count(sum(counts.values())),
        )
    )
    return _table(
        (_("Gravité"), *statuses, _("Total")),
        rows,
        widths=(3, *(2 for _status in statuses), 1.6),
        numeric_from=1,
        total_row=True,
    )


def _signature_state(signature: SignatureData) -> str:
    """When the side signed, or that it has not yet."""
    if signature.signed_at is None:
        return _("En attente de signature")
    return _("Signé le %(moment)s") % {"moment": format_datetime(signature.signed_at)}


def _period(start: date, end: date) -> str:
    """A date range the French way: du 01/09/2027 au 30/09/2027."""
    return _("du %(start)s au %(end)s") % {
        "start": format_date(start),
        "end": format_date(end),
    }


def _optional_date(value: date | None) -> str:
    """A date, or a dash while it is not known."""
    return format_date(value) if value else EMPTY_VALUE


def _count(value: float) -> str:
    """A count the French way: 1 234."""
    return format_number(Decimal(int(value)), places=0)


def _axis_step(maximum: int) -> int:
    """A round tick step (1, 2, 5, 10, 20, 50…) giving five ticks or fewer."""
    step = 1
    while maximum > 5 * step:
        step = step * 5 // 2 if str(step).startswith("2") else step * 2
    return step


# --- Flowables, or the plain blocks standing in for them -------------------------


def _styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of the flowables, matching the shared base's."""
    cell = ParagraphStyle(
        "recette-cell", fontName=FONT, fontSize=10, leading=13.5, textColor=INK
    )
    label = ParagraphStyle(
        "recette-label",
        parent=cell,
        fontName=FONT_BOLD,
        fontSize=9,
        leading=12,
        textColor=MUTED,
    )
    return {
        "cell": cell,
        "cell-number": ParagraphStyle(
            "recette-number", parent=cell, alignment=TA_RIGHT
        ),
        "total": ParagraphStyle("recette-total", parent=cell, fontName=FONT_BOLD),
        "total-number": ParagraphStyle(
            "recette-total-number", parent=cell, fontName=FONT_BOLD, alignment=TA_RIGHT
        ),
        "label": label,
        "label-number": ParagraphStyle(
            "recette-label-number", parent=label, alignment=TA_RIGHT
        ),
        "notice-title": ParagraphStyle(
            "recette-notice-title", parent=cell, fontName=FONT_BOLD, textColor=ACCENT
        ),
        "notice": ParagraphStyle(
            "recette-notice", parent=cell, fontName=FONT_BOLD, fontSize=12, leading=16
        ),
        "monospace": ParagraphStyle(
            "recette-monospace", parent=cell, fontName=MONOSPACE
        ),
    }


def _table(
    headers: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    *,
    widths: tuple[float, ...],
    numeric_from: int | None = None,
    total_row: bool = False,
) -> list[_Item]:
    """A grid with columns in proportion to `widths`, numbers right-aligned."""
    styles = _styles()
    scale = CONTENT_WIDTH / sum(widths)
    column_widths = [width * scale for width in widths]
    numeric_from = len(widths) if numeric_from is None else numeric_from

    def row_cells(values: tuple[str, ...], kind: str) -> list[Paragraph | str]:
        return [
            table_cell(
                value,
                styles[f"{kind}-number" if column >= numeric_from else kind],
                column_widths[column] - CELL_PADDING,
            )
            for column, value in enumerate(values)
        ]

    last = len(rows)
    data = [row_cells(headers, "label")]
    data += [
        row_cells(row, "total" if total_row and index == last else "cell")
        for index, row in enumerate(rows, start=1)
    ]
    table = GridTable(
        data,
        colWidths=column_widths,
        hAlign="LEFT",
        repeatRows=1,
        # Rows move whole to the next page; only a row taller than a page breaks.
        splitInRow=1,
        spaceAfter=8,
    )
    commands: list[tuple] = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ("BACKGROUND", (0, 0), (-1, 0), LABEL_BACKGROUND),
        ("TOPPADDING", (0, 0), (-1, 0), 5),
    ]
    # How the plain-string cells print, region by region, as `row_cells` chose
    # the styles of the Paragraphs.
    regions = [("cell", 1, last)] if last else []
    if total_row and last:
        regions.append(("total", last, last))
        commands.append(("BACKGROUND", (0, -1), (-1, -1), LABEL_BACKGROUND))
    for kind, first_row, last_row in [("label", 0, 0), *regions]:
        commands += plain_cell_commands(styles[kind], (0, first_row), (-1, last_row))
        if numeric_from < len(widths):
            commands += plain_cell_commands(
                styles[f"{kind}-number"], (numeric_from, first_row), (-1, last_row)
            )
    table.setStyle(TableStyle(commands))
    return [table]


def _notice(title: str, text: str, *, warning: bool = False) -> list[_Item]:
    """A framed statement that stands out: a warning or the verdict."""
    styles = _styles()
    colour = WARNING if warning else ACCENT
    box = GridTable(
        [
            [Paragraph(escape_text(title), styles["notice-title"])],
            [Paragraph(escape_text(text) or EMPTY_VALUE, styles["notice"])],
        ],
        colWidths=[CONTENT_WIDTH],
        hAlign="LEFT",
        splitInRow=1,
        spaceBefore=6,
        spaceAfter=10,
    )
    box.setStyle(
        TableStyle(
            [
                (
                    "BACKGROUND",
                    (0, 0),
                    (-1, -1),
                    WARNING_BACKGROUND if warning else LABEL_BACKGROUND,
                ),
                ("LINEBEFORE", (0, 0), (0, -1), 4, colour),
                ("BOX", (0, 0), (-1, -1), 0.5, colour),
                ("LEFTPADDING", (0, 0), (-1, -1), 12),
                ("RIGHTPADDING", (0, 0), (-1, -1), 10),
                ("TOPPADDING", (0, 0), (-1, 0), 8),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 9),
            ]
        )
    )
    return [box]


def _monospace(text: str) -> _Item:
    """Text in Courier in a tinted box, wrapping anywhere if too long."""
    box = GridTable(
        [[Paragraph(escape_text(text), _styles()["monospace"])]],
        colWidths=[CONTENT_WIDTH],
        hAlign="LEFT",
        spaceBefore=2,
        spaceAfter=10,
    )
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), LABEL_BACKGROUND),
                ("BOX", (0, 0), (-1, -1), 0.5, GRID),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return box
