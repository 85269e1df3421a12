"""The shell's search: one box in the header, results grouped by kind.

The engine knows no process. Each process app declares, from its
AppConfig.ready(), a provider per kind of thing it lets users find
(`register_provider`): a function of the user and the searched text answering a
`Found`, the first `PER_KIND` rows the user may see and how many match in all,
read through the app's scoped selectors. Providers answer in registration order
(INSTALLED_APPS order), each in at most two queries whatever the number of rows.

`matching` is the one text rule the providers apply. On PostgreSQL: full-text
search in French on the titles (each word stemmed, the last one also as a
prefix, as typed in a search box), or a reference starting with the text. Elsewhere
(SQLite, for development and the tests' first pass): each word contained in the
title, or the text contained in the reference.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.shortcuts import render
from django.utils.translation import gettext as _

MIN_LENGTH = 2
MAX_LENGTH = 200
PER_KIND = 20

# NUL is refused by PostgreSQL in any text; the other control characters mean
# nothing in a search either: all read as blanks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A word, for the full-text query: letters and digits only, so that the prefix
# query built from it is always valid (no quote, backslash nor operator in it).
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One result, ready to print."""

    reference: str
    title: str
    organisation: str
    state: str
    url: str
    within: str = ""  # the reference of what it belongs to (a case's request…)


@dataclass(frozen=True)
class Found:
    """What one provider found: its kind (`key` for the page's anchors, `label`
    to show), its first hits, how many match in all, and its app's list filtered
    by the same text when it has one."""

    key: str
    label: str
    hits: list[Hit]
    total: int
    more_url: str = ""

    @property
    def more(self) -> int:
        """How many matched beyond those shown."""
        return self.total - len(self.hits)


Provider = Callable[[object, str], Found]
_PROVIDERS: list[Provider] = []


def register_provider(provider: Provider) -> None:
    """Declare a search provider (once): `provider(user, text)` answers a `Found`."""
    if provider in _PROVIDERS:
        raise ValueError(f"recherche déjà déclarée : {provider!r}")
    _PROVIDERS.append(provider)


def providers() -> tuple[Provider, ...]:
    """The registered providers, in registration order."""
    return tuple(_PROVIDERS)


def cleaned(raw: str) -> tuple[str, bool]:
    """The text as searched: control characters as blanks, blanks collapsed, at
    most MAX_LENGTH characters; and whether it had to be cut."""
    text = " ".join(_CONTROL.sub(" ", raw).split())
    return text[:MAX_LENGTH].strip(), len(text) > MAX_LENGTH


def matching(
    queryset: QuerySet,
    text: str,
    *,
    title: str = "title",
    reference: str | None = "reference",
    also: Q | None = None,
) -> QuerySet:
    """The rows of `queryset` whose `title` field holds the words of `text`, or
    whose `reference` field matches it, or which meet `also` (what a provider
    knows of its references: a defect's number, a request's)."""
    words = _WORD.findall(text)
    found = Q(pk__in=[])
    if connection.vendor == "postgresql":
        if words:
            from django.contrib.postgres.search import SearchVector

            queryset = queryset.alias(
                search_vector=SearchVector(title, config="french")
            )
            found |= Q(search_vector=_full_text_query(words))
        if reference:
            found |= Q(**{f"{reference}__istartswith": text})
    else:
        if words:
            found |= Q(*(Q(**{f"{title}__icontains": word}) for word in words))
        if reference:
            found |= Q(**{f"{reference}__icontains": text})
    if also is not None:
        found |= also
    return queryset.filter(found)


def _full_text_query(words: list[str]):
    """Every word (stemmed, French stop words left out), the last one also as a
    prefix: « déclar » finds « déclaration ». The words hold letters and digits
    only, so the prefix query is always well-formed."""
    from django.contrib.postgres.search import SearchQuery

    *first, last = words
    typed = SearchQuery(f"'{last}':*", search_type="raw", config="french")
    query = typed | SearchQuery(last, config="french")
    if first:
        query = SearchQuery(" ".join(first), config="french") & query
    return query


def found(
    key: str,
    label: str,
    queryset: QuerySet,
    hit: Callable[[object], Hit],
    *,
    more_url: str = "",
) -> Found:
    """The first PER_KIND rows of `queryset` as hits, and how many there are (one
    query, two when the first page is full)."""
    rows = list(queryset[:PER_KIND])
    total = len(rows) if len(rows) < PER_KIND else queryset.count()
    return Found(key, label, [hit(row) for row in rows], total, more_url)


def search_page(request):
    """The results of the header's search box, grouped by kind; nothing is
    searched for fewer than MIN_LENGTH characters."""
    text, cut = cleaned(request.GET.get("q", ""))
    searched = len(text) >= MIN_LENGTH
    groups = []
    if searched:
        groups = [provider(request.user, text) for provider in _PROVIDERS]
    notice = ""
    if not text:
        notice = _("Saisissez une référence ou des mots de l’intitulé à rechercher.")
    elif not searched:
        notice = _("Saisissez au moins %(n)d caractères pour lancer la recherche.") % {
            "n": MIN_LENGTH
        }
    return render(
        request,
        "workflow/search.html",
        {
            "text": text,
            "searched": searched,
            "cut": cut,
            "max_length": MAX_LENGTH,
            "notice": notice,
            "groups": [group for group in groups if group.total],
            "total": sum(group.total for group in groups),
        },
    )
