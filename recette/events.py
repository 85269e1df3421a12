"""The events of an acceptance that reach someone: their kinds and headlines
(registered with the engine by RecetteConfig.ready())."""

from django.utils.translation import gettext_lazy as _

HEADLINES = {
    "plan_submitted": _("Le plan de recette est à valider."),
    "plan_decided": _("Le client a rendu sa décision sur le plan de recette."),
    "plan_reopened": _(
        "Le plan de recette validé est rouvert : sa nouvelle version sera à valider."
    ),
    "qualification_recorded": _("La qualification technique est enregistrée."),
    "defect_opened": _("Une anomalie est ouverte."),
    "defect_commented": _("Un message est écrit sur une anomalie."),
    "report_submitted": _(
        "Le bilan de recette est déposé : l'accord de mise en production attend les "
        "signatures des deux DSI."
    ),
    "agreement_signed": _("Une DSI a signé l'accord de mise en production."),
    "agreement_refused": _("L'accord de mise en production est refusé."),
    "go_live": _("L'évolution est en production : les deux DSI ont signé."),
}
