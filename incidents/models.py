"""Incidents (contract §2, annexe 1): the dossier, its levels and its clocks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from viewflow.fsm import FSMField
from viewflow.workflow.models import Process

from contacts.models import Organisation


class Incident(models.Model):
    """One fault a client met, registered by the GSI under a dossier number."""

    class Status(models.TextChoices):
        REGISTERED = "enregistre", _("Enregistré")
        TAKEN_IN = "pris_en_compte", _("Pris en compte")
        WORKAROUND = "contourne", _("Contournement en place")
        SERVICE_BACK = "remis_en_service", _("Remis en service")
        CLOSED = "clos", _("Clos")

    OPEN = (Status.REGISTERED, Status.TAKEN_IN, Status.WORKAROUND)

    class Kind(models.TextChoices):
        TECHNICAL = "technique", _("Technique")
        FUNCTIONAL = "fonctionnel", _("Fonctionnel")

    class Gravity(models.TextChoices):
        CRITICAL = "critique", _("Critique : le service est inutilisable")
        MAJOR = "majeure", _("Majeure : une fonction est inutilisable")
        MINOR = "mineure", _("Mineure : gêne sans perte de fonction")

    class Level(models.TextChoices):
        GSI = "1", _("Niveau 1 – GSI")
        SECOND = "2", _("Niveau 2")
        THIRD = "3", _("Niveau 3")
        CRISIS = "crise", _("Cellule de crise")

    class Channel(models.TextChoices):
        PORTAL = "portail", _("Tandem (déclaré par le client)")
        PHONE = "telephone", _("Téléphone")
        EMAIL = "courriel", _("Courriel")

    class WorkaroundScope(models.TextChoices):
        PARTIAL = "partiel", _("Retour partiel au service")
        TOTAL = "total", _("Retour total au service")

    number = models.CharField(_("numéro de dossier"), max_length=20, unique=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="incidents",
        limit_choices_to={"kind": Organisation.Kind.CLIENT},
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    gravity = models.CharField(_("gravité"), max_length=10, choices=Gravity.choices)
    level = models.CharField(
        _("niveau"), max_length=5, choices=Level.choices, default=Level.GSI
    )
    channel = models.CharField(
        _("reçu par"), max_length=10, choices=Channel.choices, default=Channel.PORTAL
    )
    status = FSMField(
        _("état"),
        max_length=20,
        choices=Status.choices,
        default=Status.REGISTERED,
        protected=True,
        enforce_initial=True,
    )
    # Who reports, and how to reach them (annexe 1).
    reporter_name = models.CharField(_("nom et prénom du déclarant"), max_length=200)
    reporter_user_code = models.CharField(
        _("code utilisateur"), max_length=50, blank=True
    )
    reporter_phone = models.CharField(_("téléphone"), max_length=30)
    reporter_email = models.EmailField(_("courriel"))
    reporter_hours = models.CharField(
        _("joignable"),
        max_length=200,
        blank=True,
        help_text=_("Plage horaire où le déclarant peut être joint."),
    )
    # What happens (annexe 1).
    domain = models.CharField(_("domaine ou application"), max_length=200)
    description = models.TextField(_("description précise de l'anomalie"))
    context = models.TextField(_("contexte"), blank=True)
    impact = models.TextField(_("impact"), blank=True)
    earlier_number = models.CharField(
        _("numéro de dossier déjà signalé"), max_length=20, blank=True
    )
    detected_at = models.DateTimeField(_("détecté le"), null=True, blank=True)
    qualified_at = models.DateTimeField(_("qualifié le"), null=True, blank=True)
    registered_at = models.DateTimeField(_("enregistré le"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enregistré par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The clocks: the policy in force at registration, and the deadlines it gave.
    policy = models.JSONField(_("engagements applicables"), default=dict)
    take_in_due = models.DateTimeField(
        _("prise en compte attendue"), null=True, blank=True
    )
    service_back_due = models.DateTimeField(
        _("remise en service attendue"), null=True, blank=True
    )
    taken_in_at = models.DateTimeField(_("pris en compte le"), null=True, blank=True)
    taken_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pris en compte par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    workaround_at = models.DateTimeField(_("contourné le"), null=True, blank=True)
    workaround_scope = models.CharField(
        _("contournement"), max_length=10, choices=WorkaroundScope.choices, blank=True
    )
    workaround = models.TextField(_("solution de contournement"), blank=True)
    service_back_at = models.DateTimeField(
        _("remis en service le"), null=True, blank=True
    )
    resolution = models.TextField(_("résolution"), blank=True)
    confirmed_at = models.DateTimeField(_("retour confirmé le"), null=True, blank=True)
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)
    closed_automatically = models.BooleanField(_("clos sans réponse"), default=False)
    # A service interruption: the application could not serve one of its functions.
    interruption = models.BooleanField(_("interruption de service"), default=False)
    interruption_start = models.DateTimeField(
        _("début de l'interruption"), null=True, blank=True
    )
    interruption_end = models.DateTimeField(
        _("fin de l'interruption"), null=True, blank=True
    )
    recurring_of = models.ForeignKey(
        "self",
        verbose_name=_("récurrent de"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recurrences",
    )

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-registered_at", "-pk"]
        indexes = [
            models.Index(fields=["-registered_at", "-id"], name="incidents_newest"),
            models.Index(
                fields=["organisation", "-registered_at", "-id"],
                name="incidents_org_newest",
            ),
            models.Index(fields=["status", "level"], name="incidents_status_level"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interruption_end__isnull=True)
                | Q(interruption_start__lte=models.F("interruption_end")),
                name="incidents_interruption_in_order",
                violation_error_message=_(
                    "L'interruption doit commencer avant de finir."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} – {self.domain}"

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.pk])

    # The lifecycle: every move goes through a service of incidents.services,
    # which checks who acts and journals it.
    @status.transition(source=Status.REGISTERED, target=Status.TAKEN_IN)
    def take_in(self):
        pass

    @status.transition(
        source=[Status.TAKEN_IN, Status.WORKAROUND], target=Status.WORKAROUND
    )
    def work_around(self):
        pass

    @status.transition(
        source=[Status.TAKEN_IN, Status.WORKAROUND], target=Status.SERVICE_BACK
    )
    def restore(self):
        pass

    @status.transition(source=Status.SERVICE_BACK, target=Status.CLOSED)
    def confirm(self):
        pass

    @status.transition(source=Status.SERVICE_BACK, target=Status.TAKEN_IN)
    def reopen(self):
        pass

    @status.transition(source=Status.SERVICE_BACK, target=Status.CLOSED)
    def close_unanswered(self):
        pass

    @property
    def notice_started(self):
        """When the client's notification clock started: detection (technical)
        or qualification (functional)."""
        if self.kind == self.Kind.TECHNICAL:
            return self.detected_at
        return self.qualified_at

    @property
    def gravity_short(self) -> str:
        """The gravity in one word, for lists."""
        return {
            self.Gravity.CRITICAL: _("Critique"),
            self.Gravity.MAJOR: _("Majeure"),
            self.Gravity.MINOR: _("Mineure"),
        }.get(self.gravity, self.gravity)

    @property
    def reference(self) -> str:
        """The engine's name for a subject's number."""
        return self.number

    @property
    def title(self) -> str:
        return self.domain


class NumberSequence(models.Model):
    """The last dossier number given in one year (INC-2026-00042)."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class IncidentUpdate(models.Model):
    """One message of the information thread both sides write in."""

    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.CASCADE,
        related_name="updates",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("écrit le"), auto_now_add=True)

    class Meta:
        verbose_name = _("information sur l'incident")
        verbose_name_plural = _("informations sur l'incident")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.incident.number} – {self.author}"


class Escalation(models.Model):
    """One hop of an incident between levels, with its reason."""

    incident = models.ForeignKey(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.CASCADE,
        related_name="escalations",
    )
    from_level = models.CharField(
        _("du niveau"), max_length=5, choices=Incident.Level.choices
    )
    to_level = models.CharField(
        _("au niveau"), max_length=5, choices=Incident.Level.choices
    )
    reason = models.TextField(_("motif"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("escalade")
        verbose_name_plural = _("escalades")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.incident.number}: {self.from_level} → {self.to_level}"


class IncidentProcess(Process):
    """The IncidentFlow process of one incident."""

    incident = models.OneToOneField(
        Incident,
        verbose_name=_("incident"),
        on_delete=models.PROTECT,
        related_name="process",
    )

    class Meta:
        verbose_name = _("processus d'incident")
        verbose_name_plural = _("processus d'incident")

    def __str__(self) -> str:
        return str(self.incident)

    @property
    def subject(self) -> Incident:
        """What the process runs on, as the engine reads it (reference, title,
        organisation, get_absolute_url): task lists, permissions, reminders."""
        return self.incident
