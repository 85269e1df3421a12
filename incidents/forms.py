"""Forms of the incidents' pages and tasks. They declare only what the actor may
enter: a status, a level or an organisation sent in a forged POST is ignored
(the GSI's organisation field offers the clients only)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Organisation
from incidents.models import Incident

MOMENT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _moment(label, help_text=""):
    return forms.DateTimeField(
        label=label, required=False, widget=MOMENT, help_text=help_text
    )


def _text(label, rows=3, required=False, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class DeclarationForm(forms.Form):
    """Annexe 1: who reports and how to reach them, what happens, since when."""

    kind = forms.ChoiceField(
        label=_("Type"),
        choices=Incident.Kind.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Technique : le flux DSG, SGR ou GRO n'est pas arrivé, est altéré, ou "
            "plus aucun accès aux données. Fonctionnel : les données restituées "
            "sont incomplètes, incohérentes ou peu fiables."
        ),
    )
    gravity = forms.ChoiceField(
        label=_("Gravité"), choices=Incident.Gravity.choices, widget=forms.RadioSelect
    )
    domain = forms.CharField(
        label=_("Domaine ou application"),
        max_length=200,
        help_text=_("Par exemple : flux DSG, portail, SGR."),
    )
    description = _text(_("Description précise de l'anomalie"), rows=6, required=True)
    context = _text(_("Contexte"))
    impact = _text(_("Impact"))
    detected_at = _moment(
        _("Détecté le"), _("Incident technique : quand votre support l'a détecté.")
    )
    qualified_at = _moment(
        _("Qualifié le"),
        _("Incident fonctionnel : quand votre support l'a qualifié."),
    )
    earlier_number = forms.CharField(
        label=_("Numéro de dossier, si l'incident a déjà été signalé"),
        max_length=20,
        required=False,
        help_text=_("Par exemple INC-2026-00042."),
    )
    reporter_name = forms.CharField(label=_("Nom et prénom"), max_length=200)
    reporter_user_code = forms.CharField(
        label=_("Code utilisateur"), max_length=50, required=False
    )
    reporter_phone = forms.CharField(label=_("Téléphone"), max_length=30)
    reporter_email = forms.EmailField(label=_("Courriel"))
    reporter_hours = forms.CharField(
        label=_("Joignable"),
        max_length=200,
        required=False,
        help_text=_("Plage horaire où vous pouvez être joint, par exemple 9 h – 18 h."),
    )

    REPORTER = (
        "reporter_name",
        "reporter_user_code",
        "reporter_phone",
        "reporter_email",
        "reporter_hours",
    )


class GsiDeclarationForm(DeclarationForm):
    """What the GSI records from a call or an e-mail, for a client."""

    organisation = forms.ModelChoiceField(
        label=_("Conseil départemental"),
        queryset=Organisation.objects.filter(kind=Organisation.Kind.CLIENT).order_by(
            "code"
        ),
    )
    channel = forms.ChoiceField(
        label=_("Reçu par"),
        choices=[
            (Incident.Channel.PHONE, Incident.Channel.PHONE.label),
            (Incident.Channel.EMAIL, Incident.Channel.EMAIL.label),
        ],
        widget=forms.RadioSelect,
    )
    field_order = ["organisation", "channel"]


class TakeInForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=Incident.Kind.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Corrigez-le si la déclaration s'est trompée : les délais suivent."
        ),
    )
    gravity = forms.ChoiceField(
        label=_("Gravité"), choices=Incident.Gravity.choices, widget=forms.RadioSelect
    )
    comment = _text(
        _("Accusé de réception"),
        help_text=_("Ce que le client lit avec la prise en compte (facultatif)."),
    )


class HandleForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=[
            ("restore", _("Le service est rétabli")),
            ("escalate", _("Changer de niveau")),
        ],
        widget=forms.RadioSelect,
    )
    resolution = _text(
        _("Résolution"),
        help_text=_("Pour le service rétabli : ce qui a été fait. Le client le lit."),
    )
    level = forms.ChoiceField(
        label=_("Vers le niveau"),
        choices=[("", "—"), *Incident.Level.choices],
        required=False,
    )
    reason = _text(_("Motif du changement de niveau"))

    def __init__(self, *args, current_level: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [
            (value, label)
            for value, label in self.fields["level"].choices
            if value != current_level
        ]

    def clean(self):
        data = super().clean()
        if data.get("decision") == "restore" and not data.get("resolution", "").strip():
            self.add_error("resolution", _("Décrivez la résolution."))
        if data.get("decision") == "escalate":
            if not data.get("level"):
                self.add_error("level", _("Choisissez le niveau."))
            if not data.get("reason", "").strip():
                self.add_error("reason", _("Indiquez le motif de l'escalade."))
        return data


class ConfirmForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=[
            ("confirm", _("Le service est bien rétabli : clore l'incident")),
            ("reopen", _("Le service n'est pas rétabli")),
        ],
        widget=forms.RadioSelect,
    )
    reason = _text(
        _("Ce qui ne fonctionne toujours pas"),
        help_text=_("Si le service n'est pas rétabli."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reopen" and not data.get("reason", "").strip():
            self.add_error(
                "reason", _("Indiquez pourquoi le service n'est pas rétabli.")
            )
        return data


class MessageForm(forms.Form):
    body = _text(_("Message"), rows=4, required=True)


class WorkaroundForm(forms.Form):
    workaround_scope = forms.ChoiceField(
        label=_("Retour au service"),
        choices=Incident.WorkaroundScope.choices,
        widget=forms.RadioSelect,
    )
    workaround = _text(_("Solution de contournement"), required=True)


class InterruptionForm(forms.Form):
    interruption_start = forms.DateTimeField(label=_("Début"), widget=MOMENT)
    interruption_end = _moment(_("Fin"), _("Vide si l'interruption dure encore."))


class RecurringForm(forms.Form):
    recurring_of = forms.CharField(
        label=_("Récurrent de"),
        max_length=20,
        help_text=_("Le numéro de dossier d'un incident du même problème."),
    )


class IncidentFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("État"),
        choices=[("", _("Tous")), *Incident.Status.choices],
        required=False,
    )
    kind = forms.ChoiceField(
        label=_("Type"),
        choices=[("", _("Tous")), *Incident.Kind.choices],
        required=False,
    )
    level = forms.ChoiceField(
        label=_("Niveau"),
        choices=[("", _("Tous")), *Incident.Level.choices],
        required=False,
    )
    q = forms.CharField(label=_("Numéro ou mot"), max_length=100, required=False)

    def apply(self, incidents):
        if not self.is_valid():
            return incidents
        data = self.cleaned_data
        for name in ("status", "kind", "level"):
            if data.get(name):
                incidents = incidents.filter(**{name: data[name]})
        text = data.get("q", "").strip()
        if text:
            from django.db.models import Q

            incidents = incidents.filter(
                Q(number__icontains=text)
                | Q(domain__icontains=text)
                | Q(description__icontains=text)
            )
        return incidents
