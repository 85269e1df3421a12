"""Access rules: the one place that answers "may this user see / do this?".

A user's rights come from their memberships (user × organisation × role):
- a user holding a business role for the supplier sees every client's data;
- an administrator sees the reference data of every organisation (the directory),
  and no business data unless they also hold a business role;
- a user holding roles for a client sees that client's data only;
- a user with no membership sees no business data at all (superusers included:
  the Django admin is theirs, the business pages are not).

Every queryset a view can reach goes through one of the `*_visible_to` selectors or
`scope_to_organisations`, and every action checks `may_act` / `require_role`.
Viewflow task queues are scoped by the per-organisation permission strings of
`role_permission`, which `MembershipBackend` grants from the memberships.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from contacts.models import (
    SIGNING_ROLES,
    ContactPoint,
    Membership,
    Organisation,
    Person,
    Role,
    RoleRequest,
    SupportHours,
)

_CACHE_ATTR = "_tandem_memberships"

# Role permissions are not model permissions: their own prefix keeps them from
# opening any Django admin module.
ROLE_PERMISSION_PREFIX = "roles"

# Administrators maintain the reference data in the Django admin: they get the model
# permissions of these apps (and nothing on business data).
_ADMINISTERED_MODELS = {
    "contacts": (
        "organisation",
        "person",
        "membership",
        "contactpoint",
        "supporthours",
    ),
    "evolutions": ("release",),
    "workflow": ("stepdeadline",),
    "auth": ("user",),
}
_ADMIN_ACTIONS = ("view", "add", "change", "delete")
# They may remove a user's lost authenticator device (the user then enrols again),
# never add or change one: with the key, they could confirm a signature in a DSI's
# name. The admin never shows an existing device's key (OTP_ADMIN_HIDE_SENSITIVE_DATA).
_ADMIN_DEVICE_PERMISSIONS = frozenset(
    {"otp_totp.view_totpdevice", "otp_totp.delete_totpdevice"}
)
# Read-only in the admin: signing-role requests (filed and decided on their own
# page, workflow/roles.py) and the counts of anonymous refusals.
_ADMIN_READ_ONLY = frozenset(
    {"contacts.view_rolerequest", "workflow.view_anonymousrefusal"}
)


def memberships_of(user) -> tuple[Membership, ...]:
    """The user's memberships, with their organisations, loaded once per request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = tuple(
            Membership.objects.filter(user=user).select_related("organisation")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def remember_memberships(user, memberships: Iterable[Membership]) -> None:
    """Give `user` the memberships read along with it (workflow.signin), so that
    memberships_of does not read them again during the request."""
    setattr(user, _CACHE_ATTR, tuple(memberships))


def forget_memberships(user) -> None:
    """Drop the cached memberships (after roles were granted or withdrawn)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def is_supplier_user(user) -> bool:
    """Does the user hold a business role for the supplier?

    The administrator's role is not one: administrators maintain the reference
    data (organisations, people, roles, contact points), not clients' business data.
    """
    return any(
        m.organisation.is_supplier and m.role != Role.ADMINISTRATEUR
        for m in memberships_of(user)
    )


def supplier_users_among(user_ids: Iterable[int]) -> set[int]:
    """Which of `user_ids` hold a business role for the supplier (the rule of
    is_supplier_user, for many users in one query)."""
    return set(
        Membership.objects.filter(
            user_id__in=set(user_ids), organisation__kind=Organisation.Kind.SUPPLIER
        )
        .exclude(role=Role.ADMINISTRATEUR)
        .values_list("user_id", flat=True)
    )


def sees_all_reference_data(user) -> bool:
    """The directory of every organisation: the supplier's users and administrators."""
    return is_supplier_user(user) or is_administrator(user)


def is_administrator(user) -> bool:
    """Does the user administer Tandem (reference data, background jobs)?"""
    return any(m.role == Role.ADMINISTRATEUR for m in memberships_of(user))


def scope_signature(user) -> tuple:
    """Everything the rules of this module read of `user`: two users with the
    same signature get the same conditions (scope_to_organisations,
    role_permissions, the task queues of flowviews), so a statement built from
    them may be kept under it (workflow.statements.compiled_rows)."""
    return (
        user.pk,
        user.is_superuser,
        user.is_active,
        tuple(
            sorted(
                (m.role, m.organisation_id, m.organisation.code, m.organisation.kind)
                for m in memberships_of(user)
            )
        ),
    )


def organisations_for_role(user, role: str) -> list[Organisation]:
    """The organisations the user holds `role` for."""
    return [m.organisation for m in memberships_of(user) if m.role == Role(role)]


def scope_to_organisations(
    queryset: QuerySet,
    user,
    organisation_field: str = "organisation",
    *,
    reference: bool = False,
) -> QuerySet:
    """`queryset` narrowed to the rows of the organisations the user may see
    (`reference`: rows of the directory, which administrators see whole)."""
    if is_supplier_user(user) or (reference and is_administrator(user)):
        return queryset
    own = _own_organisation_ids(user)
    if not own:
        return queryset.none()
    return queryset.filter(**{f"{organisation_field}__in": own})


def sees_organisation_data(user, organisation_id: int) -> bool:
    """May the user see the business rows of this organisation? The rule of
    scope_to_organisations for one row already read."""
    return is_supplier_user(user) or organisation_id in _own_organisation_ids(user)


