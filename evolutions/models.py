"""Change requests (contract §4.1): needs expression, specification, quote, release."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.fsm import FSMField
from viewflow.workflow.models import Process

from contacts.models import Organisation
from workflow.models import StoredFile
from workflow.uploads import private_storage, private_upload_to


class Release(models.Model):
    """A major version of the IS that evolutions are planned into."""

    number = models.CharField(
        _("numéro"), max_length=20, unique=True, help_text=_("Par exemple 2027.1")
    )
    title = models.CharField(_("intitulé"), max_length=200, blank=True)
    recette_start = models.DateField(_("début de la recette prévu"))
    recette_end = models.DateField(_("fin de la recette prévue"))
    production_date = models.DateField(_("mise en production prévue"))

    class Meta:
        verbose_name = _("version majeure du SI")
        verbose_name_plural = _("versions majeures du SI")
        ordering = ["production_date", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recette_start__lte=models.F("recette_end"))
                & Q(recette_end__lte=models.F("production_date")),
                name="evolutions_release_dates_in_order",
                violation_error_message=_(
                    "La recette doit commencer avant de finir, et finir avant la "
                    "mise en production."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ChangeRequest(models.Model):
    """One evolution asked by a client, from the needs expression to production."""

    class Status(models.TextChoices):
        DRAFT = "brouillon", _("Brouillon")
        SUBMITTED = "soumise", _("Soumise")
        INFO_REQUESTED = "complement_demande", _("Complément demandé")
        IN_STUDY = "en_etude", _("En étude")
        SPEC_REVIEW = "cdc_a_valider", _("Cahier des charges à valider")
        QUOTE_PREPARATION = "devis_en_preparation", _("Devis en préparation")
        QUOTE_REVIEW = "devis_a_valider", _("Devis à valider")
        PLANNING = "planification", _("Planification")
        RELEASE_PROPOSED = "version_proposee", _("Version proposée")
        PLANNED = "planifiee", _("Planifiée")
        IN_MANUFACTURE = "en_fabrication", _("En fabrication")
        IN_ACCEPTANCE = "en_recette", _("En recette")
        IN_PRODUCTION = "en_production", _("En production")
        DECLINED = "declinee", _("Déclinée par le fournisseur")
        WITHDRAWN = "retiree", _("Retirée par le client")

    # Before manufacture the client may withdraw and the supplier may decline.
    BEFORE_MANUFACTURE = (
        Status.DRAFT,
        Status.SUBMITTED,
        Status.INFO_REQUESTED,
        Status.IN_STUDY,
        Status.SPEC_REVIEW,
        Status.QUOTE_PREPARATION,
        Status.QUOTE_REVIEW,
        Status.PLANNING,
        Status.RELEASE_PROPOSED,
        Status.PLANNED,
    )
    DECLINABLE = BEFORE_MANUFACTURE[1:]  # a draft is not the supplier's yet
    CLOSED = (Status.DECLINED, Status.WITHDRAWN, Status.IN_PRODUCTION)

    class Kind(models.TextChoices):
        TECHNICAL = "technique", _("Technique")
        REGULATORY = "reglementaire", _("Réglementaire")

    class DataFlow(models.TextChoices):
        DSG = "DSG", _("DSG – flux dématérialisés de la branche Maladie")
        SGR = "SGR", _("SGR – déclarations dématérialisées par la Caf")
        GRO = "GRO", _("GRO – changements de situation")
        OTHER = "autre", _("Autre")

    reference = models.CharField(_("référence"), max_length=30, unique=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="change_requests",
        limit_choices_to={"kind": Organisation.Kind.CLIENT},
    )
    title = models.CharField(_("intitulé"), max_length=200)
    kind = models.CharField(_("nature"), max_length=20, choices=Kind.choices)
    data_flows = models.JSONField(_("flux concernés"), default=list, blank=True)
    description = models.TextField(_("description du besoin"))
    expected_benefit = models.TextField(_("bénéfice attendu"), blank=True)
    wished_date = models.DateField(_("date souhaitée"), null=True, blank=True)
    request_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("porteur de la demande"),
        on_delete=models.PROTECT,
        related_name="owned_change_requests",
    )
    order_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("porteur de la commande"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ordered_change_requests",
    )
    proposed_release = models.ForeignKey(
        Release,
        verbose_name=_("version majeure proposée"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    release = models.ForeignKey(
        Release,
        verbose_name=_("version majeure"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_requests",
    )
    status = FSMField(
        _("état"),
        max_length=30,
        choices=Status.choices,
        default=Status.DRAFT,
        protected=True,
        enforce_initial=True,
    )
    closing_reason = models.TextField(_("motif du refus ou du retrait"), blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande d'évolution")
        verbose_name_plural = _("demandes d'évolution")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["status", "release"]),
            # The list's order, for everyone and within one organisation.
            models.Index(fields=["-created_at", "-id"], name="evolutions_cr_newest"),
            models.Index(
                fields=["organisation", "-created_at", "-id"],
                name="evolutions_cr_org_newest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("evolutions:detail", args=[self.pk])

    def clean(self) -> None:
        allowed = set(self.DataFlow.values)
        if not isinstance(self.data_flows, list) or not set(self.data_flows) <= allowed:
            raise ValidationError(
                {"data_flows": _("Choisissez les flux parmi DSG, SGR, GRO ou Autre.")}
            )

    # The lifecycle (README, "Change requests"). Who may fire each
    # transition is checked by the services and the flow nodes.

    @status.transition(source=Status.DRAFT, target=Status.SUBMITTED)
    def submit(self):
        pass

    # Only as the flow's "complete information" task (evolutions.services).
    @status.transition(source=Status.INFO_REQUESTED, target=Status.SUBMITTED)
    def resubmit(self):
        pass

    @status.transition(source=Status.SUBMITTED, target=Status.INFO_REQUESTED)
    def request_information(self):
        pass

    @status.transition(source=Status.SUBMITTED, target=Status.IN_STUDY)
    def acknowledge(self, *, order_owner):
        self.order_owner = order_owner

    @status.transition(source=DECLINABLE, target=Status.DECLINED)
    def decline(self, *, reason: str):
        self.closing_reason = reason

    @status.transition(source=BEFORE_MANUFACTURE, target=Status.WITHDRAWN)
    def withdraw(self, *, reason: str):
        self.closing_reason = reason

    @status.transition(source=Status.IN_STUDY, target=Status.SPEC_REVIEW)
    def issue_specification(self):
        pass

    @status.transition(source=Status.SPEC_REVIEW, target=Status.QUOTE_PREPARATION)
    def validate_specification(self):
        pass

    @status.transition(source=Status.SPEC_REVIEW, target=Status.IN_STUDY)
    def send_back_specification(self):
        pass

    @status.transition(source=Status.QUOTE_PREPARATION, target=Status.QUOTE_REVIEW)
    def issue_quote(self):
        pass

    @status.transition(source=Status.QUOTE_REVIEW, target=Status.PLANNING)
    def accept_quote(self):
        pass

    @status.transition(source=Status.QUOTE_REVIEW, target=Status.QUOTE_PREPARATION)
    def refuse_quote(self):
        pass

    @status.transition(source=Status.PLANNING, target=Status.RELEASE_PROPOSED)
    def propose_release(self, *, release: Release):
        self.proposed_release = release

    @status.transition(source=Status.RELEASE_PROPOSED, target=Status.PLANNED)
    def confirm_release(self):
        self.release = self.proposed_release

    @status.transition(source=Status.RELEASE_PROPOSED, target=Status.PLANNING)
    def ask_another_release(self):
        self.proposed_release = None

    @status.transition(source=Status.PLANNED, target=Status.IN_MANUFACTURE)
    def start_manufacture(self):
        pass

    @status.transition(source=Status.IN_MANUFACTURE, target=Status.IN_ACCEPTANCE)
    def finish_manufacture(self):
        pass

    @status.transition(source=Status.IN_ACCEPTANCE, target=Status.IN_PRODUCTION)
    def go_live(self):
        pass


class ReferenceSequence(models.Model):
    """The last number given to a client's change requests in one year."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "year"], name="evolutions_reference_sequence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation.code}-{self.year}: {self.last_number}"


