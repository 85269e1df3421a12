"""The change-request list as a spreadsheet (CSV or XLSX): the requests the list
shows, under its filters, every page of it."""

from django.utils import timezone
from django.utils.translation import gettext as _

from evolutions.models import ChangeRequest
from evolutions.pages import filtered_change_requests
from workflow.exports import export_response, person_name
from workflow.labels import choice_labels

# Rows read from the database at a time (the export never holds them all).
CHUNK = 500
_FIELDS = (
    "reference",
    "title",
    "organisation__code",
    "organisation__name",
    "kind",
    "status",
    "release__number",
    "request_owner__first_name",
    "request_owner__last_name",
    "request_owner__username",
    "order_owner__first_name",
    "order_owner__last_name",
    "order_owner__username",
    "wished_date",
    "created_at",
    "submitted_at",
)


def change_request_export(request, fmt: str):
    """The list's requests (its filters, its order), one line each."""
    _filters, requests = filtered_change_requests(request)
    kinds = choice_labels(ChangeRequest.Kind)
    statuses = choice_labels(ChangeRequest.Status)
    header = (
        _("Référence"),
        _("Intitulé"),
        _("Organisme"),
        _("Nom de l'organisme"),
        _("Nature"),
        _("État"),
        _("Version"),
        _("Porteur de la demande"),
        _("Porteur de la commande"),
        _("Date souhaitée"),
        _("Créée le"),
        _("Soumise le"),
    )
    lines = requests.values_list(*_FIELDS).iterator(chunk_size=CHUNK)
    rows = (
        (
            *line[:4],
            kinds.get(line[4], line[4]),
            statuses.get(line[5], line[5]),
            line[6],
            person_name(*line[7:10]),
            person_name(*line[10:13]),
            *line[13:],
        )
        for line in lines
    )
    return export_response(
        fmt,
        filename=_("demandes-evolution-%(day)s")
        % {"day": timezone.localdate().isoformat()},
        header=header,
        rows=rows,
        sheet=_("Demandes d'évolution"),
    )
