"""The change-request lifecycle through its services: who may act, in which state."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from contacts.models import Role
from evolutions import services
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from workflow.demo import complete_open_task
from workflow.models import TransitionLog
from workflow.transitions import ActionRefused, history_of

S = ChangeRequest.Status


@pytest.fixture
def release(db):
    today = timezone.localdate()
    return Release.objects.create(
        number="2099.1",
        recette_start=today + timedelta(days=30),
        recette_end=today + timedelta(days=60),
        production_date=today + timedelta(days=90),
    )


@pytest.fixture
def actors(world):
    class Actors:
        porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
        porteur_57 = world.client_user(world.moselle, Role.PORTEUR_DEMANDE)
        testeur = world.client_user(world.creuse, Role.TESTEUR)
        contact = world.user("cnaf.contact")
        commande = world.user("cnaf.commande")
        moe = world.user("cnaf.moe")

    return Actors


def _draft(world, actors, **overrides) -> ChangeRequest:
    fields = {
        "title": "Ajouter le motif de la déclaration",
        "kind": ChangeRequest.Kind.REGULATORY,
        "data_flows": ["DSG", "GRO"],
        "description": "Le flux DSG doit porter le motif.",
        "expected_benefit": "Moins de ressaisies.",
    }
    return services.change_request_create(
        by=actors.porteur, organisation=world.creuse, **{**fields, **overrides}
    )


def _reload(change_request) -> ChangeRequest:
    return ChangeRequest.objects.get(pk=change_request.pk)


def _in_study(world, actors) -> ChangeRequest:
    cr = _draft(world, actors)
    services.change_request_submit(pk=cr.pk, by=actors.porteur)
    services.change_request_acknowledge(
        pk=cr.pk, by=actors.contact, order_owner=actors.commande
    )
    return cr


def _quote(cr, actors):
    return services.quote_issue(
        pk=cr.pk,
        by=actors.commande,
        man_days=Decimal("12.5"),
        amount=Decimal("8750.00"),
        valid_until=timezone.localdate() + timedelta(days=30),
    )


def test_happy_path_from_draft_to_acceptance(world, actors, release):
    cr = _draft(world, actors)
    assert cr.status == S.DRAFT
    assert cr.reference == f"EVO-23-{timezone.localdate().year}-0001"

    services.change_request_submit(pk=cr.pk, by=actors.porteur)
    services.change_request_acknowledge(
        pk=cr.pk, by=actors.contact, order_owner=actors.commande
    )
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="CDC v1")
    services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)
    _quote(cr, actors)
    services.quote_decide(pk=cr.pk, by=actors.porteur, accepted=True)
    services.release_propose(pk=cr.pk, by=actors.commande, release=release)
    services.release_decide(pk=cr.pk, by=actors.porteur, confirmed=True)
    services.manufacture_start(pk=cr.pk, by=actors.moe)
    services.manufacture_finish(pk=cr.pk, by=actors.moe)

    cr = _reload(cr)
    assert cr.status == S.IN_ACCEPTANCE
    assert cr.order_owner == actors.commande
    assert cr.release == release
    assert cr.submitted_at is not None
    assert [(h.source, h.target, h.by) for h in history_of(cr)] == [
        (S.DRAFT, S.SUBMITTED, actors.porteur),
        (S.SUBMITTED, S.IN_STUDY, actors.contact),
        (S.IN_STUDY, S.SPEC_REVIEW, actors.commande),
        (S.SPEC_REVIEW, S.QUOTE_PREPARATION, actors.porteur),
        (S.QUOTE_PREPARATION, S.QUOTE_REVIEW, actors.commande),
        (S.QUOTE_REVIEW, S.PLANNING, actors.porteur),
        (S.PLANNING, S.RELEASE_PROPOSED, actors.commande),
        (S.RELEASE_PROPOSED, S.PLANNED, actors.porteur),
        (S.PLANNED, S.IN_MANUFACTURE, actors.moe),
        (S.IN_MANUFACTURE, S.IN_ACCEPTANCE, actors.moe),
    ]


def test_references_are_numbered_per_client_and_year(world, actors):
    year = timezone.localdate().year
    first, second = _draft(world, actors), _draft(world, actors)
    other = services.change_request_create(
        by=actors.porteur_57,
        organisation=world.moselle,
        title="Autre",
        kind="technique",
        description="x",
    )

    assert (first.reference, second.reference, other.reference) == (
        f"EVO-23-{year}-0001",
        f"EVO-23-{year}-0002",
        f"EVO-57-{year}-0001",
    )


def test_more_information_loop_comes_back_to_the_supplier(world, actors):
    cr = _draft(world, actors)
    services.change_request_submit(pk=cr.pk, by=actors.porteur)

    process = {"evolutionprocess__change_request": cr}
    complete_open_task(
        EvolutionFlow.review_submission,
        actors.contact,
        lambda: services.change_request_request_information(
            pk=cr.pk, by=actors.contact, question="Quel volume par mois ?"
        ),
        **process,
    )
    assert _reload(cr).status == S.INFO_REQUESTED

    def complete():
        services.change_request_update(
            pk=cr.pk, by=actors.porteur, description="Environ 300 par mois."
        )
        services.change_request_resubmit(
            pk=cr.pk, by=actors.porteur, comment="Précisé."
        )

    complete_open_task(
        EvolutionFlow.complete_information, actors.porteur, complete, **process
    )

    cr = _reload(cr)
    assert cr.status == S.SUBMITTED
    assert cr.description == "Environ 300 par mois."
    assert history_of(cr)[1].comment == "Quel volume par mois ?"


def test_specification_sent_back_then_validated_in_v2(world, actors):
    cr = _in_study(world, actors)
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="v1")
    v1 = services.specification_decide(
        pk=cr.pk, by=actors.porteur, validated=False, comment="Manque le GRO."
    )
    assert _reload(cr).status == S.IN_STUDY

    services.specification_issue(pk=cr.pk, by=actors.commande, summary="v2")
    v2 = services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)

    assert (v1.version, v1.decision, v1.decision_comment) == (
        1,
        "renvoyee",
        "Manque le GRO.",
    )
    assert (v2.version, v2.decision) == (2, "validee")
    assert _reload(cr).status == S.QUOTE_PREPARATION


def test_refused_quote_is_revised_then_accepted(world, actors):
    cr = _in_study(world, actors)
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="v1")
    services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)
    _quote(cr, actors)

    services.quote_decide(
        pk=cr.pk, by=actors.porteur, accepted=False, comment="Trop cher."
    )
    assert _reload(cr).status == S.QUOTE_PREPARATION
    revised = _quote(cr, actors)
    services.quote_decide(pk=cr.pk, by=actors.porteur, accepted=True)

    assert revised.version == 2
    assert [q.decision for q in _reload(cr).quotes.all()] == ["refuse", "accepte"]
    assert _reload(cr).status == S.PLANNING


def test_another_release_asked_then_confirmed(world, actors, release):
    cr = _in_study(world, actors)
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="v1")
    services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)
    _quote(cr, actors)
    services.quote_decide(pk=cr.pk, by=actors.porteur, accepted=True)
    later = Release.objects.create(
        number="2099.2",
        recette_start=release.recette_start + timedelta(days=180),
        recette_end=release.recette_end + timedelta(days=180),
        production_date=release.production_date + timedelta(days=180),
    )

    services.release_propose(pk=cr.pk, by=actors.commande, release=release)
    services.release_decide(
        pk=cr.pk, by=actors.porteur, confirmed=False, comment="Trop tôt pour nous."
    )
    assert _reload(cr).status == S.PLANNING
    services.release_propose(pk=cr.pk, by=actors.commande, release=later)
    services.release_decide(pk=cr.pk, by=actors.porteur, confirmed=True)

    assert (_reload(cr).status, _reload(cr).release) == (S.PLANNED, later)


def test_supplier_declines_with_a_reason(world, actors):
    cr = _draft(world, actors)
    services.change_request_submit(pk=cr.pk, by=actors.porteur)

    with pytest.raises(ValidationError, match="motif du refus est obligatoire"):
        services.change_request_decline(pk=cr.pk, by=actors.contact, reason="  ")
    services.change_request_decline(pk=cr.pk, by=actors.contact, reason="Hors contrat.")

    cr = _reload(cr)
    assert (cr.status, cr.closing_reason) == (S.DECLINED, "Hors contrat.")
    assert history_of(cr).last().comment == "Hors contrat."


def test_client_withdraws_before_manufacture_only(world, actors, release):
    cr = _in_study(world, actors)
    services.change_request_withdraw(pk=cr.pk, by=actors.porteur, reason="Abandon.")
    assert _reload(cr).status == S.WITHDRAWN

    started = _in_study(world, actors)
    services.specification_issue(pk=started.pk, by=actors.commande, summary="v1")
    services.specification_decide(pk=started.pk, by=actors.porteur, validated=True)
    _quote(started, actors)
    services.quote_decide(pk=started.pk, by=actors.porteur, accepted=True)
    services.release_propose(pk=started.pk, by=actors.commande, release=release)
    services.release_decide(pk=started.pk, by=actors.porteur, confirmed=True)
    services.manufacture_start(pk=started.pk, by=actors.moe)

    with pytest.raises(ActionRefused, match="En fabrication"):
        services.change_request_withdraw(
            pk=started.pk, by=actors.porteur, reason="Trop tard"
        )


def test_transition_from_the_wrong_state_is_refused_and_not_recorded(world, actors):
    cr = _draft(world, actors)

    with pytest.raises(ActionRefused, match="Brouillon"):
        services.change_request_acknowledge(
            pk=cr.pk, by=actors.contact, order_owner=actors.commande
        )

    assert _reload(cr).status == S.DRAFT
    assert not TransitionLog.objects.exists()


def test_wrong_role_is_refused(world, actors):
    cr = _draft(world, actors)

    with pytest.raises(PermissionDenied, match="Porteur de la demande"):
        services.change_request_submit(pk=cr.pk, by=actors.testeur)
    with pytest.raises(PermissionDenied):
        services.change_request_submit(pk=cr.pk, by=actors.contact)
    assert _reload(cr).status == S.DRAFT


def test_another_clients_user_cannot_act(world, actors):
    cr = _draft(world, actors)

    with pytest.raises(PermissionDenied):
        services.change_request_submit(pk=cr.pk, by=actors.porteur_57)
    with pytest.raises(PermissionDenied):
        services.change_request_create(
            by=actors.porteur_57,
            organisation=world.creuse,
            title="x",
            kind="technique",
            description="x",
        )


def test_order_owner_must_hold_the_role(world, actors):
    cr = _draft(world, actors)
    services.change_request_submit(pk=cr.pk, by=actors.porteur)

    with pytest.raises(ValidationError, match="porteur de la commande"):
        services.change_request_acknowledge(
            pk=cr.pk, by=actors.contact, order_owner=actors.porteur
        )
    assert _reload(cr).status == S.SUBMITTED


@pytest.mark.parametrize(
    ("man_days", "amount", "days", "field"),
    [
        (Decimal("0"), Decimal("10"), 30, "man_days"),
        (Decimal("5"), Decimal("-1"), 30, "amount"),
        (Decimal("5"), Decimal("10"), -1, "valid_until"),
        (Decimal("5"), Decimal("10"), 0, "valid_until"),
    ],
)
def test_bad_quote_is_refused_and_nothing_saved(
    world, actors, man_days, amount, days, field
):
    cr = _in_study(world, actors)
    services.specification_issue(pk=cr.pk, by=actors.commande, summary="v1")
    services.specification_decide(pk=cr.pk, by=actors.porteur, validated=True)

    with pytest.raises(ValidationError) as error:
        services.quote_issue(
            pk=cr.pk,
            by=actors.commande,
            man_days=man_days,
            amount=amount,
            valid_until=timezone.localdate() + timedelta(days=days),
        )

    assert field in error.value.message_dict
    assert _reload(cr).status == S.QUOTE_PREPARATION
    assert not _reload(cr).quotes.exists()


def test_draft_cannot_be_edited_once_submitted(world, actors):
    cr = _draft(world, actors)
    services.change_request_submit(pk=cr.pk, by=actors.porteur)

    with pytest.raises(ValidationError, match="ne peut plus être modifiée"):
        services.change_request_update(pk=cr.pk, by=actors.porteur, title="Changé")
    assert _reload(cr).title == "Ajouter le motif de la déclaration"


def test_status_cannot_be_forged_through_the_model(world, actors):
    cr = _draft(world, actors)

    with pytest.raises(AttributeError):
        cr.status = S.PLANNED
    with pytest.raises(Exception, match="initial state"):
        ChangeRequest.objects.create(
            reference="EVO-23-2099-9999",
            organisation=world.creuse,
            title="x",
            kind="technique",
            description="x",
            request_owner=actors.porteur,
            status=S.PLANNED,
        )


def test_past_release_cannot_be_proposed(world, actors):
    cr = _in_study(world, actors)
    past = Release.objects.create(
        number="2020.1",
        recette_start=date(2020, 1, 1),
        recette_end=date(2020, 2, 1),
        production_date=date(2020, 3, 1),
    )

    with pytest.raises(ValidationError, match="déjà passée en production"):
        services.release_propose(pk=cr.pk, by=actors.commande, release=past)


def test_needs_expression_is_submitted_with_at_least_one_known_flow(world, actors):
    cr = _draft(world, actors, data_flows=[])

    with pytest.raises(ValidationError, match="au moins un flux"):
        services.change_request_submit(pk=cr.pk, by=actors.porteur)
    with pytest.raises(ValidationError, match="parmi DSG"):
        services.change_request_update(pk=cr.pk, by=actors.porteur, data_flows=["XYZ"])
    assert _reload(cr).status == S.DRAFT
