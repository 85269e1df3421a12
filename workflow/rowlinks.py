"""Links of a table's rows, reversed once per table, not once per row.

reverse() costs more than the rest of a row of hundreds; a row's link differs from
the next only by the id at its end.
"""

from django.urls import reverse

# The stand-in id reversed, then replaced by a format field.
_MARKER = "987654321"


def url_pattern(name: str, *args) -> str:
    """`name`'s URL with `args` and a last id left as "{}" for str.format (ids are
    digits: nothing to quote; a brace of the URL itself is doubled)."""
    url = reverse(name, args=[*args, int(_MARKER)])
    return url.replace("{", "{{").replace("}", "}}").replace(_MARKER, "{}")
