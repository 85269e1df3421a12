"""Our French source strings stay French: no other catalogue translates them."""

import re
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext

from recette.models import Campaign

PO = Path(__file__).resolve().parents[1] / "locale/en/LC_MESSAGES/django.po"


def _plain_msgids() -> list[str]:
    """Single-line msgids without a context (the French source strings)."""
    text = PO.read_text()
    ids = []
    for block in text.split("\n\n"):
        if "msgctxt" in block or "msgid_plural" in block:
            continue
        match = re.search(r'^msgid "(.+)"$', block, re.MULTILINE)
        if match:
            msgid = match.group(1).replace('\\"', '"').replace("\\n", "\n")
            ids.append(msgid)
    return ids


def test_no_french_source_string_is_taken_over_by_another_catalogue():
    # Django's French catalogue knows English words: "Close" became "Fermer".
    ids = _plain_msgids()
    assert len(ids) > 500
    with translation.override("fr"):
        hijacked = {msgid: gettext(msgid) for msgid in ids if gettext(msgid) != msgid}
    assert hijacked == {}


def test_a_closed_campaign_reads_close_in_french_and_closed_in_english():
    with translation.override("fr"):
        assert str(Campaign.Status.CLOSED.label) == "Close"
    with translation.override("en"):
        assert str(Campaign.Status.CLOSED.label) == "Closed"
