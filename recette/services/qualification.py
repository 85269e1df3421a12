"""The technical qualification the project team records before any delivery."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import Role
from evolutions.models import ChangeRequest
from recette.models import Qualification
from recette.services._common import _acceptance_link
from workflow import access, events
from workflow.uploads import safe_download_name, validate_upload


def qualification_record(
    *,
    change_request_pk: int,
    by,
    passed: bool,
    on: date,
    comment: str = "",
    report=None,
) -> Qualification:
    """The project team records a technical qualification (passed or failed)."""
    name = ""
    if report is not None:
        validate_upload(report)
        name = safe_download_name(report.name)
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_role(by, Role.MOE, change_request.organisation)
        qualification = Qualification(
            change_request=change_request,
            passed=passed,
            date=on,
            comment=comment,
            report_name=name,
            recorded_by=by,
        )
        if report is not None:
            qualification.report.save(name, report, save=False)
        qualification.save()
        events.announce(
            "qualification_recorded",
            change_request,
            key=qualification.pk,
            comment=_("Réussie") if passed else _("Échouée"),
            recipients=[
                *events.order_owner(change_request),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
            ],
            link=_acceptance_link(change_request),
        )
    return qualification
