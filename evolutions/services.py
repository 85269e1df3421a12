"""Writes on change requests: each service checks the actor's role for the request's
organisation, locks the row, fires one lifecycle transition and records it."""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.status import PROCESS

from contacts.models import ContactPoint, Organisation, Role
from evolutions import signals
from evolutions.models import (
    Attachment,
    ChangeRequest,
    Comment,
    EvolutionProcess,
    Quote,
    ReferenceSequence,
    Release,
    ReleaseAnnouncement,
    SpecificationVersion,
)
from workflow import access, consistency, events, routing
from workflow.locking import process_locked
from workflow.notifications import notify
from workflow.transitions import ActionRefused, fire, required_text
from workflow.uploads import (
    files_removed_on_failure,
    safe_download_name,
    validate_upload,
    validate_uploads,
)

DRAFT_FIELDS = (
    "title",
    "kind",
    "data_flows",
    "description",
    "expected_benefit",
    "wished_date",
)


def _locked(pk: int) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().get(pk=pk)


@contextmanager
def _locked_with_process(pk: int):
    """The request and its process, the process's flow lock taken first."""
    from evolutions.flows import EvolutionFlow  # the flow imports the services

    process = EvolutionProcess.objects.filter(change_request_id=pk).first()
    with process_locked(EvolutionFlow, process):
        change_request = _locked(pk)
        # Read again under the row lock: a first submission may have just started it.
        process = EvolutionProcess.objects.filter(change_request_id=pk).first()
        yield change_request, process


def _close_process(process) -> None:
    """Cancel the open tasks of a request that was declined or withdrawn."""
    from evolutions.flows import EvolutionFlow

    if process is not None and process.status not in (PROCESS.DONE, PROCESS.CANCELED):
        EvolutionFlow.instance.cancel(process)


def _allocate_reference(organisation: Organisation, year: int) -> str:
    """Next reference of the organisation for the year, e.g. EVO-23-2027-0042."""
    try:
        with transaction.atomic():
            ReferenceSequence.objects.get_or_create(
                organisation=organisation, year=year
            )
    except IntegrityError:
        pass  # created meanwhile by a concurrent request: lock it below
    sequence = ReferenceSequence.objects.select_for_update().get(
        organisation=organisation, year=year
    )
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"EVO-{organisation.code}-{year}-{sequence.last_number:04d}"


ATTACHING_ROLES = (
    Role.PORTEUR_DEMANDE,
    Role.CONTACT_EVOLUTIONS,
    Role.PORTEUR_COMMANDE,
    Role.MOE,
)
DECLINING_ROLES = (Role.CONTACT_EVOLUTIONS, Role.PORTEUR_COMMANDE)
EDITABLE = (ChangeRequest.Status.DRAFT, ChangeRequest.Status.INFO_REQUESTED)


def allowed_actions(user, change_request: ChangeRequest) -> set[str]:
    """The page actions the user may take on the request now (the services check
    the same roles and states again when the action is posted)."""
    organisation = change_request.organisation
    status = change_request.status
    actions = set()
    if access.may_act(user, Role.PORTEUR_DEMANDE, organisation):
        if status in EDITABLE:
            actions.add("edit")
        if status == ChangeRequest.Status.DRAFT:
            actions.add("submit")
        if change_request.withdraw.can_proceed():
            actions.add("withdraw")
    if access.may_act_any(user, DECLINING_ROLES, organisation) and (
        change_request.decline.can_proceed()
    ):
        actions.add("decline")
    if access.may_act_any(user, ATTACHING_ROLES, organisation) and (
        status not in ChangeRequest.CLOSED
    ):
        actions.add("attach")
    return actions


def attachment_add(*, pk: int, by, uploaded) -> Attachment:
    """Join a file to a change request (checked type, size and content)."""
    return attachments_add(pk=pk, by=by, files=[uploaded])[0]


def attachments_add(*, pk: int, by, files: Sequence[UploadedFile]) -> list[Attachment]:
    """Join files to a change request, all or none (each checked: type, size and
    content; their number and total size)."""
    if not files:
        raise ValidationError(_("Choisissez au moins un fichier."), code="required")
    validate_uploads(files)  # before taking the lock: reading can be slow
    with files_removed_on_failure() as stored, transaction.atomic():
        change_request = _locked(pk)
        access.require_any_role(by, ATTACHING_ROLES, change_request.organisation)
        if change_request.status in ChangeRequest.CLOSED:
            raise ActionRefused(
                _("La demande est close : on ne peut plus y joindre de fichier.")
            )
        return _store_attachments(change_request, files, by=by, stored=stored)


def _store_attachments(change_request, files, *, by, stored) -> list[Attachment]:
    """Keep the files on disk and their rows; `stored` notes each file kept."""
    attachments = []
    for uploaded in files:
        attachment = Attachment(change_request=change_request)
        attachment.store(uploaded, by=by)
        stored(attachment.file)
        attachment.save()
        attachments.append(attachment)
    return attachments


def comment_add(*, pk: int, by, body: str) -> Comment:
    """Anyone holding a role on the request's organisation writes a message on it."""
    body = required_text(body, _("Le message est vide."))
    change_request = ChangeRequest.objects.select_related("organisation").get(pk=pk)
    access.require_any_role(by, list(Role), change_request.organisation)
    return Comment.objects.create(change_request=change_request, author=by, body=body)


def change_request_create(
    *,
    by,
    organisation: Organisation,
    attachments: Sequence[UploadedFile] = (),
    **fields,
) -> ChangeRequest:
    """The client's request owner starts a needs expression (a draft), with the
    files joined to it, if any: all stored with the request, or nothing."""
    access.require_role(by, Role.PORTEUR_DEMANDE, organisation)
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")
    if attachments:
        try:
            validate_uploads(attachments)
        except ValidationError as error:
            raise ValidationError({"attachments": error.error_list}) from None
    with files_removed_on_failure() as stored, transaction.atomic():
        change_request = ChangeRequest(
            organisation=organisation, request_owner=by, **fields
        )
        change_request.reference = _allocate_reference(
            organisation, timezone.localdate().year
        )
        change_request.full_clean(
            exclude=["status"]
        )  # protected: moved by transitions only
        change_request.save()
        _store_attachments(change_request, attachments, by=by, stored=stored)
    return change_request


def change_request_update(*, pk: int, by, **fields) -> ChangeRequest:
    """The request owner edits the needs expression while it is theirs to edit."""
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        if change_request.status not in EDITABLE:
            raise ValidationError(
                _("L'expression de besoin ne peut plus être modifiée une fois soumise.")
            )
        for name, value in fields.items():
            if name not in DRAFT_FIELDS:
                raise TypeError(f"unexpected field: {name}")
            setattr(change_request, name, value)
        change_request.full_clean(
            exclude=["status"]
        )  # protected: moved by transitions only
        change_request.save()
    return change_request


def change_request_submit(*, pk: int, by, comment: str = "") -> ChangeRequest:
    """The client submits the draft needs expression to the supplier (it starts
    EvolutionFlow)."""
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        if change_request.status != ChangeRequest.Status.DRAFT:
            # A tab opened before the first submission: nothing to submit now. A
            # request sent back for information is resubmitted by its task.
            raise ActionRefused(
                _(
                    "Cette demande n'est plus un brouillon (« %(state)s ») : elle a "
                    "déjà été soumise."
                )
                % {"state": change_request.get_status_display()}
            )
        _require_data_flows(change_request)
        log = fire(change_request, "submit", by=by, comment=comment)
        change_request.submitted_at = timezone.now()
        change_request.save(update_fields=["submitted_at"])
        from evolutions.flows import EvolutionFlow  # the flow imports the services

        EvolutionFlow.start.run(change_request=change_request)
        _announce_submission(change_request, log)
    return change_request


def change_request_resubmit(*, pk: int, by, comment: str = "") -> ChangeRequest:
    """The client sends the completed needs expression back to the supplier: the
    flow's "complete information" task, and nothing else, does it."""
    from evolutions.flows import EvolutionFlow

    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        process = EvolutionProcess.objects.filter(change_request_id=pk).first()
        consistency.require_step(
            process,
            EvolutionFlow.complete_information,
            action=_("Soumettre à nouveau"),
        )
        _require_data_flows(change_request)
        log = fire(change_request, "resubmit", by=by, comment=comment)
        change_request.submitted_at = timezone.now()
        change_request.save(update_fields=["submitted_at"])
        _announce_submission(change_request, log)
    return change_request


def _require_data_flows(change_request: ChangeRequest) -> None:
    if not change_request.data_flows:
        raise ValidationError({"data_flows": _("Indiquez au moins un flux concerné.")})


def _announce_submission(change_request: ChangeRequest, log) -> None:
    supplier = routing.supplier()
    notify(
        event=f"cr_submitted:{change_request.pk}:{log.pk}",
        kind="cr_submitted",
        organisation=change_request.organisation,
        recipients=[
            *routing.role_holders(Role.CONTACT_EVOLUTIONS, supplier),
            *routing.contact_points(supplier, ContactPoint.Subject.NEEDS_EXPRESSION),
        ],
        context={"cr": change_request},
        link=change_request.get_absolute_url(),
    )


def change_request_request_information(*, pk: int, by, question: str) -> ChangeRequest:
    """The supplier's contact asks the client for more information."""
    question = required_text(question, _("Précisez les informations attendues."))
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.CONTACT_EVOLUTIONS, change_request.organisation)
        log = fire(change_request, "request_information", by=by, comment=question)
        events.announce(
            "cr_info_requested",
            change_request,
            key=log.pk,
            comment=question,
            recipients=events.client(change_request, Role.PORTEUR_DEMANDE),
        )
    return change_request


def _attach_document(record, document) -> None:
    """Store a document (validated by the caller) on a specification or a quote."""
    if document is None:
        return
    name = safe_download_name(document.name)
    record.document_name = name
    record.document.save(name, document, save=False)


def change_request_acknowledge(*, pk: int, by, order_owner) -> ChangeRequest:
    """The supplier's contact takes the request into account and names its owner."""
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.CONTACT_EVOLUTIONS, change_request.organisation)
        supplier = Organisation.objects.get(kind=Organisation.Kind.SUPPLIER)
        access.forget_memberships(order_owner)
        if not access.may_act(order_owner, Role.PORTEUR_COMMANDE, supplier):
            raise ValidationError(
                _("Le porteur de la commande doit avoir ce rôle à la CNAF.")
            )
        log = fire(change_request, "acknowledge", by=by, order_owner=order_owner)
        events.announce(
            "cr_acknowledged",
            change_request,
            key=log.pk,
            recipients=[
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.order_owner(change_request),
            ],
        )
    return change_request


def change_request_decline(*, pk: int, by, reason: str) -> ChangeRequest:
    """The supplier declines the request, with a mandatory reason."""
    reason = required_text(reason, _("Le motif du refus est obligatoire."))
    with _locked_with_process(pk) as (change_request, process):
        access.require_any_role(by, DECLINING_ROLES, change_request.organisation)
        log = fire(change_request, "decline", by=by, comment=reason, reason=reason)
        events.announce(
            "cr_declined",
            change_request,
            key=log.pk,
            comment=reason,
            recipients=events.client(change_request, Role.PORTEUR_DEMANDE),
        )
        _close_process(process)
    return change_request


def change_request_withdraw(*, pk: int, by, reason: str) -> ChangeRequest:
    """The client withdraws the request before manufacture, with a mandatory reason."""
    reason = required_text(reason, _("Le motif du retrait est obligatoire."))
    with _locked_with_process(pk) as (change_request, process):
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        log = fire(change_request, "withdraw", by=by, comment=reason, reason=reason)
        events.announce(
            "cr_withdrawn",
            change_request,
            key=log.pk,
            comment=reason,
            recipients=[
                *events.order_owner(change_request),
                *events.supplier(Role.CONTACT_EVOLUTIONS),
            ],
        )
        _close_process(process)
    return change_request


