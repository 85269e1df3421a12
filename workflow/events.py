"""The events of both processes that reach someone, and who they reach.

Each event of a change request is announced with one headline; `announce()` writes
its notification rows (see workflow.notifications) in the caller's transaction.
Messages only ever speak of the change request concerned.
"""

from django.utils.translation import gettext_lazy as _

from contacts.models import ContactPoint, Role
from workflow import routing
from workflow.notifications import notify

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
    "plan_submitted": _("Le plan de recette est à valider."),
    "plan_decided": _("Le client a rendu sa décision sur le plan de recette."),
    "plan_reopened": _(
        "Le plan de recette validé est rouvert : sa nouvelle version sera à valider."
    ),
    "qualification_recorded": _("La qualification technique est enregistrée."),
    "defect_opened": _("Une anomalie est ouverte."),
    "report_submitted": _(
        "Le bilan de recette est déposé : l'accord de mise en production attend les "
        "signatures des deux DSI."
    ),
    "agreement_signed": _("Une DSI a signé l'accord de mise en production."),
    "agreement_refused": _("L'accord de mise en production est refusé."),
    "go_live": _("L'évolution est en production : les deux DSI ont signé."),
}


def announce(
    kind: str,
    change_request,
    *,
    key: object,
    recipients,
    comment: str = "",
    link: str | None = None,
) -> int:
    """Write the messages of one event about a change request."""
    return notify(
        event=f"{kind}:{change_request.pk}:{key}",
        kind="event",
        organisation=change_request.organisation,
        recipients=recipients,
        context={
            "cr": change_request,
            "headline": HEADLINES[kind],
            "comment": comment,
        },
        link=link if link is not None else change_request.get_absolute_url(),
    )


def client(change_request, role: Role) -> list:
    """Holders of a client role in the request's organisation."""
    return routing.role_holders(role, change_request.organisation)


def supplier(role: Role) -> list:
    """Holders of a supplier role."""
    return routing.role_holders(role, routing.supplier())


def order_owner(change_request) -> list:
    """The supplier's owner of the request, when named."""
    user = change_request.order_owner
    return [routing.Recipient(user.email, user)] if user and user.email else []


def client_contacts(change_request, subject: str) -> list:
    """The client's contact points for a subject (annexe 3.1)."""
    return routing.contact_points(change_request.organisation, subject)


ROLLOUT = ContactPoint.Subject.EVOLUTION_ROLLOUT
