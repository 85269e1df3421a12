"""The contested actions of both processes, raced on PostgreSQL.

For each: 8 threads on their own connections, released together, 20 times →
exactly one winner every time, the 7 others told why in French, one history row,
one audit entry; the audit chain stays intact under the contention.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.models import Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services as recette
from recette.models import Campaign
from tests.integration.conftest import REPETITIONS, THREADS, race
from workflow import audit
from workflow.models import AuditEntry
from workflow.transitions import ActionRefused, history_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _one_winner(outcomes, winner_type, told: str):
    winners = [o for o in outcomes if isinstance(o, winner_type)]
    losers = [o for o in outcomes if isinstance(o, ActionRefused)]
    assert (len(winners), len(losers)) == (1, THREADS - 1), outcomes
    assert all(told in str(loser) for loser in losers), losers


def _journalled_once(subject, transition: str):
    assert [h.transition for h in history_of(subject)].count(transition) == 1
    entries = AuditEntry.objects.filter(
        action="transition",
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        detail__transition=transition,
    )
    assert entries.count() == 1


class Actors:
    def __init__(self, world):
        self.porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
        self.contact = world.user("cnaf.contact")
        self.commande = world.user("cnaf.commande")


def _request_with_specification(world, actors) -> ChangeRequest:
    cr = services.change_request_create(
        by=actors.porteur, organisation=world.creuse, title="Course",
        kind="technique", data_flows=["DSG"], description="x",
    )  # fmt: skip
    services.change_request_submit(pk=cr.pk, by=actors.porteur)
    services.change_request_acknowledge(
        pk=cr.pk, by=actors.contact, order_owner=actors.commande
    )
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="CDC")
    return cr


def test_deciding_a_specification(world):
    actors = Actors(world)
    for _ in range(REPETITIONS):
        cr = _request_with_specification(world, actors)

        outcomes = race(
            lambda pk=cr.pk: services.specification_decide(
                pk=pk, by=actors.porteur, validated=True
            )
        )

        _one_winner(outcomes, services.SpecificationVersion, "Devis en préparation")
        _journalled_once(cr, "validate_specification")
    assert audit.verify().intact


def test_accepting_a_quote(world):
    actors = Actors(world)
    for _ in range(REPETITIONS):
        cr = _request_with_specification(world, actors)
        services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)
        services.quote_issue(
            pk=cr.pk, by=actors.commande, man_days=Decimal(3), amount=Decimal(1500),
            valid_until=timezone.localdate() + timedelta(days=30),
        )  # fmt: skip

        outcomes = race(
            lambda pk=cr.pk: services.quote_decide(
                pk=pk, by=actors.porteur, accepted=True
            )
        )

        _one_winner(outcomes, services.Quote, "Planification")
        _journalled_once(cr, "accept_quote")
    assert audit.verify().intact


def test_closing_a_campaign(world):
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    today = timezone.localdate()
    plan = recette.plan_prepare(change_request_pk=cr.pk, by=moe)
    recette.plan_update(pk=plan.pk, by=moe, workload=1, start=today, end=today)
    recette.case_add(
        pk=plan.pk, by=moe, reference="CT-1", title="Cas", steps=[("a", "b")]
    )
    recette.plan_submit(pk=plan.pk, by=moe)
    recette.plan_decide(pk=plan.pk, by=porteur, validated=True)
    recette.qualification_record(change_request_pk=cr.pk, by=moe, passed=True, on=today)

    for _ in range(REPETITIONS):
        campaign = recette.delivery_record(
            change_request_pk=cr.pk, by=moe, on=today, environment="REC"
        )

        outcomes = race(
            lambda pk=campaign.pk: recette.campaign_close(
                pk=pk, by=porteur, outcome=Campaign.Outcome.FIXES
            )
        )

        _one_winner(outcomes, Campaign, "Close")
        _journalled_once(campaign, "close")
    assert audit.verify().intact


def test_signing_the_go_live_agreement(world):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from recette.models import Execution, GoLiveAgreement
    from workflow.demo import DemoAccount, _create_account, demo_totp_code

    # Eight DSIs of client 23 race to sign for the client's side.
    dsis = []
    for number in range(THREADS):
        account = DemoAccount(
            f"cd23.dsi{number}", "23", Role.DSI_CLIENT, "Dsi", str(number), "DSI"
        )
        _create_account(account, world.creuse)
        dsis.append(world.user(account.username))
    supplier_dsi = world.user("cnaf.dsi")
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    today = timezone.localdate()
    plan = recette.plan_prepare(change_request_pk=cr.pk, by=moe)
    recette.plan_update(pk=plan.pk, by=moe, workload=1, start=today, end=today)
    case = recette.case_add(
        pk=plan.pk, by=moe, reference="CT-1", title="Cas", steps=[("a", "b")]
    )
    recette.plan_submit(pk=plan.pk, by=moe)
    recette.plan_decide(pk=plan.pk, by=porteur, validated=True)
    recette.qualification_record(change_request_pk=cr.pk, by=moe, passed=True, on=today)

    for _ in range(REPETITIONS):
        campaign = recette.delivery_record(
            change_request_pk=cr.pk, by=moe, on=today, environment="REC"
        )
        if campaign.campaign_cases.exists():  # the re-tests hold nothing to redo
            recette.executions_record(
                pk=campaign.pk,
                by=porteur,
                results=[{"case": case.pk, "result": Execution.Result.PASSED}],
            )
        recette.campaign_close(pk=campaign.pk, by=porteur)
        report = recette.report_prepare(change_request_pk=cr.pk, by=porteur)
        recette.report_update(pk=report.pk, by=porteur, verdict="favorable")
        agreement = recette.report_submit(pk=report.pk, by=porteur)
        # Each DSI's own code (the race is on the agreement, not on the codes).
        TOTPDevice.objects.update(last_t=-1)
        codes = {dsi.pk: demo_totp_code(dsi) for dsi in dsis}
        turn = iter(dsis)

        def sign(pk=agreement.pk, codes=codes, turn=turn):
            dsi = next(turn)
            return recette.agreement_sign(
                pk=pk, by=dsi, password="tandem-demo", otp_token=codes[dsi.pk]
            )

        outcomes = race(sign)

        _one_winner(outcomes, GoLiveAgreement, "déjà signé")
        agreement = GoLiveAgreement.objects.get(pk=agreement.pk)
        assert agreement.signatures.count() == 1
        signed = AuditEntry.objects.filter(
            action="signature", detail__report_sha256=agreement.report_sha256
        )
        assert signed.count() == 1
        # The supplier's DSI refuses: back to a corrective delivery, next round.
        recette.agreement_refuse(
            pk=agreement.pk, by=supplier_dsi, password="tandem-demo",
            reason="Encore un tour", otp_token=demo_totp_code(supplier_dsi),
        )  # fmt: skip
    assert audit.verify().intact
