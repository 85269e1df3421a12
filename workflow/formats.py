"""Numbers as French readers write them, for pages and documents alike: amounts
(« 7 800,00 € HT »), decimals (« 8 750,5 ») and file sizes (« 3,4 Ko »).

The group separator is the no-break space U+00A0 (the narrow one, U+202F, is
missing from the PDFs' standard font), so that an amount never breaks across two
lines. Units go through gettext: an English page reads « 3.4 KB »… with French
digits, as the amounts of a French contract are.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import pgettext

NO_BREAK_SPACE = "\u00a0"
_KIB = 1024


def format_number(value: Decimal, *, places: int, trim: bool = False) -> str:
    """A decimal the French way (8 750,5), rounded half up to `places` decimals."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    integer, _point, fraction = f"{abs(rounded):f}".partition(".")
    if trim:
        fraction = fraction.rstrip("0")
    grouped = f"{int(integer):,}".replace(",", NO_BREAK_SPACE)
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def format_euros(value: Decimal) -> str:
    """An amount in euros the French way: 8 750,00 €."""
    return f"{format_number(value, places=2)}{NO_BREAK_SPACE}€"


def format_euros_excluding_tax(value: Decimal) -> str:
    """An amount before tax, as the contract's prices are: 8 750,00 € HT."""
    before_tax = pgettext("montant", "HT")
    return f"{format_euros(value)}{NO_BREAK_SPACE}{before_tax}"


def format_file_size(size: int | None) -> str:
    """A file's size in octets, Ko, Mo or Go (powers of 1,024, as file managers
    count them), one decimal above the octet, none when it is ,0."""
    size = max(int(size or 0), 0)
    if size < _KIB:
        count = format_number(Decimal(size), places=0)
        unit = pgettext("taille de fichier", "octets")
        return f"{count}{NO_BREAK_SPACE}{unit}"
    # With a context: Django's own catalogue translates a bare "Go" as a verb.
    units = (
        pgettext("taille de fichier", "Ko"),
        pgettext("taille de fichier", "Mo"),
        pgettext("taille de fichier", "Go"),
    )
    value = Decimal(size)
    for rank, unit in enumerate(units):
        value = value / _KIB
        if value < _KIB or rank == len(units) - 1:
            return f"{format_number(value, places=1, trim=True)}{NO_BREAK_SPACE}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover
