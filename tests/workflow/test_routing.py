"""Who receives what, per event kind, on the demo processes of both clients."""

import pytest

from evolutions.models import ChangeRequest
from workflow.events import HEADLINES
from workflow.models import Notification

D = "@demo.tandem.invalid"
WEBMASTER_23 = "webmaster.portail@cd23.demo.tandem.invalid"
WEBMASTER_57 = "webmaster.portail@cd57.demo.tandem.invalid"

# kind -> (the request it is checked on, the addresses it must reach)
EXPECTED = {
    "cr_submitted": (
        "23",
        S := "soumise",
        {f"cnaf.contact{D}", "flux-pmi.projet@cnaf.fr"},
    ),
    "cr_info_requested": ("23", "complement_demande", {f"cd23.porteur{D}"}),
    "cr_acknowledged": ("23", "en_etude", {f"cd23.porteur{D}", f"cnaf.commande{D}"}),
    "cr_declined": ("23", "declinee", {f"cd23.porteur{D}"}),
    "cr_withdrawn": ("23", "retiree", {f"cnaf.commande{D}", f"cnaf.contact{D}"}),
    "spec_issued": ("23", "cdc_a_valider", {f"cd23.porteur{D}"}),
    "spec_decided": ("23", "devis_en_preparation", {f"cnaf.commande{D}"}),
    "quote_issued": ("23", "devis_a_valider", {f"cd23.porteur{D}"}),
    "quote_decided": ("23", "planification", {f"cnaf.commande{D}"}),
    "release_proposed": ("23", "version_proposee", {f"cd23.porteur{D}"}),
    "release_decided": ("23", "planifiee", {f"cnaf.commande{D}", f"cnaf.moe{D}"}),
    "manufacture_done": (
        "23",
        "en_recette",
        {f"cd23.porteur{D}", f"cd23.dsi{D}", WEBMASTER_23, f"cnaf.commande{D}"},
    ),
    "plan_submitted": ("23", "en_recette", {f"cd23.porteur{D}"}),
    "plan_decided": ("23", "en_recette", {f"cnaf.commande{D}", f"cnaf.moe{D}"}),
    "qualification_recorded": (
        "23",
        "en_recette",
        {f"cnaf.commande{D}", f"cd23.porteur{D}"},
    ),
    "delivery_made": (
        "23",
        "en_recette",
        {f"cd23.dsi{D}", WEBMASTER_23, f"cd23.testeur{D}", f"cd23.porteur{D}"},
    ),
    "defect_opened": ("23", "en_recette", {f"cnaf.moe{D}", f"cnaf.commande{D}"}),
    # The supplier wrote: the client's owner and the defect's author are told.
    "defect_commented": (
        "23",
        "en_recette",
        {f"cd23.porteur{D}", f"cd23.testeur{D}"},
    ),
    "report_submitted": (
        "57",
        "en_production",
        {f"cd57.dsi{D}", f"cnaf.dsi{D}", f"cnaf.commande{D}"},
    ),
    "agreement_signed": (
        "57",
        "en_production",
        {f"cd57.dsi{D}", f"cnaf.dsi{D}", f"cd57.porteur{D}", f"cnaf.commande{D}"},
    ),
    "go_live": (
        "57",
        "en_production",
        {
            f"cd57.dsi{D}",
            WEBMASTER_57,
            f"cd57.porteur{D}",
            f"cnaf.dsi{D}",
            f"cnaf.commande{D}",
        },
    ),
}


def _kind(row) -> str:
    return row.event.split(":", 1)[0]


def test_every_event_kind_is_covered():
    # Not on the demo: a refused agreement, and a reopened plan (routed in
    # tests/recette/test_consistency.py).
    assert set(HEADLINES) - {"agreement_refused", "plan_reopened"} <= set(EXPECTED)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_event_reaches_who_must_know(demo, kind):
    code, status, expected = EXPECTED[kind]
    change_request = ChangeRequest.objects.get(organisation__code=code, status=status)

    rows = [
        row
        for row in Notification.objects.filter(event__contains=f":{change_request.pk}")
        if _kind(row) == kind and row.organisation_id == change_request.organisation_id
    ]

    assert rows, kind
    by_event: dict[str, set[str]] = {}
    for row in rows:
        by_event.setdefault(row.event, set()).add(row.recipient_email)
    assert expected in by_event.values(), by_event


def test_no_message_carries_another_clients_data(demo):
    names = {"23": ("Creuse", "EVO-23-"), "57": ("Moselle", "EVO-57-")}
    for row in Notification.objects.select_related("organisation"):
        for code, markers in names.items():
            if row.organisation.code == code:
                continue
            for marker in markers:
                text = row.subject + row.body_text + row.body_html
                assert marker not in text, (row.event, marker)
        if not row.recipient_email.endswith("@cnaf.fr") and "cnaf." not in (
            row.recipient_email
        ):
            assert f"cd{row.organisation.code}" in row.recipient_email, row.event
