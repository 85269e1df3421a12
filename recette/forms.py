"""Forms of the acceptance tasks; they declare only what the actor may enter."""

from django import forms
from django.utils.translation import gettext_lazy as _

from recette.models import AcceptanceReport, Campaign, Defect, Execution, TestCase
from recette.services.cases import MAX_STEPS
from workflow.forms import OneTimeCodeField
from workflow.uploads import MultipleFileField, validate_upload_size


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
            "étape, action, résultat attendu. Ajoute les cas du fichier et met à "
            "jour ceux de même référence ; les autres cas du plan sont gardés. Pour "
            "voir l'aperçu avant d'enregistrer, ou remplacer tous les cas, passez "
            "par « Importer des cas ». Un fichier avec des erreurs n'enregistre "
            "rien et liste chaque ligne fautive."
        ),
    )
    margin_justification = forms.CharField(
        label=_("Justification du dépassement de la marge"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Obligatoire si la recette finit moins de jours ouvrés avant la mise en "
            "production que la marge demandée : le client la lit avant de valider."
        ),
    )


class DecisionForm(forms.Form):
    decision = forms.TypedChoiceField(
        label=_("Décision"),
        coerce=lambda value: value == "yes",
        choices=[
            ("yes", _("Valider le plan")),
            ("no", _("Renvoyer le plan avec des commentaires")),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Commentaire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire pour renvoyer le plan : ce qui doit être repris."),
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
        choices=[
            ("sign", _("Signer l'accord de mise en production")),
            ("refuse", _("Refuser l'accord")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Motif du refus"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire pour refuser l'accord."),
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
    """A defect as a tester describes it: where it was found, what was expected and
    observed, how to reproduce it, and the files that show it."""

    title = forms.CharField(label=_("Intitulé"), max_length=300)
    severity = forms.ChoiceField(
        label=_("Gravité"),
        choices=Defect.Severity.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Bloquante : empêche la mise en production. Majeure : doit être corrigée "
            "ou inscrite en réserve. Mineure : gêne sans empêcher l'usage."
        ),
    )
    campaign = forms.ModelChoiceField(
        label=_("Campagne"), queryset=Campaign.objects.none(), required=False
    )
    case = forms.ModelChoiceField(
        label=_("Cas de test"), queryset=TestCase.objects.none(), required=False
    )
    step = forms.IntegerField(
        label=_("Étape du cas"), min_value=1, max_value=32767, required=False
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    steps_to_reproduce = forms.CharField(
        label=_("Étapes pour reproduire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    expected = forms.CharField(
        label=_("Résultat attendu"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    observed = forms.CharField(
        label=_("Résultat observé"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    executions = forms.ModelMultipleChoiceField(
        label=_("Exécutions concernées"),
        queryset=Execution.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    files = MultipleFileField(label=_("Captures et fichiers"), required=False)

    def __init__(self, *args, change_request, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = change_request.campaigns.order_by("number")
        self.fields["campaign"].label_from_instance = lambda c: (
            f"{c.get_kind_display()} {c.number}"
        )
        self.fields["case"].queryset = TestCase.objects.filter(
            plan__change_request=change_request
        ).order_by("position")
        self.fields["case"].label_from_instance = lambda c: f"{c.reference} – {c.title}"
        field = self.fields["executions"]
        field.queryset = (
            Execution.objects.filter(
                campaign__change_request=change_request,
                result__in=[Execution.Result.FAILED, Execution.Result.BLOCKED],
            )
            .select_related("case", "campaign")
            .order_by("-executed_at")
        )
        # Outside the f-string: makemessages does not read calls inside one.
        campaign = _("campagne")
        field.label_from_instance = lambda e: (
            f"{e.case.reference} – {e.get_result_display()} "
            f"({campaign} {e.campaign.number})"
        )


class DefectCommentForm(forms.Form):
    text = forms.CharField(
        label=_("Votre message"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DefectFilesForm(forms.Form):
    files = MultipleFileField(label=_("Fichiers à joindre"))


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
            "étape, action, résultat attendu. Rien n'est enregistré avant l'aperçu : "
            "il dit quels cas seront ajoutés, modifiés (même référence, autre "
            "contenu) ou supprimés, et vous choisissez « Ajouter et mettre à "
            "jour » (les cas absents du fichier sont gardés) ou « Remplacer tous "
            "les cas » (ils sont supprimés). Un cas déjà joué en campagne garde ses "
            "étapes et reste dans le plan."
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
    """One step of a case; a step left empty is ignored."""

    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    expected = forms.CharField(
        label=_("Résultat attendu"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self):
        data = super().clean()
        action, expected = data.get("action", ""), data.get("expected", "")
        if action.strip() and not expected.strip():
            self.add_error("expected", _("Indiquez le résultat attendu de l'étape."))
        elif expected.strip() and not action.strip():
            self.add_error("action", _("Indiquez l'action de l'étape."))
        return data


class BaseStepFormSet(forms.BaseFormSet):
    """A case's steps, as many as it has (up to MAX_STEPS): `blank` empty steps
    after the `initial` ones (three for a new case)."""

    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_many_forms": _("Un cas a au plus %(num)d étapes."),
    }

    def __init__(self, *args, blank: int = 3, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = blank

    def rows(self) -> list[tuple[str, str]]:
        """The (action, expected) of every step typed in, in order."""
        return [
            (form.cleaned_data.get("action", ""), form.cleaned_data.get("expected", ""))
            for form in self.forms
            if form.cleaned_data
        ]


StepFormSet = forms.formset_factory(
    StepForm,
    formset=BaseStepFormSet,
    extra=0,
    max_num=MAX_STEPS,
    absolute_max=MAX_STEPS,
    validate_max=True,
)