def _own_organisation_ids(user) -> set[int]:
    return {m.organisation_id for m in memberships_of(user)}


def organisations_visible_to(user) -> QuerySet[Organisation]:
    """Organisations: all of them for the supplier, one's own for a client."""
    return scope_to_organisations(
        Organisation.objects.all(), user, "pk", reference=True
    )


def people_visible_to(user) -> QuerySet[Person]:
    """People of the organisations the user may see."""
    return scope_to_organisations(
        Person.objects.select_related("organisation"), user, reference=True
    )


def memberships_visible_to(user) -> QuerySet[Membership]:
    """Roles held in the organisations the user may see."""
    return scope_to_organisations(
        Membership.objects.select_related("organisation", "user"),
        user,
        reference=True,
    )


def supplier_users_with_role(role: str) -> QuerySet:
    """The users who hold `role` for the supplier (the order owners a request may
    be given to, say)."""
    holders = Membership.objects.filter(
        role=role, organisation__kind=Organisation.Kind.SUPPLIER
    )
    return get_user_model().objects.filter(pk__in=holders.values("user_id"))


def contact_points_visible_to(user) -> QuerySet[ContactPoint]:
    """Contact points of the organisations the user may see."""
    return scope_to_organisations(
        ContactPoint.objects.select_related("organisation", "person"),
        user,
        reference=True,
    )


def support_hours_visible_to(user) -> QuerySet[SupportHours]:
    """Support hours of the organisations the user may see."""
    return scope_to_organisations(SupportHours.objects.all(), user, reference=True)


def deals_with_signing_roles(user) -> bool:
    """Does the user request (administrator) or decide (a DSI) signing roles?"""
    return is_administrator(user) or any(
        m.role in SIGNING_ROLES for m in memberships_of(user)
    )


def role_requests_visible_to(user) -> QuerySet[RoleRequest]:
    """Signing-role requests: administrators see every one; a DSI those of the
    organisations they sign for; everyone else none."""
    queryset = RoleRequest.objects.select_related(
        "user", "organisation", "requested_by", "decided_by"
    )
    if is_administrator(user):
        return queryset
    organisations = {
        organisation.pk
        for role in SIGNING_ROLES
        for organisation in organisations_for_role(user, role)
    }
    return queryset.filter(organisation__in=organisations)


def may_act(user, role: str, organisation: Organisation) -> bool:
    """May the user act as `role` for `organisation`?

    Supplier roles are held for the supplier and act on every client's requests;
    client roles act for their own organisation only.
    """
    role = Role(role)
    for membership in memberships_of(user):
        if membership.role != role:
            continue
        if membership.organisation_id == organisation.pk:
            return True
        if membership.organisation.is_supplier and not organisation.is_supplier:
            return True
    return False


def require_role(user, role: str, organisation: Organisation) -> None:
    """Refuse (403 with a French reason) unless the user may act as `role`."""
    require_any_role(user, (role,), organisation)


def may_act_any(user, roles: Iterable[str], organisation: Organisation) -> bool:
    """May the user act as at least one of `roles` for `organisation`?"""
    return any(may_act(user, role, organisation) for role in roles)


def require_any_role(user, roles: Iterable[str], organisation: Organisation) -> None:
    """Refuse (403 with a French reason) unless the user may act as one of `roles`."""
    roles = [Role(role) for role in roles]
    if not may_act_any(user, roles, organisation):
        raise PermissionDenied(
            _("Cette action est réservée au rôle « %(role)s » de %(organisation)s.")
            % {
                "role": _(" ou ").join(str(role.label) for role in roles),
                "organisation": organisation,
            }
        )


def role_permission(role: str, organisation: Organisation) -> str:
    """The permission string of `role` held for `organisation`.

    Used by viewflow's `.Permission(...)` so that task queues are scoped by
    organisation: a client's tasks carry that client's permission, never a
    model-wide one.
    """
    return f"{ROLE_PERMISSION_PREFIX}.{Role(role).value}_{organisation.code}"


def permission_organisation_code(permission: str) -> str | None:
    """The organisation code a role permission names (None: not a role permission)."""
    if not permission or not permission.startswith(f"{ROLE_PERMISSION_PREFIX}."):
        return None
    return permission.rsplit("_", 1)[-1]


def role_permissions(user) -> set[str]:
    """The permissions the user's memberships grant (those naming a role in an
    organisation, which the tasks wait for), without asking Django's own tables."""
    return _role_permissions(memberships_of(user))


def _role_permissions(memberships: Iterable[Membership]) -> set[str]:
    perms = {role_permission(m.role, m.organisation) for m in memberships}
    if any(m.role == Role.ADMINISTRATEUR for m in memberships):
        perms |= {
            f"{app}.{action}_{model}"
            for app, models in _ADMINISTERED_MODELS.items()
            for model in models
            for action in _ADMIN_ACTIONS
        }
        perms |= _ADMIN_DEVICE_PERMISSIONS | _ADMIN_READ_ONLY
    return perms


class MembershipBackend(BaseBackend):
    """Grants the permissions that follow from the user's memberships."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if obj is not None:
            return set()
        return _role_permissions(memberships_of(user_obj))

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        prefix = f"{app_label}."
        return any(p.startswith(prefix) for p in self.get_all_permissions(user_obj))
