"""Separation of duties: the supplier's administrator maintains reference data, and
cannot make himself a superuser, a signer, or anybody else (issue 14, findings 1-2).
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from contacts.models import ContactPoint, Membership, Role, RoleRequest
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from workflow import access, roles
from workflow.models import AuditEntry, Notification

User = get_user_model()


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(world.user("cnaf.admin"))
    return client


def _second_administrator(world):
    user = User.objects.create_user(
        "cnaf.admin2", email="admin2@demo.tandem.invalid", is_staff=True
    )
    Membership.objects.create(
        user=user, organisation=world.supplier, role=Role.ADMINISTRATEUR
    )
    return user


def _admin_entries(model: str):
    return [
        entry.detail
        for entry in AuditEntry.objects.filter(action=AuditEntry.Action.ADMINISTRATION)
        if entry.detail.get("model") == model
    ]


# --- Finding 1: no web path to superuser status, permissions or passwords ------------


def test_the_user_admin_has_no_superuser_group_or_permission_field(world, admin_client):
    target = world.user("cd23.porteur")
    page = admin_client.get(f"/admin/auth/user/{target.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    for field in ("is_superuser", "groups", "user_permissions", "password"):
        assert field not in form.fields


def test_posting_is_superuser_makes_nobody_a_superuser(world, admin_client):
    admin = world.user("cnaf.admin")
    response = admin_client.post(
        f"/admin/auth/user/{admin.pk}/change/",
        {
            "username": admin.username,
            "first_name": "A",
            "last_name": "B",
            "email": admin.email,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "user_permissions": "1",
            # What Django's stock form also asks, so that only the missing field
            # keeps the superuser status out.
            "date_joined_0": "01/01/2026",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code in (200, 302)
    admin = User.objects.get(pk=admin.pk)
    assert not admin.is_superuser
    assert not admin.user_permissions.exists()


def test_superusers_are_out_of_the_administrators_reach(world, admin_client):
    root = User.objects.create_superuser("racine", "racine@demo.tandem.invalid", "x")
    assert admin_client.get(f"/admin/auth/user/{root.pk}/change/").status_code == 302
    listing = admin_client.get("/admin/auth/user/")
    assert b"racine" not in listing.content


@pytest.mark.parametrize("username", ["cd23.dsi", "cd23.porteur", "cnaf.moe"])
def test_nobody_sets_another_persons_password_in_the_admin(
    world, admin_client, username
):
    target = world.user(username)
    before = target.password
    page = admin_client.get(f"/admin/auth/user/{target.pk}/password/")
    assert page.status_code == 403
    posted = admin_client.post(
        f"/admin/auth/user/{target.pk}/password/",
        {"password1": "Une-phrase-secrete-42", "password2": "Une-phrase-secrete-42"},
    )
    assert posted.status_code == 403
    assert User.objects.get(pk=target.pk).password == before


def test_a_signers_address_is_read_only_for_the_administrator(world, admin_client):
    dsi = world.user("cd23.dsi")
    admin_client.post(
        f"/admin/auth/user/{dsi.pk}/change/",
        {
            "username": dsi.username,
            "first_name": dsi.first_name,
            "last_name": dsi.last_name,
            "email": "pirate@example.invalid",
            "is_active": "on",
        },
    )
    assert User.objects.get(pk=dsi.pk).email == dsi.email


def test_a_new_account_gets_a_password_nobody_knows_and_an_invitation(
    world, admin_client
):
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "cd23.nouveau",
            "first_name": "Nina",
            "last_name": "Nouvelle",
            "email": "nina@demo.tandem.invalid",
            "password1": "Connu-de-l-admin-42",
            "password2": "Connu-de-l-admin-42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="cd23.nouveau")
    assert not user.check_password("Connu-de-l-admin-42")
    assert user.has_usable_password()  # so that "Mot de passe oublié" works
    invitation = Notification.objects.get(kind="account_invite")
    assert invitation.recipient_email == "nina@demo.tandem.invalid"
    assert "choisir votre mot de passe" in invitation.body_text
    assert _admin_entries("auth.user")[-1]["change"] == "ajout"


def test_the_administrator_cannot_create_or_change_a_device(world, admin_client):
    dsi = world.user("cd23.dsi")
    device = TOTPDevice.objects.get(user=dsi)
    added = admin_client.post(
        "/admin/otp_totp/totpdevice/add/",
        {"user": dsi.pk, "name": "clef", "key": "00" * 20, "confirmed": "on"},
    )
    changed = admin_client.post(
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        {"user": dsi.pk, "name": "clef", "key": "00" * 20, "confirmed": "on"},
    )
    assert added.status_code == 403
    assert changed.status_code == 403
    assert list(TOTPDevice.objects.filter(user=dsi)) == [device]
    assert TOTPDevice.objects.get(pk=device.pk).key == device.key


def test_deleting_a_device_is_journaled(world, admin_client):
    device = TOTPDevice.objects.get(user=world.user("cd23.dsi"))
    response = admin_client.post(
        f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    (entry,) = _admin_entries("otp_totp.totpdevice")
    assert entry["change"] == "suppression"
    assert entry["object_id"] == str(device.pk)
    assert AuditEntry.objects.last().actor == "cnaf.admin"


def test_bulk_deletion_is_switched_off(world, admin_client):
    page = admin_client.get("/admin/contacts/contactpoint/")
    assert page.status_code == 200
    assert "delete_selected" not in page.context["cl"].model_admin.get_actions(
        page.wsgi_request
    )


def test_contact_point_changes_are_journaled(world, admin_client):
    point = ContactPoint.objects.filter(organisation=world.creuse).first()
    response = admin_client.post(
        f"/admin/contacts/contactpoint/{point.pk}/change/",
        {
            "organisation": point.organisation_id,
            "subject": point.subject,
            "label": "Nouveau libellé",
            "person": point.person_id or "",
            "mailbox": point.mailbox or "evolutions@cd23.invalid",
            "phone": point.phone,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    (entry,) = _admin_entries("contacts.contactpoint")
    assert entry["change"] == "modification"
    assert "Nouveau libellé" in ContactPoint.objects.get(pk=point.pk).label


# --- Finding 2: signing roles only through a second person ---------------------------


@pytest.mark.parametrize("role", [Role.DSI_CLIENT, Role.PORTEUR_DEMANDE])
def test_the_membership_admin_grants_no_signing_role_and_nothing_to_oneself(
    world, admin_client, role
):
    admin = world.user("cnaf.admin")
    response = admin_client.post(
        "/admin/contacts/membership/add/",
        {"user": admin.pk, "organisation": world.creuse.pk, "role": role},
    )
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=admin, organisation=world.creuse)


def test_the_membership_admin_grants_no_signing_role_to_anyone(world, admin_client):
    tester = world.user("cd23.testeur")
    response = admin_client.post(
        "/admin/contacts/membership/add/",
        {"user": tester.pk, "organisation": world.creuse.pk, "role": Role.DSI_CLIENT},
    )
    assert "role" in response.context["adminform"].form.errors
    assert "autre personne" in str(response.context["adminform"].form.errors["role"])
    assert not Membership.objects.filter(user=tester, role=Role.DSI_CLIENT)


def test_a_signing_membership_cannot_be_turned_into_another(world, admin_client):
    membership = Membership.objects.get(user=world.user("cd23.dsi"))
    response = admin_client.post(
        f"/admin/contacts/membership/{membership.pk}/change/",
        {
            "user": world.user("cd23.testeur").pk,
            "organisation": world.creuse.pk,
            "role": Role.DSI_CLIENT,
        },
    )
    assert response.status_code == 403
    assert Membership.objects.get(pk=membership.pk).user.username == "cd23.dsi"


def test_adding_a_plain_role_is_journaled(world, admin_client):
    tester = world.user("cd23.testeur")
    response = admin_client.post(
        "/admin/contacts/membership/add/",
        {"user": tester.pk, "organisation": world.creuse.pk, "role": "porteur_demande"},
    )
    assert response.status_code == 302
    (entry,) = _admin_entries("contacts.membership")
    assert entry["change"] == "ajout"


def _request(world, *, user="cd23.testeur", organisation=None, role=Role.DSI_CLIENT):
    return roles.role_request_create(
        by=world.user("cnaf.admin"),
        user=world.user(user),
        organisation=organisation or world.creuse,
        role=role,
        reason="Intérim du DSI pendant son congé.",
    )


def test_a_signing_role_is_granted_only_once_another_person_approved(world):
    role_request = _request(world)
    tester = world.user("cd23.testeur")
    assert not Membership.objects.filter(user=tester, role=Role.DSI_CLIENT)
    # Not by its requester, not by the user it is for, not by another client's DSI.
    for username in ("cnaf.admin", "cd23.testeur", "cd57.dsi", "cnaf.dsi"):
        with pytest.raises(PermissionDenied):
            roles.role_request_decide(
                pk=role_request.pk, by=world.user(username), approve=True
            )
    assert not Membership.objects.filter(user=tester, role=Role.DSI_CLIENT)

    roles.role_request_decide(
        pk=role_request.pk, by=world.user("cd23.dsi"), approve=True
    )
    assert Membership.objects.filter(
        user=tester, organisation=world.creuse, role=Role.DSI_CLIENT
    ).exists()
    role_request = RoleRequest.objects.get(pk=role_request.pk)
    assert role_request.state == RoleRequest.State.APPROVED
    assert role_request.decided_by.username == "cd23.dsi"
    journal = AuditEntry.objects.filter(subject_type="contacts.rolerequest")
    assert [e.detail["to"] for e in journal] == ["en_attente", "approuvee"]
    assert [e.actor for e in journal] == ["cnaf.admin", "cd23.dsi"]
    told = set(
        Notification.objects.filter(event__startswith="role_request:").values_list(
            "recipient_email", flat=True
        )
    )
    assert {world.user("cd23.dsi").email, tester.email} <= told


def test_a_second_administrator_approves_while_the_organisation_has_no_signer(world):
    Membership.objects.filter(organisation=world.creuse, role=Role.DSI_CLIENT).delete()
    role_request = _request(world)
    with pytest.raises(PermissionDenied):
        roles.role_request_decide(
            pk=role_request.pk, by=world.user("cnaf.admin"), approve=True
        )
    second = _second_administrator(world)
    roles.role_request_decide(pk=role_request.pk, by=second, approve=True)
    assert Membership.objects.filter(
        user=world.user("cd23.testeur"), role=Role.DSI_CLIENT
    ).exists()


def test_an_administrator_cannot_get_a_signing_role_by_his_own_request(world):
    admin = world.user("cnaf.admin")
    role_request = roles.role_request_create(
        by=admin,
        user=admin,
        organisation=world.supplier,
        role=Role.DSI_FOURNISSEUR,
        reason="Moi.",
    )
    with pytest.raises(PermissionDenied):
        roles.role_request_decide(pk=role_request.pk, by=admin, approve=True)
    roles.role_request_decide(
        pk=role_request.pk, by=world.user("cnaf.dsi"), approve=False, reason="Non."
    )
    assert not Membership.objects.filter(user=admin, role=Role.DSI_FOURNISSEUR)


def test_only_administrators_request_and_the_role_must_fit_the_organisation(world):
    with pytest.raises(PermissionDenied):
        roles.role_request_create(
            by=world.user("cd23.dsi"),
            user=world.user("cd23.testeur"),
            organisation=world.creuse,
            role=Role.DSI_CLIENT,
            reason="x",
        )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _request(world, organisation=world.supplier, role=Role.DSI_CLIENT)


def test_the_role_request_page_over_http(world, admin_client):
    tester = world.user("cd23.testeur")
    page = admin_client.get("/annuaire/roles-de-signature/")
    assert page.status_code == 200
    created = admin_client.post(
        "/annuaire/roles-de-signature/",
        {
            "user": tester.pk,
            "organisation": world.creuse.pk,
            "role": Role.DSI_CLIENT,
            "reason": "Nomination au 1er janvier.",
        },
    )
    assert created.status_code == 302
    role_request = RoleRequest.objects.get()
    url = f"/annuaire/roles-de-signature/{role_request.pk}/approuver/"
    assert admin_client.post(url).status_code == 403
    dsi = Client()
    dsi.force_login(world.user("cd23.dsi"))
    assert (
        b"Nomination au 1er janvier."
        in dsi.get("/annuaire/roles-de-signature/").content
    )
    assert dsi.post(url).status_code == 302
    assert Membership.objects.filter(user=tester, role=Role.DSI_CLIENT).exists()
    # Another client's DSI does not even see the request.
    other = Client()
    other.force_login(world.user("cd57.dsi"))
    assert other.post(url).status_code == 404
    tester_client = Client()
    tester_client.force_login(world.user("cd23.porteur"))
    assert tester_client.get("/annuaire/roles-de-signature/").status_code == 403


# --- The administrator reads reference data, not clients' business data -------------


def test_the_administrator_sees_the_directory_but_no_business_data(world):
    evolutions_demo_load()
    admin = world.user("cnaf.admin")
    assert not access.is_supplier_user(admin)
    assert access.organisations_visible_to(admin).count() > 2
    client = Client()
    client.force_login(admin)
    request = ChangeRequest.objects.filter(organisation=world.creuse).first()
    assert client.get(f"/evolutions/{request.pk}/").status_code == 404
    listing = client.get("/evolutions/")
    assert request.reference.encode() not in listing.content
    assert client.get("/annuaire/organismes/23/").status_code == 200


# --- A password set by its owner is journalled ---------------------------------------


def test_changing_and_resetting_ones_password_are_journaled(world, client):
    import re

    user = world.user("cd23.porteur")
    client.force_login(user)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": world.password,
            "new_password1": "Une-toute-nouvelle-phrase-42",
            "new_password2": "Une-toute-nouvelle-phrase-42",
        },
    )
    assert response.status_code == 302
    client.logout()
    client.post("/accounts/password_reset/", {"email": user.email})
    message = Notification.objects.get(kind="password_reset")
    link = re.search(r"/accounts/reset/\S+/", message.body_text).group(0)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {
            "new_password1": "Encore-une-autre-phrase-43",
            "new_password2": "Encore-une-autre-phrase-43",
        },
    )
    assert done.status_code == 302
    changes = [
        entry.detail["change"]
        for entry in AuditEntry.objects.filter(actor_id=user.pk)
        if entry.detail.get("model") == "auth.user"
    ]
    assert changes == ["mot_de_passe_change", "mot_de_passe_reinitialise"]
