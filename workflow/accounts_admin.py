"""Accounts in the Django admin, with the administrator's duties separated.

- No web path to superuser status, groups or permissions: the user admin has no
  such fields and never lists a superuser (superusers are made on the command line,
  `manage.py createsuperuser`).
- The administrator never knows anyone's password: a new account gets a random
  one and its owner is invited by e-mail to choose theirs ("Mot de passe oublié");
  the admin's "set this user's password" page is closed. A signer's address,
  where resets are sent, is read-only here.
- Signing roles are granted through a four-eyes request (workflow/roles.py), never
  in the membership admin (contacts/admin.py).
- Every change the admin saves (accounts, roles, devices, contact points, any
  reference data) is appended to the audit journal with Django's own log entry;
  deleting several objects at once is switched off, so that each deletion goes
  through its own page and its own entry.
"""

import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import SIGNING_ROLES, Membership
from workflow import audit, routing
from workflow.models import AuditEntry
from workflow.notifications import notify

User = get_user_model()

# Deleting through a list's checkboxes writes its log entries in bulk, without
# the signal that journals them: every deletion goes through the object's page.
admin.site.disable_action("delete_selected")

_ADMIN_ACTIONS = {ADDITION: "ajout", CHANGE: "modification", DELETION: "suppression"}


@receiver(post_save, sender=LogEntry, dispatch_uid="tandem_admin_journal")
def journal_admin_change(sender, instance: LogEntry, created: bool, **kwargs):
    """Append each change saved in the Django admin to the audit journal, in the
    admin view's transaction."""
    if not created:
        return
    content_type = instance.content_type
    audit.record(
        AuditEntry.Action.ADMINISTRATION,
        by=instance.user,
        change=_ADMIN_ACTIONS.get(instance.action_flag, str(instance.action_flag)),
        model=content_type.app_label + "." + content_type.model if content_type else "",
        object_id=str(instance.object_id or "")[:40],
        object=instance.object_repr[:200],
        message=instance.get_change_message()[:500],
    )


def is_signer(user) -> bool:
    """Does the user hold a role that signs go-live agreements?"""
    return Membership.objects.filter(user=user, role__in=SIGNING_ROLES).exists()


class AccountCreationForm(forms.ModelForm):
    """A new account: who and where to write; the owner chooses the password."""

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = gettext_lazy(
            "L'invitation à choisir un mot de passe est envoyée à cette adresse."
        )

    def save(self, commit=True):
        user = super().save(commit=False)
        # Known to nobody: the owner sets theirs through the e-mailed reset link.
        user.set_password(secrets.token_urlsafe(32))
        if commit:
            user.save()
        return user


# Django's own user admin (superuser status, groups, permissions, passwords) and
# groups (permissions come from roles) are replaced or withdrawn.
for _model in (User, Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class AccountAdmin(admin.ModelAdmin):
    """Accounts, without superuser status, groups, permissions or passwords."""

    list_display = ["username", "email", "first_name", "last_name", "is_active"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["username", "first_name", "last_name", "email"]
    ordering = ["username"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username"]}),
        (
            gettext_lazy("Identité"),
            {"fields": ["first_name", "last_name", "email"]},
        ),
        (
            gettext_lazy("Statut"),
            {
                "fields": ["is_active", "is_staff"],
                "description": gettext_lazy(
                    "« Statut équipe » ouvre cette administration ; les droits "
                    "viennent des rôles tenus dans les organismes. Le mot de passe "
                    "se choisit par son titulaire (« Mot de passe oublié » sur la "
                    "page de connexion)."
                ),
            },
        ),
        (gettext_lazy("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "first_name", "last_name", "email"]})
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            queryset = queryset.filter(is_superuser=False)
        return queryset

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AccountCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and not request.user.is_superuser:
            if is_signer(obj):
                # A reset link goes to this address: a signer's is not the
                # administrator's to change.
                fields.append("email")
            if obj.pk == request.user.pk:
                fields += ["is_active", "is_staff"]
        return fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            _invite(obj)
            messages.info(
                request,
                _(
                    "Un courriel invite %(email)s à choisir son mot de passe ; "
                    "attribuez ensuite ses rôles."
                )
                % {"email": obj.email},
            )

    def get_urls(self):
        from django.urls import path

        app_label, model_name = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<id>/password/",
                self.admin_site.admin_view(self.password_closed),
                name=f"{app_label}_{model_name}_password_change",
            ),
            *super().get_urls(),
        ]

    def password_closed(self, request, id, form_url=""):
        """Nobody sets another person's password here."""
        raise PermissionDenied(
            _(
                "Le mot de passe d'un compte est choisi par son titulaire seul : "
                "il le réinitialise par « Mot de passe oublié » sur la page de "
                "connexion, le lien lui étant envoyé par courriel."
            )
        )


def _invite(user) -> None:
    """Tell a new account's owner how to choose a password (no secret in the
    message: the reset link itself is asked for by the owner)."""
    if not user.email:
        return
    notify(
        event=f"account_invite:{user.pk}",
        kind="account_invite",
        organisation=routing.supplier(),
        recipients=[routing.Recipient(user.email, user)],
        context={"account": user},
        link=reverse("password_reset"),
    )