def specification_issue(
    *, pk: int, by, summary: str, document=None
) -> SpecificationVersion:
    """The order owner issues a new version of the specification."""
    summary = required_text(
        summary, _("Le résumé du cahier des charges est obligatoire.")
    )
    if document is not None:
        validate_upload(document)
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_COMMANDE, change_request.organisation)
        log = fire(change_request, "issue_specification", by=by)
        events.announce(
            "spec_issued",
            change_request,
            key=log.pk,
            recipients=events.client(change_request, Role.PORTEUR_DEMANDE),
        )
        version = change_request.specifications.count() + 1
        specification = SpecificationVersion(
            change_request=change_request, version=version, summary=summary, author=by
        )
        _attach_document(specification, document)
        specification.save()
    return specification


def specification_decide(
    *, pk: int, by, validated: bool, comment: str = ""
) -> SpecificationVersion:
    """The client validates the latest specification or sends it back with comments."""
    if not validated:
        comment = required_text(
            comment, _("Expliquez ce qui doit être repris dans le cahier des charges.")
        )
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        transition = (
            "validate_specification" if validated else "send_back_specification"
        )
        log = fire(change_request, transition, by=by, comment=comment)
        events.announce(
            "spec_decided",
            change_request,
            key=log.pk,
            comment=comment,
            recipients=events.order_owner(change_request),
        )
        specification = change_request.specifications.select_for_update().last()
        specification.record_decision(
            SpecificationVersion.Decision.VALIDATED
            if validated
            else SpecificationVersion.Decision.SENT_BACK,
            comment=comment,
            by=by,
        )
    return specification


def quote_issue(
    *,
    pk: int,
    by,
    man_days: Decimal,
    amount: Decimal,
    valid_until: date,
    document=None,
) -> Quote:
    """The order owner issues a quote (a new version after a refusal)."""
    errors = {}
    if man_days is None or man_days <= 0:
        errors["man_days"] = _("La charge doit être un nombre de jours positif.")
    if amount is None or amount < 0:
        errors["amount"] = _("Le montant ne peut pas être négatif.")
    if valid_until is None or valid_until <= timezone.localdate():
        errors["valid_until"] = _("La date de validité doit être dans le futur.")
    if document is not None:
        try:
            validate_upload(document)
        except ValidationError as error:
            errors["document"] = error.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_COMMANDE, change_request.organisation)
        log = fire(change_request, "issue_quote", by=by)
        events.announce(
            "quote_issued",
            change_request,
            key=log.pk,
            recipients=events.client(change_request, Role.PORTEUR_DEMANDE),
        )
        quote = Quote(
            change_request=change_request,
            version=change_request.quotes.count() + 1,
            man_days=man_days,
            amount=amount,
            valid_until=valid_until,
            author=by,
        )
        _attach_document(quote, document)
        quote.save()
    return quote


def quote_decide(*, pk: int, by, accepted: bool, comment: str = "") -> Quote:
    """The client accepts the latest quote, or refuses it with a reason."""
    if not accepted:
        comment = required_text(
            comment, _("Le motif du refus du devis est obligatoire.")
        )
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        quote = change_request.quotes.select_for_update().last()
        if accepted and quote is not None and quote.valid_until < timezone.localdate():
            raise ValidationError(
                _("Ce devis a expiré le %(date)s : demandez un devis révisé.")
                % {"date": quote.valid_until.strftime("%d/%m/%Y")}
            )
        log = fire(
            change_request,
            "accept_quote" if accepted else "refuse_quote",
            by=by,
            comment=comment,
        )
        events.announce(
            "quote_decided",
            change_request,
            key=log.pk,
            comment=comment,
            recipients=events.order_owner(change_request),
        )
        quote.record_decision(
            Quote.Decision.ACCEPTED if accepted else Quote.Decision.REFUSED,
            comment=comment,
            by=by,
        )
    return quote


