"""Template filters for numbers written the French way (`workflow.formats`):

{% load tandem_formats %}
{{ quote.amount|euros_ht }}     → 7 800,00 € HT
{{ attachment.size|file_size }} → 3,4 Ko
"""

from decimal import Decimal, InvalidOperation

from django import template

from workflow import formats

register = template.Library()


@register.filter
def euros_ht(value) -> str:
    """An amount before tax; an empty or unreadable value prints as nothing."""
    try:
        return formats.format_euros_excluding_tax(Decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return ""


@register.filter
def file_size(value) -> str:
    """A size in octets, Ko, Mo or Go."""
    try:
        return formats.format_file_size(int(value))
    except (TypeError, ValueError):
        return ""
