"""Forms of the change-request tasks. They declare only what the actor may enter:
organisation, status or owner fields sent in a forged POST are simply ignored."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Organisation, Role
from evolutions.models import ChangeRequest, Release, ReleaseAnnouncement
from workflow import access
from workflow.forms import QuickSelect, options_from_values
from workflow.uploads import MultipleFileField, validate_upload_size


class NeedsExpressionForm(forms.Form):
    title = forms.CharField(label=_("Intitulé"), max_length=200)
    kind = forms.ChoiceField(label=_("Nature"), choices=ChangeRequest.Kind.choices)
    data_flows = forms.MultipleChoiceField(
        label=_("Flux concernés"),
        choices=ChangeRequest.DataFlow.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(
        label=_("Description du besoin"), widget=forms.Textarea(attrs={"rows": 6})
    )
    expected_benefit = forms.CharField(
        label=_("Bénéfice attendu"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    wished_date = forms.DateField(
        label=_("Date souhaitée"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class NewNeedsExpressionForm(NeedsExpressionForm):
    """A new request's needs expression, with the files that go with it."""

    attachments = MultipleFileField(label=_("Pièces jointes"), required=False)


class CompleteInformationForm(NeedsExpressionForm):
    comment = forms.CharField(
        label=_("Réponse au point de contact"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReviewSubmissionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=[
            ("acknowledge", _("Prendre en compte et nommer le porteur de la commande")),
            ("request_information", _("Demander un complément d'information")),
        ],
        widget=forms.RadioSelect,
    )
    order_owner = forms.ModelChoiceField(
        label=_("Porteur de la commande"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Pour prendre en compte la demande."),
    )
    question = forms.CharField(
        label=_("Informations attendues"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Pour demander un complément : ce qui manque à la demande."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order_owner"].queryset = (
            access.supplier_users_with_role(Role.PORTEUR_COMMANDE)
            .filter(is_active=True)
            .order_by("last_name", "first_name")
        )
        self.fields["order_owner"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "acknowledge" and not data.get("order_owner"):
            self.add_error("order_owner", _("Choisissez le porteur de la commande."))
        if data.get("decision") == "request_information" and not data.get("question"):
            self.add_error("question", _("Précisez les informations attendues."))
        return data


def _document_field(label):
    return forms.FileField(
        label=label,
        required=False,
        help_text=_("PDF, ODT, ODS, DOCX, XLSX, PNG, JPG, TXT ou CSV."),
        validators=[validate_upload_size],
    )


class SpecificationForm(forms.Form):
    summary = forms.CharField(
        label=_("Résumé du cahier des charges"),
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    document = _document_field(_("Cahier des charges (document)"))


class DecisionForm(forms.Form):
    """Approve, or refuse with a mandatory comment."""

    approve_label = _("Valider")
    refuse_label = _("Renvoyer avec des commentaires")

    decision = forms.TypedChoiceField(
        label=_("Décision"),
        coerce=lambda value: value == "yes",
        choices=[("yes", ""), ("no", "")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [
            ("yes", self.approve_label),
            ("no", self.refuse_label),
        ]

    def clean(self):
        data = super().clean()
        if data.get("decision") is False and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Un commentaire est obligatoire pour refuser."))
        return data


class SpecificationDecisionForm(DecisionForm):
    approve_label = _("Valider le cahier des charges")
    refuse_label = _("Renvoyer le cahier des charges avec des commentaires")


class QuoteDecisionForm(DecisionForm):
    approve_label = _("Accepter le devis")
    refuse_label = _("Refuser le devis (un devis révisé sera établi)")


class ReleaseDecisionForm(DecisionForm):
    approve_label = _("Confirmer cette version")
    refuse_label = _("Demander une autre version")


class QuoteForm(forms.Form):
    man_days = forms.DecimalField(
        label=_("Charge (jours-homme)"), max_digits=7, decimal_places=1
    )
    amount = forms.DecimalField(
        label=_("Montant (euros HT)"), max_digits=12, decimal_places=2
    )
    valid_until = forms.DateField(
        label=_("Valable jusqu'au"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    document = _document_field(_("Devis (document)"))

    def clean_valid_until(self):
        value = self.cleaned_data["valid_until"]
        if value <= timezone.localdate():
            raise ValidationError(_("La date de validité doit être dans le futur."))
        return value


class ReleaseProposalForm(forms.Form):
    release = forms.ModelChoiceField(
        label=_("Version"), queryset=Release.objects.none()
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["release"].queryset = Release.objects.filter(
            production_date__gte=timezone.localdate()
        )


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )


def _second(row) -> str:
    return row[1]


class ChangeRequestFilterForm(forms.Form):
    """Filters of the change-request list (GET); bad values are simply ignored."""

    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("État"),
        required=False,
        choices=[("", _("Tous")), *ChangeRequest.Status.choices],
        widget=QuickSelect,
    )
    kind = forms.ChoiceField(
        label=_("Nature"),
        required=False,
        choices=[("", _("Toutes")), *ChangeRequest.Kind.choices],
        widget=QuickSelect,
    )
    release = forms.ModelChoiceField(
        label=_("Version"), required=False, queryset=Release.objects.all(),
        empty_label=_("Toutes"), widget=QuickSelect,
    )  # fmt: skip
    owner = forms.ModelChoiceField(
        label=_("Porteur"), required=False, queryset=get_user_model().objects.none(),
        empty_label=_("Tous"), widget=QuickSelect,
    )  # fmt: skip
    organisation = forms.ModelChoiceField(
        label=_("Organisme"), required=False, queryset=Organisation.objects.none(),
        empty_label=_("Tous"), widget=QuickSelect,
    )  # fmt: skip

    def __init__(self, *args, owners, organisations, conditions=None, **kwargs):
        """`conditions`: what `owners` and `organisations` depend on (the user's,
        access.scope_signature), their statements then compiled once."""
        super().__init__(*args, **kwargs)
        # Only what the labels print, as bare values: a model instance per
        # option cost more than the rest of the list page (workflow.forms).
        self.fields["owner"].queryset = owners
        options_from_values(
            self.fields["owner"],
            ("pk", "first_name", "last_name", "username"),
            lambda row: f"{row[1]} {row[2]}".strip() or row[3],
            key=None if conditions is None else ("owners", conditions),
        )
        options_from_values(
            self.fields["release"], ("pk", "number"), _second, key=("releases",)
        )
        if organisations is None:
            del self.fields["organisation"]
        else:
            self.fields["organisation"].queryset = organisations
            options_from_values(
                self.fields["organisation"],
                ("pk", "code", "name", "kind"),
                lambda row: Organisation.label(*row[1:]),
                key=None if conditions is None else ("organisations", conditions),
            )

    def apply(self, queryset):
        """`queryset` narrowed by the valid filters."""
        from evolutions.selectors import change_requests_search

        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        queryset = change_requests_search(queryset, data.get("q") or "")
        for name in ("status", "kind", "release", "organisation"):
            if data.get(name):
                queryset = queryset.filter(**{name: data[name]})
        if data.get("owner"):
            queryset = queryset.filter(
                Q(request_owner=data["owner"]) | Q(order_owner=data["owner"])
            )
        return queryset


class AttachmentForm(forms.Form):
    file = MultipleFileField(label=_("Fichiers"))


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class AnnouncementForm(forms.Form):
    release = forms.ModelChoiceField(
        label=_("Version majeure"), queryset=Release.objects.all()
    )
    kind = forms.ChoiceField(label=_("Type"), choices=ReleaseAnnouncement.Kind.choices)
    title = forms.CharField(label=_("Titre"), max_length=200)
    changes = forms.CharField(
        label=_("Ce qui change"), widget=forms.Textarea(attrs={"rows": 5})
    )
    schedule = forms.CharField(
        label=_("Quand"), widget=forms.Textarea(attrs={"rows": 2})
    )
    client_actions = forms.CharField(
        label=_("Ce que les clients doivent faire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Cette annonce part à tous les Conseils départementaux : "
            "n'y citez aucune demande ni aucun client."
        ),
    )