def release_propose(
    *, pk: int, by, release: Release, comment: str = ""
) -> ChangeRequest:
    """The order owner proposes the release the request should be planned into."""
    if release.production_date < timezone.localdate():
        raise ValidationError(
            _("La version %(number)s est déjà passée en production.")
            % {"number": release.number}
        )
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_COMMANDE, change_request.organisation)
        log = fire(
            change_request, "propose_release", by=by, comment=comment, release=release
        )
        events.announce(
            "release_proposed",
            change_request,
            key=log.pk,
            comment=comment or str(release),
            recipients=events.client(change_request, Role.PORTEUR_DEMANDE),
        )
    return change_request


def release_decide(*, pk: int, by, confirmed: bool, comment: str = "") -> ChangeRequest:
    """The client confirms the proposed release, or asks for another one."""
    if not confirmed:
        comment = required_text(
            comment, _("Indiquez pourquoi une autre version est demandée.")
        )
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.PORTEUR_DEMANDE, change_request.organisation)
        log = fire(
            change_request,
            "confirm_release" if confirmed else "ask_another_release",
            by=by,
            comment=comment,
        )
        events.announce(
            "release_decided",
            change_request,
            key=log.pk,
            comment=comment,
            recipients=[
                *events.order_owner(change_request),
                *events.supplier(Role.MOE),
            ],
        )
    return change_request


def manufacture_start(*, pk: int, by, comment: str = "") -> ChangeRequest:
    """The project team starts manufacturing a planned request."""
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.MOE, change_request.organisation)
        fire(change_request, "start_manufacture", by=by, comment=comment)
    return change_request


def manufacture_finish(*, pk: int, by, comment: str = "") -> ChangeRequest:
    """The project team marks manufacture done; what follows (the acceptance
    process) is started by the receivers of `signals.manufacture_finished`."""
    with transaction.atomic():
        change_request = _locked(pk)
        access.require_role(by, Role.MOE, change_request.organisation)
        log = fire(change_request, "finish_manufacture", by=by, comment=comment)
        events.announce(
            "manufacture_done",
            change_request,
            key=log.pk,
            comment=comment,
            recipients=[
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.client_contacts(change_request, events.ROLLOUT),
                *events.order_owner(change_request),
            ],
        )
        signals.manufacture_finished.send(
            sender=ChangeRequest, change_request=change_request
        )
    return change_request


ANNOUNCING_ROLES = (Role.PORTEUR_COMMANDE, Role.CONTACT_EVOLUTIONS)


def announcement_create(
    *,
    by,
    release: Release,
    kind: str,
    title: str,
    changes: str,
    schedule: str,
    client_actions: str = "",
) -> ReleaseAnnouncement:
    """The supplier drafts an announcement of a release for every client."""
    access.require_any_role(by, ANNOUNCING_ROLES, routing.supplier())
    if kind not in ReleaseAnnouncement.Kind.values:
        raise ValidationError({"kind": _("Type d'annonce inconnu.")})
    return ReleaseAnnouncement.objects.create(
        release=release,
        kind=kind,
        title=required_text(title, _("Le titre de l'annonce est obligatoire.")),
        changes=required_text(changes, _("Indiquez ce qui change.")),
        schedule=required_text(schedule, _("Indiquez quand cela change.")),
        client_actions=client_actions.strip(),
        author=by,
    )


def announcement_publish(*, pk: int, by) -> int:
    """Publish an announcement to the DSI and webmaster of every client (annexe 3).

    Each client gets its own message, about itself only; publishing twice sends
    nothing more. Returns how many messages were written.
    """
    supplier = routing.supplier()
    access.require_any_role(by, ANNOUNCING_ROLES, supplier)
    with transaction.atomic():
        announcement = (
            ReleaseAnnouncement.objects.select_for_update()
            .select_related("release")
            .get(pk=pk)
        )
        if announcement.published_at is None:
            announcement.published_at = timezone.now()
            announcement.save(update_fields=["published_at"])
        written = 0
        for client in Organisation.objects.filter(kind=Organisation.Kind.CLIENT):
            written += notify(
                event=f"announcement:{announcement.pk}:{client.code}",
                kind="announcement",
                organisation=client,
                recipients=routing.contact_points(client, announcement.kind),
                context={"announcement": announcement},
                link=reverse("evolutions:roadmap"),
            )
    return written
