"""Organisations, people, roles, contact points (annexe 3), support hours (annexe 1)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contacts.reference import DEPARTEMENTS


class Organisation(models.Model):
    """The supplier (the CNAF's DSI, exactly one) or a client (a département's DSI)."""

    class Kind(models.TextChoices):
        SUPPLIER = "fournisseur", _("Fournisseur")
        CLIENT = "client", _("Client")

    SUPPLIER_CODE = "CNAF"

    code = models.CharField(
        _("code"),
        max_length=8,
        unique=True,
        help_text=_("Code du département (01…95, 2A, 2B, 971…976) ou CNAF."),
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("nom"), max_length=200)

    class Meta:
        verbose_name = _("organisme")
        verbose_name_plural = _("organismes")
        ordering = ["-kind", "code"]  # the supplier first, then the clients by code
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind="fournisseur"),
                name="contacts_organisation_single_supplier",
                violation_error_message=_("Il ne peut y avoir qu'un seul fournisseur."),
            ),
        ]

    def __str__(self) -> str:
        return self.label(self.code, self.name, self.kind)

    @classmethod
    def label(cls, code: str, name: str, kind: str) -> str:
        """How an organisation is named (its str), from its bare values: the
        supplier by its name, a client by its code and name."""
        if kind == cls.Kind.SUPPLIER:
            return name
        return f"{code} – {name}"

    def clean(self) -> None:
        if self.kind == self.Kind.CLIENT and self.code not in DEPARTEMENTS:
            raise ValidationError(
                {
                    "code": _("« %(code)s » n'est pas un code de département connu.")
                    % {"code": self.code}
                }
            )
        if self.kind == self.Kind.SUPPLIER and self.code != self.SUPPLIER_CODE:
            raise ValidationError(
                {
                    "code": _("Le fournisseur a pour code %(code)s.")
                    % {"code": self.SUPPLIER_CODE}
                }
            )

    @property
    def is_supplier(self) -> bool:
        return self.kind == self.Kind.SUPPLIER

    @property
    def departement(self) -> str | None:
        """The département whose public holidays apply; None: national calendar."""
        return None if self.is_supplier else self.code


class Role(models.TextChoices):
    """What a user may do for one organisation (README, "Access rules")."""

    PORTEUR_DEMANDE = "porteur_demande", _("Porteur de la demande")
    TESTEUR = "testeur", _("Testeur")
    DSI_CLIENT = "dsi_client", _("DSI client")
    CORRESPONDANT_INCIDENTS = "correspondant_incidents", _("Correspondant incidents")
    CONTACT_EVOLUTIONS = "contact_evolutions", _("Point de contact évolutions")
    PORTEUR_COMMANDE = "porteur_commande", _("Porteur de la commande")
    MOE = "moe", _("MOE (équipe projet)")
    DSI_FOURNISSEUR = "dsi_fournisseur", _("DSI fournisseur")
    GSI = "gsi", _("GSI (niveau 1)")
    SUPPORT_N2 = "support_n2", _("Support niveau 2")
    SUPPORT_N3 = "support_n3", _("Support niveau 3")
    GESTION_CRISE = "gestion_crise", _("Gestionnaire de crise")
    ADMINISTRATEUR = "administrateur", _("Administrateur")


CLIENT_ROLES = frozenset(
    {Role.PORTEUR_DEMANDE, Role.TESTEUR, Role.DSI_CLIENT, Role.CORRESPONDANT_INCIDENTS}
)
SUPPLIER_ROLES = frozenset(set(Role) - CLIENT_ROLES)
# The roles that sign a go-live agreement: granted only through a RoleRequest that
# another person approved (four eyes), never directly in the Django admin.
SIGNING_ROLES = frozenset({Role.DSI_CLIENT, Role.DSI_FOURNISSEUR})


class Person(models.Model):
    """Someone of an organisation: a user of Tandem or a contact without an account."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="people",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compte utilisateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="person",
    )
    first_name = models.CharField(_("prénom"), max_length=100)
    last_name = models.CharField(_("nom"), max_length=100)
    function = models.CharField(_("fonction"), max_length=200, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    user_code = models.CharField(_("code utilisateur"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("personne")
        verbose_name_plural = _("personnes")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Membership(models.Model):
    """A role a user holds for one organisation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("rôle"), max_length=30, choices=Role.choices)

    class Meta:
        verbose_name = _("rôle")
        verbose_name_plural = _("rôles")
        ordering = ["organisation__code", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                name="contacts_membership_unique",
                violation_error_message=_("Cet utilisateur a déjà ce rôle."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} ({self.organisation.code})"

    def clean(self) -> None:
        if self.organisation_id is None:
            return
        allowed = SUPPLIER_ROLES if self.organisation.is_supplier else CLIENT_ROLES
        if self.role and self.role not in allowed:
            raise ValidationError(
                {
                    "role": _("Le rôle « %(role)s » n'existe pas pour cet organisme.")
                    % {"role": Role(self.role).label}
                }
            )


class ContactPoint(models.Model):
    """Who receives which kind of message for an organisation (annexe 3)."""

    class Subject(models.TextChoices):
        INCIDENT = "incident", _("Notification d'incident")
        EVOLUTION_ANNOUNCEMENT = (
            "annonce_evolution",
            _("Annonce d'évolution applicative"),
        )
        EVOLUTION_ROLLOUT = "mise_en_oeuvre", _("Mise en œuvre d'une évolution")
        DELIVERY_PLANNING = "planning_livraisons", _("Planning des livraisons")
        TECHNICAL_INTERVENTION = "intervention_technique", _("Intervention technique")
        SECURITY = "securite", _("Accès aux traces, audit et sécurité")
        NEEDS_EXPRESSION = "expression_besoin", _("Expression de besoin (évolution)")
        COMPLAINT = "reclamation", _("Réclamation")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.CASCADE,
        related_name="contact_points",
    )
    subject = models.CharField(_("sujet"), max_length=30, choices=Subject.choices)
    label = models.CharField(
        _("libellé"),
        max_length=200,
        blank=True,
        help_text=_(
            "Par exemple « DSI du Conseil départemental » ou « Webmaster du portail »."
        ),
    )
    person = models.ForeignKey(
        Person,
        verbose_name=_("personne"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contact_points",
    )
    mailbox = models.EmailField(_("boîte aux lettres"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("point de contact")
        verbose_name_plural = _("points de contact")
        ordering = ["organisation__code", "subject", "label"]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False) | ~Q(mailbox=""),
                name="contacts_contactpoint_person_or_mailbox",
                violation_error_message=_(
                    "Indiquez une personne ou une boîte aux lettres."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} – {self.label or self.address}"

    def clean(self) -> None:
        if (
            self.person_id
            and self.organisation_id
            and (self.person.organisation_id != self.organisation_id)
        ):
            raise ValidationError(
                {"person": _("La personne doit appartenir à cet organisme.")}
            )

    @property
    def address(self) -> str:
        """The e-mail address messages on this subject go to."""
        if self.person_id:
            return self.person.email
        return self.mailbox


class SupportHours(models.Model):
    """One opening interval of an organisation's support on one weekday (annexe 1)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("lundi")
        TUESDAY = 1, _("mardi")
        WEDNESDAY = 2, _("mercredi")
        THURSDAY = 3, _("jeudi")
        FRIDAY = 4, _("vendredi")
        SATURDAY = 5, _("samedi")
        SUNDAY = 6, _("dimanche")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.CASCADE,
        related_name="support_hours",
    )
    weekday = models.PositiveSmallIntegerField(_("jour"), choices=Weekday.choices)
    opens = models.TimeField(_("ouverture"))
    closes = models.TimeField(_("fermeture"))

    class Meta:
        verbose_name = _("plage d'ouverture")
        verbose_name_plural = _("plages d'ouverture")
        ordering = ["organisation__code", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens__lt=models.F("closes")),
                name="contacts_supporthours_opens_before_closes",
                violation_error_message=_(
                    "L'heure d'ouverture doit précéder l'heure de fermeture."
                ),
            ),
            models.UniqueConstraint(
                fields=["organisation", "weekday", "opens"],
                name="contacts_supporthours_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class RoleRequest(models.Model):
    """A request to grant a signing role, which another person approves (four eyes).

    Requested by an administrator; approved or refused by a holder of the same role
    for the organisation or, while the organisation has none, by a second
    administrator; never by its requester nor by the user it is for.
    """

    class State(models.TextChoices):
        PENDING = "en_attente", _("En attente d'approbation")
        APPROVED = "approuvee", _("Approuvée")
        REFUSED = "refusee", _("Refusée")
        CANCELLED = "annulee", _("Annulée")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="role_requests",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.CASCADE,
        related_name="role_requests",
    )
    role = models.CharField(
        _("rôle"),
        max_length=30,
        choices=[(role.value, role.label) for role in Role if role in SIGNING_ROLES],
    )
    reason = models.TextField(_("motif de la demande"), max_length=2000)
    state = models.CharField(
        _("état"), max_length=20, choices=State.choices, default=State.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("demandée par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("demandée le"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("décidée par"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True)
    decision_reason = models.TextField(
        _("motif de la décision"), max_length=2000, blank=True
    )

    class Meta:
        verbose_name = _("demande de rôle de signature")
        verbose_name_plural = _("demandes de rôle de signature")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                condition=Q(state="en_attente"),
                name="contacts_rolerequest_one_pending",
                violation_error_message=_(
                    "Une demande est déjà en attente pour ce rôle et cet utilisateur."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} ({self.organisation.code})"
