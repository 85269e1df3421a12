import pytest
from django.core.exceptions import PermissionDenied
from viewflow.workflow.models import Task

from contacts.models import ContactPoint, Membership, Person, Role
from tests.workflow.flows import OrganisationTaskFlow
from workflow import access


def test_client_user_sees_only_its_own_organisation(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)

    assert list(access.organisations_visible_to(porteur)) == [world.creuse]
    assert {p.organisation for p in access.people_visible_to(porteur)} == {world.creuse}
    assert {c.organisation for c in access.contact_points_visible_to(porteur)} == {
        world.creuse
    }
    assert {s.organisation for s in access.support_hours_visible_to(porteur)} == {
        world.creuse
    }


def test_supplier_user_sees_every_client(world):
    analyst = world.user("cnaf.contact")

    assert access.organisations_visible_to(analyst).count() == 102
    assert access.people_visible_to(analyst).count() == Person.objects.count()
    assert (
        access.contact_points_visible_to(analyst).count()
        == ContactPoint.objects.count()
    )


def test_user_without_role_sees_nothing_even_superuser(world, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    root = django_user_model.objects.create_superuser("root", password="x")

    for user in (nobody, root):
        assert not access.organisations_visible_to(user).exists()
        assert not access.people_visible_to(user).exists()


def test_inactive_user_loses_its_rights(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    porteur.is_active = False

    assert not access.may_act(porteur, Role.PORTEUR_DEMANDE, world.creuse)
    assert not access.organisations_visible_to(porteur).exists()


def test_client_role_acts_for_its_own_organisation_only(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)

    assert access.may_act(porteur, Role.PORTEUR_DEMANDE, world.creuse)
    assert not access.may_act(porteur, Role.PORTEUR_DEMANDE, world.moselle)
    assert not access.may_act(porteur, Role.TESTEUR, world.creuse)


def test_supplier_role_acts_on_every_client_but_only_as_that_role(world):
    contact = world.user("cnaf.contact")

    assert access.may_act(contact, Role.CONTACT_EVOLUTIONS, world.creuse)
    assert access.may_act(contact, Role.CONTACT_EVOLUTIONS, world.moselle)
    assert not access.may_act(contact, Role.DSI_FOURNISSEUR, world.creuse)
    assert not access.may_act(contact, Role.PORTEUR_DEMANDE, world.creuse)


def test_require_role_refuses_with_a_french_reason(world):
    testeur = world.client_user(world.moselle, Role.TESTEUR)

    with pytest.raises(PermissionDenied, match="réservée au rôle « DSI client »"):
        access.require_role(testeur, Role.DSI_CLIENT, world.moselle)


def test_role_permissions_are_per_organisation_never_model_wide(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    admin = world.user("cnaf.admin")

    assert porteur.get_all_permissions() == {"roles.porteur_demande_23"}
    assert porteur.has_perm(access.role_permission(Role.PORTEUR_DEMANDE, world.creuse))
    assert not porteur.has_perm(
        access.role_permission(Role.PORTEUR_DEMANDE, world.moselle)
    )
    assert "contacts.change_organisation" in admin.get_all_permissions()
    assert admin.has_module_perms("contacts")
    assert not porteur.has_module_perms("contacts")


def test_granting_a_role_takes_effect_after_forgetting_the_cache(world):
    testeur = world.client_user(world.creuse, Role.TESTEUR)
    assert not access.may_act(testeur, Role.DSI_CLIENT, world.creuse)

    Membership.objects.create(
        user=testeur, organisation=world.creuse, role="dsi_client"
    )
    access.forget_memberships(testeur)

    assert access.may_act(testeur, Role.DSI_CLIENT, world.creuse)


def test_viewflow_queue_is_scoped_by_organisation(world):
    OrganisationTaskFlow.start.run(organisation=world.creuse)
    OrganisationTaskFlow.start.run(organisation=world.moselle)
    flow_class = OrganisationTaskFlow

    def queue(user):
        return {
            t.process.artifact.code
            for t in Task.objects.user_queue(user, flow_class=flow_class).filter(
                flow_task=flow_class.act
            )
        }

    assert queue(world.client_user(world.creuse, Role.PORTEUR_DEMANDE)) == {"23"}
    assert queue(world.client_user(world.moselle, Role.PORTEUR_DEMANDE)) == {"57"}
    assert queue(world.client_user(world.creuse, Role.TESTEUR)) == set()
    assert queue(world.user("cnaf.contact")) == set()


def test_viewflow_task_cannot_be_assigned_by_another_client(world):
    process = OrganisationTaskFlow.start.run(organisation=world.creuse)
    task = process.task_set.get(flow_task=OrganisationTaskFlow.act)
    node = OrganisationTaskFlow.act

    assert node.can_assign(world.client_user(world.creuse, Role.PORTEUR_DEMANDE), task)
    assert not node.can_assign(
        world.client_user(world.moselle, Role.PORTEUR_DEMANDE), task
    )
