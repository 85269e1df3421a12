"""The signing roles' four-eyes page: administrators ask, another person decides."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from contacts.models import SIGNING_ROLES, Organisation, Role
from workflow import access, roles
from workflow.refusals import errors_onto


class RoleRequestForm(forms.Form):
    user = forms.ModelChoiceField(
        label=gettext_lazy("Utilisateur"),
        queryset=get_user_model()
        .objects.filter(is_active=True, is_superuser=False)
        .select_related("person")
        .order_by("last_name", "first_name", "username"),
    )
    organisation = forms.ModelChoiceField(
        label=gettext_lazy("Organisme"),
        queryset=Organisation.objects.order_by("kind", "code"),
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Rôle de signature"),
        choices=[(role.value, role.label) for role in Role if role in SIGNING_ROLES],
    )
    reason = forms.CharField(
        label=gettext_lazy("Motif"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Pourquoi cette personne doit signer les accords de mise en production "
            "(nomination, intérim…)."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].label_from_instance = lambda user: (
            f"{user.get_full_name() or user.username} ({user.username})"
        )


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif (obligatoire pour un refus)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _page(request, form=None, status=200):
    user = request.user
    visible = access.role_requests_visible_to(user)
    return render(
        request,
        "workflow/role_requests.html",
        {
            "to_decide": roles.requests_to_decide(user),
            "history": visible[:50],
            "form": form
            if form is not None
            else (RoleRequestForm() if access.is_administrator(user) else None),
            "decision_form": DecisionForm(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def role_requests(request):
    """Pending requests to decide, the history, and (administrators) a new request."""
    if not access.deals_with_signing_roles(request.user):
        raise PermissionDenied(
            _("Cette page est réservée aux administrateurs et aux DSI.")
        )
    if request.method == "GET":
        return _page(request)
    if not access.is_administrator(request.user):
        raise PermissionDenied(
            _(
                "Seul un administrateur peut demander l'attribution d'un rôle de "
                "signature."
            )
        )
    form = RoleRequestForm(request.POST)
    if form.is_valid():
        try:
            roles.role_request_create(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(
                request,
                _(
                    "Demande enregistrée : elle attend l'approbation d'une autre "
                    "personne, qui en est avertie."
                ),
            )
            return redirect("annuaire:role_requests")
    return _page(request, form, status=400)


@require_POST
def role_request_decide(request, pk: int, decision: str):
    """Approve, refuse or (its requester) cancel one request."""
    role_request = access.role_requests_visible_to(request.user).filter(pk=pk).first()
    if role_request is None or decision not in ("approuver", "refuser", "annuler"):
        raise Http404
    form = DecisionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        if decision == "annuler":
            roles.role_request_cancel(pk=pk, by=request.user)
            done = _("Demande annulée.")
        else:
            approve = decision == "approuver"
            roles.role_request_decide(
                pk=pk, by=request.user, approve=approve, reason=reason
            )
            done = _("Rôle attribué.") if approve else _("Demande refusée.")
    except ValidationError as error:
        # No form on the page to show it on: the message above the list.
        messages.error(request, " ".join(error.messages))
        return redirect("annuaire:role_requests")
    messages.success(request, done)
    return redirect("annuaire:role_requests")
