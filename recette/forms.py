"""Forms of the acceptance tasks; they declare only what the actor may enter."""

from django import forms
from django.utils.translation import gettext_lazy as _

from recette.models import AcceptanceReport, Campaign, Defect, Execution, TestCase
from workflow.forms import OneTimeCodeField
from workflow.uploads import validate_upload_size


def _date_widget():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PlanForm(forms.Form):
    workload = forms.DecimalField(
        label=_("Charge (jours-homme)"), max_digits=7, decimal_places=1
    )
    start = forms.DateField(label=_("Début de la recette"), widget=_date_widget())
    end = forms.DateField(label=_("Fin de la recette"), widget=_date_widget())
    cases_file = forms.FileField(
        label=_("Cas de test (CSV ou XLSX)"),
        required=False,
        validators=[validate_upload_size],
        help_text=_(
            "Colonnes : référence, titre, objectif, priorité, préconditions, section, "
            "étape, action, résultat attendu. Remplace les cas du plan. Un fichier "
            "avec des erreurs n'enregistre rien et liste chaque ligne fautive."
        ),
    )


class DecisionForm(forms.Form):
    decision = forms.TypedChoiceField(
        label=_("Décision"),
        coerce=lambda value: value == "yes",
        choices=[("yes", _("Valider le plan")), ("no", _("Renvoyer le plan"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class QualificationForm(forms.Form):
    passed = forms.TypedChoiceField(
        label=_("Résultat"),
        coerce=lambda value: value == "yes",
        choices=[
            ("yes", _("Qualification réussie")),
            ("no", _("Qualification échouée")),
        ],
        widget=forms.RadioSelect,
    )
    on = forms.DateField(label=_("Date"), widget=_date_widget())
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    report = forms.FileField(
        label=_("Rapport de qualification"),
        required=False,
        validators=[validate_upload_size],
    )


class DeliveryForm(forms.Form):
    on = forms.DateField(label=_("Date de livraison"), widget=_date_widget())
    environment = forms.CharField(label=_("Environnement"), max_length=100)
    release_notes = forms.CharField(
        label=_("Notes de livraison"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    fixed_defects = forms.ModelMultipleChoiceField(
        label=_("Anomalies corrigées dans cette livraison"),
        queryset=Defect.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, change_request, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fixed_defects"].queryset = Defect.objects.filter(
            change_request=change_request,
            status__in=[Defect.Status.OPEN, Defect.Status.REOPENED],
        )


class CampaignCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Suite de la campagne"),
        choices=Campaign.Outcome.choices,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReportForm(forms.Form):
    verdict = forms.ChoiceField(
        label=_("Avis"),
        choices=AcceptanceReport.Verdict.choices,
        widget=forms.RadioSelect,
    )
    reserves = forms.CharField(
        label=_("Réserves"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    reserved_defects = forms.ModelMultipleChoiceField(
        label=_("Anomalies ouvertes mises en réserve"),
        queryset=Defect.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, change_request, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reserved_defects"].queryset = Defect.objects.filter(
            change_request=change_request, status__in=Defect.UNRESOLVED
        )


class SignatureForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=[("sign", _("Signer l'accord")), ("refuse", _("Refuser l'accord"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Motif du refus"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password = forms.CharField(
        label=_("Votre mot de passe (confirmation de signature)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # Refusing is a signed decision too: both ask for the password and a code.
    otp_token = OneTimeCodeField(
        label=_("Code à 6 chiffres de votre application d'authentification")
    )


class DefectForm(forms.Form):
    title = forms.CharField(label=_("Intitulé"), max_length=300)
    severity = forms.ChoiceField(
        label=_("Gravité"), choices=Defect.Severity.choices, widget=forms.RadioSelect
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    executions = forms.ModelMultipleChoiceField(
        label=_("Exécutions concernées"),
        queryset=Execution.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, change_request, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["executions"]
        field.queryset = (
            Execution.objects.filter(
                campaign__change_request=change_request,
                result__in=[Execution.Result.FAILED, Execution.Result.BLOCKED],
            )
            .select_related("case", "campaign")
            .order_by("-executed_at")
        )
        field.label_from_instance = lambda e: (
            f"{e.case.reference} – {e.get_result_display()} "
            f"({_('campagne')} {e.campaign.number})"
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label=_("Preuve (capture, export…)"), validators=[validate_upload_size]
    )


class AssignmentForm(forms.Form):
    tester = forms.ModelChoiceField(label=_("Testeur"), queryset=None)
    cases = forms.MultipleChoiceField(
        label=_("Cas à lui confier"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, campaign, **kwargs):
        from django.contrib.auth import get_user_model

        super().__init__(*args, **kwargs)
        self.fields["tester"].queryset = (
            get_user_model()
            .objects.filter(
                memberships__organisation=campaign.organisation,
                memberships__role="testeur",
                is_active=True,
            )
            .distinct()
            .order_by("last_name")
        )
        self.fields["tester"].label_from_instance = lambda u: u.get_full_name()
        self.fields["cases"].choices = [
            (str(cc.case_id), f"{cc.case.reference} – {cc.case.title}")
            for cc in campaign.campaign_cases.select_related("case").order_by(
                "case__position"
            )
        ]


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier des cas de test (CSV ou XLSX)"),
        validators=[validate_upload_size],
        help_text=_(
            "Colonnes : référence, titre, objectif, priorité, préconditions, section, "
            "étape, action, résultat attendu."
        ),
    )


class CaseForm(forms.Form):
    reference = forms.CharField(label=_("Référence"), max_length=50)
    title = forms.CharField(label=_("Intitulé"), max_length=300)
    objective = forms.CharField(
        label=_("Objectif"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    priority = forms.ChoiceField(
        label=_("Priorité"), choices=TestCase.Priority.choices, initial="moyenne"
    )
    preconditions = forms.CharField(
        label=_("Préconditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    section = forms.CharField(
        label=_("Section du cahier des charges"), required=False, max_length=100
    )


class StepForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=4000)
    expected = forms.CharField(
        label=_("Résultat attendu"), required=False, max_length=4000
    )


StepFormSet = forms.formset_factory(StepForm, extra=6, max_num=50)
