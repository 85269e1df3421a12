"""Firing a lifecycle transition: check it is legal, apply it, record it."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _
from viewflow.fsm import TransitionNotAllowed

from workflow import audit, statements
from workflow.models import AuditEntry, TransitionLog


class ActionRefused(Exception):
    """A legal-looking request the current state of the object does not allow.

    Carries a French message for the user. Views let it propagate (rolling back
    their transaction): workflow.refusals.RefusalMiddleware answers it with a 409
    naming `subject` ("Retour à …", attached by workflow.refusals.refusal_about)
    and `link`/`link_label`, where the user can lift the obstacle.
    """

    subject = None
    link = None
    link_label = ""

    def __init__(self, message="", *, subject=None, link=None, link_label=None):
        super().__init__(message)
        # Only what is given: a subclass may set link/link_label itself.
        if subject is not None:
            self.subject = subject
        if link is not None:
            self.link = link
        if link_label is not None:
            self.link_label = link_label


def required_text(text: str, message: str) -> str:
    """`text` stripped, or a ValidationError with `message` when it is blank.

    A reason or a comment that the rules make mandatory (a refusal, a withdrawal…).
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError(message)
    return text


def fire(
    obj: models.Model,
    transition_name: str,
    *,
    by,
    comment: str = "",
    state_field: str = "status",
    **kwargs,
) -> TransitionLog:
    """Fire `obj.<transition_name>(**kwargs)`, save `obj` and log the move.

    Must run inside the caller's transaction, with `obj` locked (select_for_update)
    so that two concurrent actions cannot both start from the same state.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("fire() must run inside transaction.atomic()")
    source = getattr(obj, state_field)
    method = getattr(obj, transition_name)
    try:
        method(**kwargs)
    except TransitionNotAllowed:
        label = obj._meta.get_field(state_field).flatchoices
        raise ActionRefused(
            _("Action impossible dans l'état actuel (« %(state)s »).")
            % {"state": dict(label).get(source, source)}
        ) from None
    obj.save()
    return log_move(
        obj,
        transition_name,
        source=source,
        target=getattr(obj, state_field),
        by=by,
        comment=comment,
    )


def log_move(obj, transition: str, *, source: str, target: str, by, comment=""):
    """Journal a move of `obj` (the audit chain) and add it to its history: what
    fire() records of a transition, and of a move no transition makes (an object
    created in its first state, source "")."""
    audit.record(
        AuditEntry.Action.TRANSITION,
        by=by,
        subject=obj,
        transition=transition,
        source=source,
        target=target,
        comment=comment,
    )
    return TransitionLog.objects.create(
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        organisation_id=obj.organisation_id,
        transition=transition,
        source=source,
        target=target,
        by=by,
        comment=comment,
    )


def history_list(obj: models.Model) -> list[TransitionLog]:
    """history_of(obj) read whole, its statement compiled once per model (a
    page shows it: workflow.statements.shaped)."""
    return statements.shaped(
        ("history_of", obj._meta.label),
        TransitionLog,
        _history,
        ContentType.objects.get_for_model(obj).pk,
        obj.pk,
    )


def history_of(obj: models.Model):
    """The recorded transitions of `obj`, oldest first."""
    return _history(ContentType.objects.get_for_model(obj).pk, obj.pk)


def _history(content_type_id: int, object_id: int):
    return TransitionLog.objects.filter(
        content_type_id=content_type_id, object_id=object_id
    ).select_related("by")
