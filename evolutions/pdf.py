"""PDF documents of a change request: the needs expression and the supplier's quote.

Built from plain data (the dataclasses below), so the views fill them from the models
and the tests need no database.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from workflow.formats import NO_BREAK_SPACE, format_euros_excluding_tax, format_number
from workflow.pdf import (
    Block,
    Field,
    Heading,
    Table,
    Text,
    build_pdf,
    format_date,
    format_datetime,
)


@dataclass(frozen=True)
class NeedsExpressionData:
    """What the needs expression of one change request shows."""

    reference: str
    organisation: str
    title: str
    kind: str
    data_flows: tuple[str, ...]
    description: str
    expected_benefit: str
    wished_date: date | None
    request_owner: str
    status: str
    submitted_at: datetime | None
    version: str


@dataclass(frozen=True)
class QuoteData:
    """What one version of the supplier's quote shows."""

    reference: str
    organisation: str
    change_request_title: str
    version: int
    man_days: Decimal
    amount: Decimal
    valid_until: date
    author: str
    issued_at: datetime
    decision: str
    decision_comment: str


def needs_expression_pdf(data: NeedsExpressionData, *, generated_at: datetime) -> bytes:
    """The client's needs expression as an A4 PDF."""
    blocks: list[Block] = [
        Heading(data.title),
        Field(_("Référence"), data.reference),
        Field(_("Organisme"), data.organisation),
        Field(_("Nature"), data.kind),
        # One flow per line: their labels are long ("DSG – flux dématérialisés…").
        Field(_("Flux concernés"), "\n".join(data.data_flows) or _("Aucun")),
        Field(
            _("Date souhaitée"),
            format_date(data.wished_date) if data.wished_date else _("Non précisée"),
        ),
        Field(_("Porteur de la demande"), data.request_owner),
        Field(_("État"), data.status),
        Field(
            _("Soumise le"),
            format_datetime(data.submitted_at)
            if data.submitted_at
            else _("Pas encore soumise"),
        ),
        Heading(_("Description du besoin")),
        Text(data.description),
        Heading(_("Bénéfice attendu")),
        Text(data.expected_benefit),
    ]
    return build_pdf(
        title=_("Expression de besoin"),
        reference=data.reference,
        organisation=data.organisation,
        version=data.version,
        generated_at=generated_at,
        blocks=blocks,
    )


def quote_pdf(data: QuoteData, *, generated_at: datetime) -> bytes:
    """One version of the supplier's quote as an A4 PDF."""
    blocks: list[Block] = [
        Heading(data.change_request_title),
        Field(_("Référence de la demande"), data.reference),
        Field(_("Organisme"), data.organisation),
        Field(_("Version du devis"), str(data.version)),
        Field(_("Auteur"), data.author),
        Field(_("Émis le"), format_datetime(data.issued_at)),
        Heading(_("Proposition")),
        Table(
            headers=(_("Charge"), _("Montant"), _("Valable jusqu’au")),
            rows=(
                (
                    format_man_days(data.man_days),
                    format_euros_excluding_tax(data.amount),
                    format_date(data.valid_until),
                ),
            ),
        ),
        Heading(_("Décision du client")),
        Field(_("Décision"), data.decision),
        Field(_("Commentaire"), data.decision_comment),
    ]
    return build_pdf(
        title=_("Devis"),
        reference=data.reference,
        organisation=data.organisation,
        version=_("Devis v%(version)d") % {"version": data.version},
        generated_at=generated_at,
        blocks=blocks,
    )


def format_man_days(value: Decimal) -> str:
    """A workload the French way, without useless zeros: 12,5 j/h."""
    days = format_number(value, places=2, trim=True)
    # The no-break space keeps the unit with its number; it stays out of the msgid.
    return days + NO_BREAK_SPACE + _("j/h")
