"""The labels of a model's choices in the active language, translated once per
language: a page printing hundreds of statuses turned each lazy label into text
again, a catalogue lookup each time (a few hundredths of a millisecond per
request, on every page listing statuses)."""

from functools import lru_cache
from types import MappingProxyType

from django.utils.translation import get_language


def choice_labels(choices) -> MappingProxyType:
    """{value: label} of a Choices class (TextChoices, IntegerChoices) in the
    active language; read only, shared by every caller."""
    return _labels(choices, get_language())


@lru_cache(maxsize=256)
def _labels(choices, language: str | None) -> MappingProxyType:
    # `language` is the active one: str() below translates into it.
    return MappingProxyType({value: str(label) for value, label in choices.choices})
