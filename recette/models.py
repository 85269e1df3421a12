"""Acceptance testing (contract §5.1): plan, cases, qualification, deliveries,
campaigns, executions and defects."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from viewflow.fsm import FSMField
from viewflow.workflow.models import Process

from contacts.models import Organisation
from evolutions.models import ChangeRequest
from workflow.models import StoredFile
from workflow.uploads import private_storage, private_upload_to


class AcceptancePlan(models.Model):
    """The plan of an acceptance: workload, schedule and test cases.

    Validated by the client, it is frozen: changing it afterwards reopens it as a new
    version that must be validated again.
    """

    class Status(models.TextChoices):
        DRAFT = "brouillon", _("En préparation")
        SUBMITTED = "soumis", _("Soumis au client")
        SENT_BACK = "renvoye", _("Renvoyé avec des commentaires")
        VALIDATED = "valide", _("Validé")

    change_request = models.OneToOneField(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="acceptance_plan",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    workload = models.DecimalField(
        _("charge (jours-homme)"), max_digits=7, decimal_places=1, null=True, blank=True
    )
    start = models.DateField(_("début"), null=True, blank=True)
    end = models.DateField(_("fin"), null=True, blank=True)
    status = FSMField(
        _("état"),
        max_length=20,
        choices=Status.choices,
        default=Status.DRAFT,
        protected=True,
        enforce_initial=True,
    )
    decision_comment = models.TextField(_("commentaire du client"), blank=True)
    # Why a schedule that eats into the acceptance margin is still proposed; the
    # client reads it before validating.
    margin_justification = models.TextField(
        _("justification du dépassement de la marge"),
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        verbose_name = _("plan de recette")
        verbose_name_plural = _("plans de recette")
        constraints = [
            models.CheckConstraint(
                condition=Q(start__isnull=True)
                | Q(end__isnull=True)
                | Q(start__lte=models.F("end")),
                name="recette_plan_start_before_end",
                violation_error_message=_("La recette doit commencer avant de finir."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_request.reference} – plan v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.VALIDATED)

    @status.transition(source=[Status.DRAFT, Status.SENT_BACK], target=Status.SUBMITTED)
    def submit(self):
        self.decision_comment = ""

    @status.transition(source=Status.SUBMITTED, target=Status.VALIDATED)
    def validate(self, *, decision_comment: str = ""):
        self.decision_comment = decision_comment

    @status.transition(source=Status.SUBMITTED, target=Status.SENT_BACK)
    def send_back(self, *, decision_comment: str):
        self.decision_comment = decision_comment

    @status.transition(source=Status.VALIDATED, target=Status.DRAFT)
    def reopen(self):
        self.version += 1


class TestCase(models.Model):
    """One test case of a plan, with its ordered steps."""

    class Priority(models.TextChoices):
        HIGH = "haute", _("Haute")
        MEDIUM = "moyenne", _("Moyenne")
        LOW = "basse", _("Basse")

    __test__ = False  # not a pytest class, despite its name

    plan = models.ForeignKey(
        AcceptancePlan,
        verbose_name=_("plan"),
        on_delete=models.CASCADE,
        related_name="cases",
    )
    position = models.PositiveIntegerField(_("ordre"))
    reference = models.CharField(_("référence"), max_length=50)
    title = models.CharField(_("intitulé"), max_length=300)
    objective = models.TextField(_("objectif"), blank=True)
    priority = models.CharField(
        _("priorité"), max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    preconditions = models.TextField(_("préconditions"), blank=True)
    section = models.CharField(
        _("section du cahier des charges"), max_length=100, blank=True
    )

    class Meta:
        verbose_name = _("cas de test")
        verbose_name_plural = _("cas de test")
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "reference"], name="recette_case_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.title}"


class TestStep(models.Model):
    """One step of a test case: what to do and what is expected."""

    __test__ = False

    case = models.ForeignKey(
        TestCase,
        verbose_name=_("cas de test"),
        on_delete=models.CASCADE,
        related_name="steps",
    )
    number = models.PositiveSmallIntegerField(_("n°"))
    action = models.TextField(_("action"))
    expected = models.TextField(_("résultat attendu"))

    class Meta:
        verbose_name = _("étape")
        verbose_name_plural = _("étapes")
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "number"], name="recette_step_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} / {self.number}"


class Qualification(models.Model):
    """The supplier's technical qualification before any delivery to recette."""

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="qualifications",
    )
    passed = models.BooleanField(_("réussie"))
    date = models.DateField(_("date"))
    report = models.FileField(
        _("rapport"), storage=private_storage, upload_to=private_upload_to, blank=True
    )
    report_name = models.CharField(_("nom du rapport"), max_length=255, blank=True)
    comment = models.TextField(_("commentaire"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enregistrée par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("enregistrée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("qualification technique")
        verbose_name_plural = _("qualifications techniques")
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.change_request.reference} – {self.date:%d/%m/%Y}"


class Delivery(models.Model):
    """One build delivered to the recette environment."""

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    number = models.PositiveSmallIntegerField(_("numéro"))
    date = models.DateField(_("date"))
    environment = models.CharField(_("environnement"), max_length=100)
    release_notes = models.TextField(_("notes de livraison"), blank=True)
    fixed_defects = models.ManyToManyField(
        "Defect",
        verbose_name=_("anomalies déclarées corrigées"),
        blank=True,
        related_name="claimed_fixed_in",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("livrée par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("enregistrée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("livraison")
        verbose_name_plural = _("livraisons")
        ordering = ["change_request", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "number"], name="recette_delivery_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_request.reference} – livraison {self.number}"


class Campaign(models.Model):
    """One pass of the plan's cases against one delivery."""

    class Kind(models.TextChoices):
        FIRST = "initiale", _("Campagne initiale")
        RETEST = "retest", _("Campagne de re-test")

    class Status(models.TextChoices):
        OPEN = "ouverte", _("En cours")
        # With a context: Django's French catalogue translates an English "Close".
        CLOSED = "close", pgettext_lazy("campagne", "Close")

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    delivery = models.ForeignKey(
        Delivery,
        verbose_name=_("livraison"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    number = models.PositiveSmallIntegerField(_("numéro"))
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    status = FSMField(
        _("état"),
        max_length=10,
        choices=Status.choices,
        default=Status.OPEN,
        protected=True,
        enforce_initial=True,
    )

    class Outcome(models.TextChoices):
        FIXES = "corrections", _("Livraison corrective demandée")
        REPORT = "bilan", _("Passage au bilan")

    opened_at = models.DateTimeField(_("ouverte le"), auto_now_add=True)
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True)
    outcome = models.CharField(
        _("suite donnée"), max_length=20, choices=Outcome.choices, blank=True
    )

    class Meta:
        verbose_name = _("campagne de tests")
        verbose_name_plural = _("campagnes de tests")
        ordering = ["change_request", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "number"], name="recette_campaign_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.change_request.reference} – campagne {self.number}"

    @status.transition(source=Status.OPEN, target=Status.CLOSED)
    def close(self, *, outcome: str):
        self.closed_at = timezone.now()
        self.outcome = outcome


class CampaignCase(models.Model):
    """A case run in a campaign, and the tester it is assigned to."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="campaign_cases"
    )
    case = models.ForeignKey(TestCase, on_delete=models.PROTECT, related_name="+")
    tester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("testeur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("cas de la campagne")
        verbose_name_plural = _("cas de la campagne")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "case"], name="recette_campaign_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} / {self.case.reference}"


class Execution(models.Model):
    """One recorded result of a case in a campaign; re-executions add rows, so the
    latest row is the case's result and the earlier ones its history."""

    class Result(models.TextChoices):
        TO_RUN = "a_executer", _("À exécuter")
        PASSED = "reussi", _("Réussi")
        FAILED = "echoue", _("Échoué")
        BLOCKED = "bloque", _("Bloqué")
        NOT_APPLICABLE = "non_applicable", _("Non applicable")

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campagne"),
        on_delete=models.PROTECT,
        related_name="executions",
    )
    case = models.ForeignKey(
        TestCase,
        verbose_name=_("cas de test"),
        on_delete=models.PROTECT,
        related_name="executions",
    )
    result = models.CharField(_("résultat"), max_length=20, choices=Result.choices)
    step_results = models.JSONField(_("résultats par étape"), default=dict, blank=True)
    comment = models.TextField(_("commentaire"), blank=True)
    tester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("testeur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    executed_at = models.DateTimeField(_("exécuté le"), auto_now_add=True)
    # The key the grid gives each result typed: a result sent again (the page
    # closed before the answer came) is recognised and saved once. Empty: saved
    # by a form, nothing to recognise.
    client_key = models.CharField(
        _("clé du navigateur"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )

    class Meta:
        verbose_name = _("exécution")
        verbose_name_plural = _("exécutions")
        ordering = ["campaign", "case", "executed_at", "pk"]
        # A case's latest result (its last execution, the later id first when two
        # share a time): read from the index's first entry, with no sort.
        indexes = [
            models.Index(
                fields=["campaign", "case", "-executed_at", "-id"],
                name="recette_execution_latest",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tester", "client_key"],
                condition=~models.Q(client_key=""),
                name="recette_execution_client_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference}: {self.get_result_display()}"


class Defect(models.Model):
    """A problem found in recette, followed until verified or its rejection accepted."""

    class Severity(models.TextChoices):
        BLOCKING = "bloquante", _("Bloquante")
        MAJOR = "majeure", _("Majeure")
        MINOR = "mineure", _("Mineure")

    class Status(models.TextChoices):
        OPEN = "ouverte", _("Ouverte")
        FIXED = "corrigee", _("Corrigée")
        VERIFIED = "verifiee", _("Vérifiée")
        REOPENED = "reouverte", _("Réouverte")
        REJECTED = "rejetee", _("Rejetée par le fournisseur")
        REJECTION_ACCEPTED = "rejet_accepte", _("Rejet accepté")

    # Still to be dealt with: these block or reserve the go-live.
    UNRESOLVED = (Status.OPEN, Status.FIXED, Status.REOPENED, Status.REJECTED)

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="defects",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    number = models.PositiveIntegerField(_("numéro"))
    title = models.CharField(_("intitulé"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    steps_to_reproduce = models.TextField(
        _("étapes pour reproduire"), blank=True, default="", db_default=""
    )
    expected = models.TextField(
        _("résultat attendu"), blank=True, default="", db_default=""
    )
    observed = models.TextField(
        _("résultat observé"), blank=True, default="", db_default=""
    )
    severity = models.CharField(_("gravité"), max_length=10, choices=Severity.choices)
    # Where it was found (optional: a defect may be raised outside the grid).
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campagne"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    case = models.ForeignKey(
        TestCase,
        verbose_name=_("cas de test"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    step = models.PositiveSmallIntegerField(_("étape"), null=True, blank=True)
    status = FSMField(
        _("état"),
        max_length=20,
        choices=Status.choices,
        default=Status.OPEN,
        protected=True,
        enforce_initial=True,
    )
    executions = models.ManyToManyField(
        Execution, verbose_name=_("exécutions"), blank=True, related_name="defects"
    )
    fixed_in = models.ForeignKey(
        Delivery,
        verbose_name=_("corrigée dans la livraison"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rejection_reason = models.TextField(_("motif du rejet"), blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ouverte par"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    opened_at = models.DateTimeField(_("ouverte le"), auto_now_add=True)

    class Meta:
        verbose_name = _("anomalie")
        verbose_name_plural = _("anomalies")
        ordering = ["change_request", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["change_request", "number"], name="recette_defect_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.title}"

    @property
    def reference(self) -> str:
        return f"ANO-{self.number:03d}"

    @status.transition(source=[Status.OPEN, Status.REOPENED], target=Status.FIXED)
    def mark_fixed(self, *, delivery: Delivery):
        self.fixed_in = delivery

    @status.transition(source=Status.FIXED, target=Status.VERIFIED)
    def verify(self):
        pass

    @status.transition(
        source=[Status.FIXED, Status.REJECTED, Status.REJECTION_ACCEPTED],
        target=Status.REOPENED,
    )
    def reopen(self):
        self.fixed_in = None

    @status.transition(source=[Status.OPEN, Status.REOPENED], target=Status.REJECTED)
    def reject(self, *, reason: str):
        self.rejection_reason = reason

    @status.transition(source=Status.REJECTED, target=Status.REJECTION_ACCEPTED)
    def accept_rejection(self):
        pass


class DefectComment(models.Model):
    """One message of a defect's thread, from either side."""

    defect = models.ForeignKey(
        Defect,
        verbose_name=_("anomalie"),
        on_delete=models.CASCADE,
        related_name="comments",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    text = models.TextField(_("message"))
    written_at = models.DateTimeField(_("écrit le"), auto_now_add=True)

    class Meta:
        verbose_name = _("commentaire d'anomalie")
        verbose_name_plural = _("commentaires d'anomalie")
        ordering = ["written_at", "pk"]

    def __str__(self) -> str:
        return f"{self.defect.reference} @ {self.written_at:%Y-%m-%d %H:%M}"


class DefectAttachment(StoredFile):
    """A file joined to a defect (screenshot, log…), by either side."""

    defect = models.ForeignKey(
        Defect,
        verbose_name=_("anomalie"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )

    class Meta(StoredFile.Meta):
        verbose_name = _("pièce jointe d'anomalie")
        verbose_name_plural = _("pièces jointes d'anomalie")


class Evidence(StoredFile):
    """A file proving an execution's result (screenshot, export…)."""

    execution = models.ForeignKey(
        Execution,
        verbose_name=_("exécution"),
        on_delete=models.CASCADE,
        related_name="evidence",
    )

    class Meta(StoredFile.Meta):
        verbose_name = _("preuve")
        verbose_name_plural = _("preuves")


class AcceptanceReport(models.Model):
    """The client's report ("bilan de recette"): figures, verdict and reserves.

    Frozen on submission, with the figures and the PDF as they were then; a refused
    go-live reopens it as a new version.
    """

    class Status(models.TextChoices):
        DRAFT = "brouillon", _("En rédaction")
        SUBMITTED = "soumis", _("Soumis")

    class Verdict(models.TextChoices):
        FAVORABLE = "favorable", _("Favorable")
        WITH_RESERVES = "reserves", _("Favorable avec réserves")
        UNFAVORABLE = "defavorable", _("Défavorable")

    change_request = models.OneToOneField(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="acceptance_report",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = FSMField(
        _("état"),
        max_length=20,
        choices=Status.choices,
        default=Status.DRAFT,
        protected=True,
        enforce_initial=True,
    )
    verdict = models.CharField(
        _("avis"), max_length=20, choices=Verdict.choices, blank=True
    )
    reserves = models.TextField(_("réserves"), blank=True)
    reserved_defects = models.ManyToManyField(
        Defect,
        verbose_name=_("anomalies en réserve"),
        blank=True,
        related_name="reserved_in",
    )
    figures = models.JSONField(_("chiffres au moment du dépôt"), default=dict)
    document = models.FileField(
        _("bilan (PDF)"),
        storage=private_storage,
        upload_to=private_upload_to,
        blank=True,
    )
    document_sha256 = models.CharField(
        _("empreinte SHA-256 du bilan"), max_length=64, blank=True
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("déposé par"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("déposé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("bilan de recette")
        verbose_name_plural = _("bilans de recette")

    def __str__(self) -> str:
        return f"{self.change_request.reference} – bilan v{self.version}"

    @status.transition(source=Status.DRAFT, target=Status.SUBMITTED)
    def submit(self):
        pass

    @status.transition(source=Status.SUBMITTED, target=Status.DRAFT)
    def reopen(self):
        # A new version in writing: nothing of the submitted one may pass for it.
        # That version's PDF stays with the agreement it was submitted for.
        self.version += 1
        self.document = ""
        self.document_sha256 = ""
        self.figures = {}
        self.submitted_by = None
        self.submitted_at = None


class GoLiveAgreement(models.Model):
    """The go-live agreement on one version of the report, signed by both DSIs."""

    class Status(models.TextChoices):
        PENDING = "en_attente", _("En attente de signature")
        SIGNED = "signe", _("Signé par les deux DSI")
        REFUSED = "refuse", _("Refusé")

    class Side(models.TextChoices):
        CLIENT = "client", _("DSI du Conseil départemental")
        SUPPLIER = "fournisseur", _("DSI de la CNAF")

    class SecondFactor(models.TextChoices):
        """What confirmed a DSI's decision besides the password."""

        TOTP = "totp", _("code TOTP (application d'authentification)")

    change_request = models.ForeignKey(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="go_live_agreements",
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisme"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    report_version = models.PositiveSmallIntegerField(_("version du bilan"))
    report_sha256 = models.CharField(_("empreinte SHA-256 du bilan"), max_length=64)
    # The very PDF of that version of the report, kept when the report is reopened.
    report_document = models.FileField(
        _("bilan (PDF) soumis à l'accord"),
        storage=private_storage,
        upload_to=private_upload_to,
        blank=True,
    )
    status = FSMField(
        _("état"),
        max_length=20,
        choices=Status.choices,
        default=Status.PENDING,
        protected=True,
        enforce_initial=True,
    )
    refusal_reason = models.TextField(_("motif du refus"), blank=True)
    # Blank on refusals recorded before the second factor was required.
    refusal_second_factor = models.CharField(
        _("second facteur du refus"),
        max_length=10,
        choices=SecondFactor.choices,
        blank=True,
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("accord de mise en production")
        verbose_name_plural = _("accords de mise en production")
        ordering = ["change_request", "created_at", "pk"]

    def __str__(self) -> str:
        return (
            f"{self.change_request.reference} – accord (bilan v{self.report_version})"
        )

    @status.transition(source=Status.PENDING, target=Status.SIGNED)
    def complete(self):
        pass

    @status.transition(source=Status.PENDING, target=Status.REFUSED)
    def refuse(self, *, reason: str):
        self.refusal_reason = reason


class Signature(models.Model):
    """One DSI's signature of a go-live agreement."""

    agreement = models.ForeignKey(
        GoLiveAgreement,
        verbose_name=_("accord"),
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    side = models.CharField(
        _("partie"), max_length=20, choices=GoLiveAgreement.Side.choices
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signataire"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_at = models.DateTimeField(_("signé le"), auto_now_add=True)
    report_sha256 = models.CharField(
        _("empreinte SHA-256 du bilan signé"), max_length=64
    )
    # Blank on signatures recorded before the second factor was required.
    second_factor = models.CharField(
        _("second facteur"),
        max_length=10,
        choices=GoLiveAgreement.SecondFactor.choices,
        blank=True,
    )

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["agreement", "signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "side"], name="recette_one_signature_per_side"
            ),
            models.UniqueConstraint(
                fields=["agreement", "signer"], name="recette_one_signature_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} – {self.get_side_display()}"


class RecetteProcess(Process):
    """The running RecetteFlow of one change request."""

    change_request = models.OneToOneField(
        ChangeRequest,
        verbose_name=_("demande"),
        on_delete=models.PROTECT,
        related_name="recette_process",
    )

    class Meta:
        verbose_name = _("processus de recette")
        verbose_name_plural = _("processus de recette")

    def __str__(self) -> str:
        return str(self.change_request)

    @property
    def subject(self) -> ChangeRequest:
        """What the process runs on, as the engine reads it (reference, title,
        organisation, get_absolute_url): task lists, permissions, reminders."""
        return self.change_request

    @property
    def landing_url(self) -> str:
        """Where a user lands after one of its tasks: the acceptance's page."""
        return reverse("recettes:detail", args=[self.change_request_id])
