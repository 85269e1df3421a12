"""Numbers written the French way on pages (workflow/formats.py and the template
filters of workflow/templatetags/tandem_formats.py)."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from workflow.formats import format_euros_excluding_tax, format_file_size

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("7800", "7 800,00 € HT"),
        ("0.5", "0,50 € HT"),
        ("1234567.891", "1 234 567,89 € HT"),
    ],
)
def test_an_amount_is_written_before_tax_with_french_separators(amount, expected):
    written = format_euros_excluding_tax(Decimal(amount))

    # No-break spaces: an amount never breaks across two lines.
    assert " " not in written
    assert written.replace(NBSP, " ") == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 octets"),
        (1023, "1 023 octets"),
        (1024, "1 Ko"),
        (3482, "3,4 Ko"),
        (5 * 1024 * 1024, "5 Mo"),
        (int(1.5 * 1024**3), "1,5 Go"),
        (3 * 1024**4, "3 072 Go"),
    ],
)
def test_a_file_size_is_in_octets_ko_mo_go(size, expected):
    assert format_file_size(size).replace(NBSP, " ") == expected


def test_units_follow_the_language():
    with translation.override("en"):
        assert format_file_size(3482).replace(NBSP, " ") == "3,4 KB"
        assert format_euros_excluding_tax(Decimal(1)).endswith("excl. VAT")


def test_the_filters_print_nothing_for_what_they_cannot_read():
    template = Template(
        "{% load tandem_formats %}[{{ a|euros_ht }}][{{ b|file_size }}]"
        "[{{ c|euros_ht }}][{{ d|file_size }}]"
    )

    shown = template.render(Context({"a": "x", "b": None, "c": "12", "d": 2048}))

    assert shown.replace(NBSP, " ") == "[][][12,00 € HT][2 Ko]"
