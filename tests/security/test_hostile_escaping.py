"""Markup typed into a text field comes back as text, in pages, e-mails and PDFs
(the showcases in `hostile/showcases.py`).

One payload with script, bold and image markup is saved through the page or task of
each text field, then read back: escaped in the pages that show it, never raw
elsewhere, escaped in the HTML part of the e-mails and as typed in their text part,
printed literally in the PDFs that include it (needs expression, quote, cahier de
recette, bilan), none of which embeds an image. Each showcase runs in a savepoint of
client 23's requests standing at every step, built once for the module.

Stored but shown on no page, so only checked for raw markup (and, for the delivery,
in its e-mails): qualification comment, delivery environment and notes, campaign
closing comment, plan reopening reason.
"""

import pytest

from tests.security.hostile.showcases import (
    ESCAPED,
    MAILED,
    PAYLOAD,
    RAW_PIECES,
    SHOWCASES,
    _assert_escaped,
    _pdf_text,
)
from tests.security.hostile.stage import _example
from workflow.models import Notification


@pytest.mark.parametrize("showcase", sorted(SHOWCASES))
def test_typed_markup_comes_back_as_text(staged, client, showcase):
    with _example():
        shown = SHOWCASES[showcase](client, staged)
        for username, url in shown.pages + shown.elsewhere:
            client.force_login(staged.user(username))
            if url.endswith(".pdf"):
                _pdf_text(client.get(url), url)
                continue
            _assert_escaped(
                client.get(url),
                f"{url} ({username})",
                shown=(username, url) in shown.pages,
            )
        for username, url in shown.pdfs:
            client.force_login(staged.user(username))
            text = _pdf_text(client.get(url), url)
            assert "".join(PAYLOAD.split()) in text, f"{url} : texte absent du PDF"
        mails = Notification.objects.all()
        for mail in mails:
            assert not any(piece in mail.body_html for piece in RAW_PIECES), mail.pk
            assert ESCAPED not in mail.body_text + mail.subject, mail.pk
        if showcase in MAILED:
            assert mails.filter(body_html__contains=ESCAPED).exists()
            assert mails.filter(body_text__contains=PAYLOAD).exists()
