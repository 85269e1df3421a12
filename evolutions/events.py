"""The events of a change request that reach someone: their kinds and headlines
(registered with the engine by EvolutionsConfig.ready())."""

from django.utils.translation import gettext_lazy as _

HEADLINES = {
    "cr_info_requested": _("Le point de contact évolutions demande un complément."),
    "cr_acknowledged": _(
        "La demande est prise en compte ; son porteur de la commande est nommé."
    ),
    "cr_declined": _("La demande est déclinée par le fournisseur."),
    "cr_withdrawn": _("La demande est retirée par le client."),
    "spec_issued": _("Un cahier des charges est à valider."),
    "spec_decided": _("Le client a rendu sa décision sur le cahier des charges."),
    "quote_issued": _("Un devis est à accepter ou refuser."),
    "quote_decided": _("Le client a rendu sa décision sur le devis."),
    "release_proposed": _("Une version majeure est proposée pour la demande."),
    "release_decided": _("Le client a rendu sa décision sur la version proposée."),
    "manufacture_done": _("La fabrication est terminée : la recette commence."),
}
