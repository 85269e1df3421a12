from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contacts.models import (
    SIGNING_ROLES,
    ContactPoint,
    Membership,
    Organisation,
    Person,
    RoleRequest,
    SupportHours,
)


class SupportHoursInline(admin.TabularInline):
    model = SupportHours
    extra = 0


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    autocomplete_fields = ["person"]


class ReferenceDeletionAdmin(admin.ModelAdmin):
    """Reference data whose deletion page would list clients' business objects
    (Django's admin lists everything a deletion reaches): it names the objects
    deleted and, for the rest, counts only; business data that protects the object
    is not listed."""

    def get_deleted_objects(self, objs, request):
        _listed, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        if protected:
            protected = [
                _(
                    "Des données métier des clients (demandes, recettes…) y sont "
                    "rattachées : la suppression est impossible."
                )
            ]
        return [str(obj) for obj in objs], model_count, perms_needed, protected


@admin.register(Organisation)
class OrganisationAdmin(ReferenceDeletionAdmin):
    list_display = ["code", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    inlines = [ContactPointInline, SupportHoursInline]

    def get_readonly_fields(self, request, obj=None):
        # Whether an organisation is the supplier decides who sees every client's
        # data: fixed once created (data loading sets it, from the command line).
        if obj is not None and not request.user.is_superuser:
            return ["code", "kind"]
        return []


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "organisation", "function", "email"]
    list_filter = ["organisation__kind"]
    search_fields = [
        "last_name",
        "first_name",
        "email",
        "user_code",
        "organisation__code",
    ]
    autocomplete_fields = ["organisation", "user"]


class MembershipForm(forms.ModelForm):
    """A role given in the admin: never a signing role (those need a second
    person's approval, page "Rôles de signature"), never to oneself."""

    class Meta:
        model = Membership
        fields = ["user", "organisation", "role"]
        help_texts = {
            "role": _(
                "« DSI client » et « DSI fournisseur » ne s'attribuent pas ici : "
                "faites-en la demande dans Tandem (Annuaire → Rôles de signature), "
                "une autre personne l'approuve."
            )
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("role") in SIGNING_ROLES:
            self.add_error(
                "role",
                _(
                    "Les rôles « DSI client » et « DSI fournisseur » signent les "
                    "accords de mise en production : ils s'attribuent par une "
                    "demande approuvée par une autre personne (Annuaire → Rôles de "
                    "signature), jamais ici."
                ),
            )
        if cleaned.get("user") is not None and cleaned["user"] == self.acting_user:
            self.add_error(
                "user",
                _("Vos propres rôles sont attribués par un autre administrateur."),
            )
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role"]
    list_filter = ["role", "organisation__kind"]
    search_fields = ["user__username", "user__last_name", "organisation__code"]
    autocomplete_fields = ["organisation", "user"]
    form = MembershipForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    def has_change_permission(self, request, obj=None):
        # A signing role is withdrawn (deleted), never turned into another one;
        # one's own roles are changed by someone else.
        if (
            obj is not None
            and not request.user.is_superuser
            and (obj.role in SIGNING_ROLES or obj.user_id == request.user.pk)
        ):
            return False
        return super().has_change_permission(request, obj)


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = ["organisation", "subject", "label", "person", "mailbox", "phone"]
    list_filter = ["subject", "organisation__kind"]
    search_fields = ["label", "mailbox", "organisation__code", "organisation__name"]
    autocomplete_fields = ["organisation", "person"]


@admin.register(SupportHours)
class SupportHoursAdmin(admin.ModelAdmin):
    list_display = ["organisation", "weekday", "opens", "closes"]
    list_filter = ["weekday", "organisation__kind"]
    search_fields = ["organisation__code", "organisation__name"]
    autocomplete_fields = ["organisation"]


@admin.register(RoleRequest)
class RoleRequestAdmin(admin.ModelAdmin):
    """Read-only here: requests are filed and decided on the page "Rôles de
    signature", where the four-eyes rule is enforced."""

    list_display = [
        "user",
        "organisation",
        "role",
        "state",
        "requested_by",
        "decided_by",
    ]
    list_filter = ["state", "role"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