class ClientDecision(models.Model):
    """A supplier document the client decides on: who decided, when, and why."""

    decision_comment = models.TextField(_("commentaire du client"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("décision prise par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("décision prise le"), null=True, blank=True)

    class Meta:
        abstract = True

    def record_decision(self, decision: str, *, comment: str, by) -> None:
        """Keep the client's decision on this document and save it."""
        self.decision = decision
        self.decision_comment = comment
        self.decided_by = by
        self.decided_at = timezone.now()
        self.save()


class SpecificationVersion(ClientDecision):
    """One version of the supplier's specification ("cahier des charges")."""

    class Decision(models.TextChoices):
        PENDING = "en_attente", _("En attente")
        VALIDATED = "validee", _("Validée")
        SENT_BACK = "renvoyee", _("Renvoyée")

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.CASCADE,
        related_name="specifications",
    )
    version = models.PositiveSmallIntegerField(_("version"))
    summary = models.TextField(_("résumé"))
    document = models.FileField(
        _("document"), storage=private_storage, upload_to=private_upload_to, blank=True
    )
    document_name = models.CharField(_("nom du document"), max_length=255, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    issued_at = models.DateTimeField(_("émise le"), auto_now_add=True)
    decision = models.CharField(
        _("décision du client"),
        max_length=20,
        choices=Decision.choices,
        default=Decision.PENDING,
    )

    class Meta:
        verbose_name = _("cahier des charges")
        verbose_name_plural = _("cahiers des charges")
        ordering = ["change_request", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "version"],
                name="evolutions_specification_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.change_request.reference} v{self.version}"


class Quote(ClientDecision):
    """A supplier quote; a refused quote is followed by a revised one."""

    class Decision(models.TextChoices):
        PENDING = "en_attente", _("En attente")
        ACCEPTED = "accepte", _("Accepté")
        REFUSED = "refuse", _("Refusé")

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.CASCADE,
        related_name="quotes",
    )
    version = models.PositiveSmallIntegerField(_("version"))
    man_days = models.DecimalField(
        _("charge (jours-homme)"), max_digits=7, decimal_places=1
    )
    amount = models.DecimalField(_("montant (euros)"), max_digits=12, decimal_places=2)
    valid_until = models.DateField(_("valable jusqu'au"))
    document = models.FileField(
        _("document"), storage=private_storage, upload_to=private_upload_to, blank=True
    )
    document_name = models.CharField(_("nom du document"), max_length=255, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    issued_at = models.DateTimeField(_("émis le"), auto_now_add=True)
    decision = models.CharField(
        _("décision du client"),
        max_length=20,
        choices=Decision.choices,
        default=Decision.PENDING,
    )

    class Meta:
        verbose_name = _("devis")
        verbose_name_plural = _("devis")
        ordering = ["change_request", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "version"], name="evolutions_quote_version"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(man_days__gt=0),
                name="evolutions_quote_positive",
                violation_error_message=_(
                    "Le montant ne peut être négatif et la charge doit être positive."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_request.reference} devis v{self.version}"


class Comment(models.Model):
    """A message exchanged on a change request."""

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.CASCADE,
        related_name="comments",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("commentaire")
        verbose_name_plural = _("commentaires")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.change_request.reference} – {self.author}"


class Attachment(StoredFile):
    """A file joined to a change request; stored privately under a random name."""

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )

    class Meta(StoredFile.Meta):
        verbose_name = _("pièce jointe")
        verbose_name_plural = _("pièces jointes")


class EvolutionProcess(Process):
    """The running EvolutionFlow of one change request."""

    change_request = models.OneToOneField(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="process",
    )

    class Meta:
        verbose_name = _("processus d'évolution")
        verbose_name_plural = _("processus d'évolution")

    def __str__(self) -> str:
        return str(self.change_request)

    @property
    def subject(self) -> ChangeRequest:
        """What the process runs on, as the engine reads it (reference, title,
        organisation, get_absolute_url): task lists, permissions, reminders."""
        return self.change_request


class ReleaseAnnouncement(models.Model):
    """What a release changes, when, and what the clients must do (contract §6.3).

    Written by the supplier for every client: it never names a client's request.
    """

    class Kind(models.TextChoices):
        EVOLUTION = "annonce_evolution", _("Annonce d'évolution applicative")
        DELIVERY_PLANNING = "planning_livraisons", _("Planning des livraisons")

    release = models.ForeignKey(
        Release,
        verbose_name=_("version majeure"),
        on_delete=models.PROTECT,
        related_name="announcements",
    )
    kind = models.CharField(
        _("type"), max_length=30, choices=Kind.choices, default=Kind.EVOLUTION
    )
    title = models.CharField(_("titre"), max_length=200)
    changes = models.TextField(_("ce qui change"))
    schedule = models.TextField(_("quand"))
    client_actions = models.TextField(_("ce que les clients doivent faire"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    published_at = models.DateTimeField(_("publiée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("annonce de version")
        verbose_name_plural = _("annonces de version")
        ordering = ["release", "-published_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.release} – {self.title}"
