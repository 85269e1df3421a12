"""Models shared by both processes."""

import hashlib

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.uploads import (
    opens_in_browser,
    private_storage,
    private_upload_to,
    safe_download_name,
    validate_upload,
)


class UserSession(AbstractBaseSession):
    """A session (django.contrib.sessions' columns) with its signed-in user's id
    beside the encoded data: the session and its user with their memberships are
    then read by one statement per request (workflow.sessions). Not a foreign
    key: a session naming a user removed meanwhile reads no user and is signed
    out, as Django's would be."""

    user_id = models.BigIntegerField(_("id utilisateur"), null=True, db_index=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")


class Heartbeat(models.Model):
    """The last time a background job ran: shows that the worker and beat are alive."""

    name = models.CharField(_("traitement"), max_length=100, unique=True)
    seen_at = models.DateTimeField(_("dernier passage"))
    hostname = models.CharField(_("machine"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("passage des traitements en arrière-plan")
        verbose_name_plural = _("passages des traitements en arrière-plan")

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class TransitionLog(models.Model):
    """One state change of a business object: who, when, from, to, why.

    Written in the same transaction as the change itself (workflow.transitions.fire).
    The organisation is copied here so that history reads are scoped like the rest.
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    organisation = models.ForeignKey(
        "contacts.Organisation",
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    transition = models.CharField(_("action"), max_length=100)
    source = models.CharField(_("état de départ"), max_length=50)
    target = models.CharField(_("état d'arrivée"), max_length=50)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(_("le"), default=timezone.now)
    comment = models.TextField(_("commentaire"), blank=True)

    class Meta:
        verbose_name = _("changement d'état")
        verbose_name_plural = _("historique des changements d'état")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self) -> str:
        return f"{self.transition}: {self.source} → {self.target}"

    def _state_label(self, value: str) -> str:
        # ContentType lookups are cached: no query per row.
        model = ContentType.objects.get_for_id(self.content_type_id).model_class()
        return dict(model._meta.get_field("status").flatchoices).get(value, value)

    @property
    def source_label(self) -> str:
        return self._state_label(self.source)

    @property
    def target_label(self) -> str:
        return self._state_label(self.target)


class StepDeadline(models.Model):
    """The deadline, in working days, of one human step of a process (editable).

    Steps without a row use the default their flow declares.
    """

    step = models.CharField(_("étape"), max_length=200, unique=True)
    working_days = models.PositiveSmallIntegerField(_("délai (jours ouvrés)"))

    class Meta:
        verbose_name = _("délai d'une étape")
        verbose_name_plural = _("délais des étapes")
        ordering = ["step"]

    def __str__(self) -> str:
        return f"{self.step} : {self.working_days} j"


class Notification(models.Model):
    """One message of one event to one recipient: the outbox.

    Written in the same transaction as the state change that causes it, unique per
    event and recipient; a Celery task sends it and records every attempt.
    """

    class State(models.TextChoices):
        PENDING = "a_envoyer", _("À envoyer")
        SENDING = "en_cours", _("En cours d'envoi")
        SENT = "envoye", _("Envoyé")
        FAILED = "echec", _("Abandonné après plusieurs échecs")

    event = models.CharField(_("événement"), max_length=200)
    kind = models.CharField(_("type"), max_length=60)
    organisation = models.ForeignKey(
        "contacts.Organisation",
        verbose_name=_("organisme concerné"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recipient_email = models.EmailField(_("destinataire"))
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur destinataire"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    subject = models.CharField(_("objet"), max_length=300)
    body_text = models.TextField(_("message"))
    body_html = models.TextField(_("message (HTML)"))
    link = models.CharField(_("lien"), max_length=300, blank=True)
    state = models.CharField(
        _("état"), max_length=20, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # After a failed attempt: not to be sent again before this (the back-off).
    retry_at = models.DateTimeField(_("nouvel essai le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    read_at = models.DateTimeField(_("lu le"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient_email"],
                name="workflow_notification_once_per_event_and_recipient",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["recipient_user", "read_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient_email}"

    @property
    def message_id(self) -> str:
        """Stable Message-ID: a re-sent copy is recognisable as the same message."""
        return f"<tandem-{self.pk}-{self.event.replace(':', '-')}@tandem.invalid>"


class AuditEntry(models.Model):
    """One link of the tamper-evident audit journal (workflow.audit).

    Append-only: no foreign keys (a deleted user or object must not touch the
    journal), the people and objects are copied as text.
    """

    class Action(models.TextChoices):
        TRANSITION = "transition", _("Changement d'état")
        SIGNATURE = "signature", _("Signature")
        DOCUMENT = "document", _("Document généré")
        DOWNLOAD = "telechargement", _("Téléchargement")
        REFUSED = "refus", _("Accès ou action refusés")
        LOCKOUT = "blocage", _("Connexion bloquée (mots de passe erronés)")
        ADMINISTRATION = (
            "administration",
            _("Administration (comptes, rôles, appareils, points de contact)"),
        )

    seq = models.PositiveBigIntegerField(_("n°"), unique=True)
    at = models.DateTimeField(_("le"))
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    actor_id = models.BigIntegerField(_("id utilisateur"), null=True, blank=True)
    actor = models.CharField(_("utilisateur"), max_length=150, blank=True)
    organisation = models.CharField(_("organisme"), max_length=10, blank=True)
    subject_type = models.CharField(_("type d'objet"), max_length=100, blank=True)
    subject_id = models.CharField(_("id objet"), max_length=40, blank=True)
    detail = models.JSONField(_("détail"), default=dict)
    prev_hash = models.CharField(_("empreinte précédente"), max_length=64)
    hash = models.CharField(_("empreinte"), max_length=64)

    class Meta:
        verbose_name = _("entrée du journal d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"]),
            # The last folded refusal, found from the tail (audit.fold_refusals).
            models.Index(
                fields=["seq"],
                condition=models.Q(action="refus"),
                name="workflow_audit_refusal_seq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.action} {self.actor}"


class RefusalEntry(models.Model):
    """A refused access or action answered to a logged-in user, written by the
    request in one INSERT, without the journal's single-writer lock, then folded
    into the chain in id order by one writer (workflow.audit.fold_refusals, beat
    every minute, and before every verification).

    Append-only like the journal (a trigger refuses UPDATE and DELETE on
    PostgreSQL, migration workflow 0006); a row stays once folded, its journal
    entry names it (`detail["refusal"]`).
    """

    at = models.DateTimeField(_("le"))
    actor_id = models.BigIntegerField(_("id utilisateur"), null=True, blank=True)
    actor = models.CharField(_("utilisateur"), max_length=150, blank=True)
    organisation = models.CharField(_("organisme"), max_length=10, blank=True)
    method = models.CharField(_("méthode HTTP"), max_length=10)
    path = models.CharField(_("chemin"), max_length=300)
    status = models.PositiveSmallIntegerField(_("statut HTTP"))

    class Meta:
        verbose_name = _("refus d'accès ou d'action")
        verbose_name_plural = _("refus d'accès ou d'action")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.status} {self.method} {self.path} {self.actor}"


class AnonymousRefusal(models.Model):
    """Refusals answered to anonymous requests (and missing static files), counted
    per day, path, client address and status instead of chained one by one in the
    audit journal: anyone can ask for unknown addresses, the journal must not grow
    nor be locked for them (workflow.middleware.count_refusal).

    At most TANDEM_ANONYMOUS_REFUSAL_ROWS rows a day; beyond, the refusals of the
    day are added to its row « autres » (path OTHER, no address).
    """

    OTHER = "*"

    day = models.DateField(_("jour"))
    path = models.CharField(_("chemin"), max_length=200)
    address = models.CharField(_("adresse du client"), max_length=45, blank=True)
    status = models.PositiveSmallIntegerField(_("statut HTTP"))
    count = models.PositiveIntegerField(_("nombre"), default=0)
    last_at = models.DateTimeField(_("dernière fois"), default=timezone.now)

    class Meta:
        verbose_name = _("refus anonyme (compté)")
        verbose_name_plural = _("refus anonymes (comptés)")
        ordering = ["-day", "-count"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "path", "address", "status"],
                name="workflow_anonymousrefusal_once_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.status} {self.path} ({self.count})"


class RateCounter(models.Model):
    """How many times something was asked in one window of time, for one key
    (password-reset e-mails per address and per client address): shared by every
    application process, unlike a per-process cache (workflow.throttling)."""

    scope = models.CharField(_("limite"), max_length=40)
    key = models.CharField(_("clé"), max_length=64)
    window = models.DateTimeField(_("début de la période"))
    count = models.PositiveIntegerField(_("nombre"), default=0)

    class Meta:
        verbose_name = _("compteur de limitation")
        verbose_name_plural = _("compteurs de limitation")
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key", "window"],
                name="workflow_ratecounter_once_per_window",
            ),
        ]
        indexes = [models.Index(fields=["window"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.window:%Y-%m-%d %H:%M} ({self.count})"


class DeliveryAttempt(models.Model):
    """One attempt to send a notification, successful or not."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    at = models.DateTimeField(_("le"), default=timezone.now)
    succeeded = models.BooleanField(_("réussie"))
    error = models.TextField(_("erreur"), blank=True)

    class Meta:
        verbose_name = _("tentative d'envoi")
        verbose_name_plural = _("tentatives d'envoi")
        ordering = ["notification", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.notification_id} @ {self.at:%Y-%m-%d %H:%M:%S}"


class StoredFile(models.Model):
    """A file a user joined to something: kept privately under a random name, with
    its original name, size and SHA-256 (see workflow.uploads.store_upload)."""

    file = models.FileField(
        _("fichier"), storage=private_storage, upload_to=private_upload_to
    )
    original_name = models.CharField(_("nom d'origine"), max_length=255)
    size = models.PositiveBigIntegerField(_("taille (octets)"))
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("déposé par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("déposé le"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def opens_in_browser(self) -> bool:
        """Shown by the browser rather than downloaded (file_download_response)."""
        return opens_in_browser(self.file.name)

    def store(self, uploaded, *, by) -> None:
        """Check the upload (French ValidationError), then keep it with its name,
        size and SHA-256 under a random name; the caller saves the row."""
        validate_upload(uploaded)
        digest = hashlib.sha256()
        for chunk in uploaded.chunks():
            digest.update(chunk)
        uploaded.seek(0)
        self.original_name = safe_download_name(uploaded.name)
        self.size = uploaded.size
        self.sha256 = digest.hexdigest()
        self.uploaded_by = by
        self.file.save(self.original_name, uploaded, save=False)
