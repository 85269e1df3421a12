"""What the shell's search finds among change requests (declared to the engine in
EvolutionsConfig.ready(), see workflow.search)."""

import re
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from evolutions.models import ChangeRequest
from evolutions.selectors import change_requests_visible_to
from workflow import search

# A request's number, the last part of its reference: « 42 » finds EVO-23-2026-0042.
_NUMBER = re.compile(r"[0-9]{1,9}")


def change_requests_found(user, text: str) -> search.Found:
    """The requests the user sees whose reference or title matches, newest first."""
    also = None
    if _NUMBER.fullmatch(text):
        also = Q(reference__endswith=f"-{int(text):04d}")
    visible = change_requests_visible_to(user)
    rows = search.matching(visible, text, also=also).order_by("-created_at", "-pk")
    statuses = dict(ChangeRequest.Status.choices)
    return search.found(
        "demandes",
        _("Demandes d'évolution"),
        rows,
        lambda cr: search.Hit(
            reference=cr.reference,
            title=cr.title,
            organisation=str(cr.organisation),
            state=str(statuses.get(cr.status, cr.status)),
            url=reverse("evolutions:detail", args=[cr.pk]),
        ),
        more_url=f"{reverse('evolutions:index')}?{urlencode({'q': text})}",
    )
