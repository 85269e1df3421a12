"""Client A's objects (Conseil départemental 23) for the authorization matrix.

The demo data stands requests of clients 23 and 57 at every step of EvolutionFlow
and one acceptance in progress for each; here client 23 also gets acceptances
standing at every step of RecetteFlow (each with a specification and a quote that
carry a document), plus the files a page serves: an attachment and an evidence.
Every step goes through the services and completes the flow's task, like a user's.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Case, Q, Value, When
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import ContactPoint, Organisation, Person
from evolutions import services as evolutions_services
from evolutions.demo import evolutions_demo_load
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release, ReleaseAnnouncement
from incidents.demo import STOPS as INCIDENT_STOPS
from incidents.demo import incident_at
from incidents.flows import IncidentFlow
from incidents.models import Incident, IncidentProcess
from recette import services as recette_services
from recette.demo import recette_demo_load
from recette.flows import RecetteFlow
from recette.models import Execution
from workflow.demo import DEMO_PASSWORD, complete_open_task, demo_totp_code

CODE = "23"
S = ChangeRequest.Status
E, R = EvolutionFlow, RecetteFlow
RESULT = Execution.Result

# Where a request of client A stops in RecetteFlow: the open task(s) it leaves.
RECETTE_STOPS = (
    "prepare_plan",
    "review_plan",
    "qualify",
    "deliver",
    "write_report",
    "signatures",
    "signed",
)


def _upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, f"Document {name} du client {CODE}.".encode())


@dataclass
class ClientA:
    """What the matrix's URLs point at: objects of client A only."""

    organisation: Organisation
    draft: ChangeRequest
    info_requested: ChangeRequest
    in_study: ChangeRequest
    in_acceptance: ChangeRequest  # the demo's campaign half run, with defects
    by_stop: dict[str, ChangeRequest] = field(default_factory=dict)
    attachment_pk: int = 0
    evidence_pk: int = 0
    defect_attachment_pk: int = 0
    announcement_pk: int = 0
    incidents: dict[str, Incident] = field(default_factory=dict)

    @property
    def plan_in_preparation(self) -> ChangeRequest:
        return self.by_stop["prepare_plan"]

    @property
    def signed(self) -> ChangeRequest:
        """Report submitted, agreement signed by both DSIs, process ended."""
        return self.by_stop["signed"]

    @property
    def campaign(self):
        return self.in_acceptance.campaigns.order_by("number").first()

    @property
    def case(self):
        return self.campaign.campaign_cases.order_by("case__position").first().case

    @property
    def execution(self):
        return Execution.objects.filter(campaign=self.campaign).order_by("pk").first()

    @property
    def defect(self):
        return self.in_acceptance.defects.order_by("number").first()

    @property
    def person(self) -> Person:
        return Person.objects.get(user__username=f"cd{CODE}.porteur")

    @property
    def contact_point(self) -> ContactPoint:
        return ContactPoint.objects.filter(organisation=self.organisation).first()

    def tasks(self, flow_class, node_name: str):
        """Tasks of client A's processes at `node_name`, open ones first."""
        process = f"process__{flow_class.process_class._meta.model_name}"
        return (
            Task.objects.filter(
                **{f"{process}__{flow_class.organisation_lookup}": self.organisation},
                flow_task=getattr(flow_class, node_name),
            )
            .annotate(
                is_open=Case(
                    When(status__in=[STATUS.NEW, STATUS.ASSIGNED], then=Value(1)),
                    default=Value(0),
                )
            )
            .order_by("-is_open", "pk")
            .select_related("owner")
        )

    def process(self, flow_class):
        """A process of client A in `flow_class` (the one of a signed request, of
        a closed incident)."""
        if flow_class is IncidentFlow:
            return IncidentProcess.objects.get(incident=self.incidents["closed"])
        return flow_class.process_class.objects.get(change_request=self.signed)


def build() -> ClientA:
    """Load the demo data, then client A's acceptances and files."""
    evolutions_demo_load()
    recette_demo_load()
    organisation = Organisation.objects.get(code=CODE)
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            Q(username__startswith="cnaf.") | Q(username__startswith=f"cd{CODE}.")
        )
    }
    ours = ChangeRequest.objects.filter(organisation=organisation)
    client_a = ClientA(
        organisation=organisation,
        draft=ours.get(status=S.DRAFT),
        info_requested=ours.get(status=S.INFO_REQUESTED),
        in_study=ours.get(status=S.IN_STUDY),
        in_acceptance=ours.get(status=S.IN_ACCEPTANCE, acceptance_plan__isnull=False),
    )
    release = Release.objects.order_by("production_date").first()
    for stop in RECETTE_STOPS:
        change_request = manufactured_request(organisation, users, release, stop)
        _acceptance_until(change_request, users, stop)
        client_a.by_stop[stop] = ChangeRequest.objects.get(pk=change_request.pk)

    client_a.attachment_pk = evolutions_services.attachment_add(
        pk=client_a.in_study.pk,
        by=users[f"cd{CODE}.porteur"],
        uploaded=_upload("a.txt"),
    ).pk
    client_a.evidence_pk = recette_services.evidence_add(
        execution_pk=client_a.execution.pk,
        by=users[f"cd{CODE}.testeur"],
        uploaded=_upload("preuve.txt"),
    ).pk
    client_a.defect_attachment_pk = recette_services.defect_attachments_add(
        pk=client_a.defect.pk,
        by=users[f"cd{CODE}.testeur"],
        files=[_upload("journal.txt")],
    )[0].pk
    for stop in INCIDENT_STOPS:
        client_a.incidents[stop] = incident_at(
            organisation, stop, domain=f"Matrice {stop}"
        )
    client_a.announcement_pk = evolutions_services.announcement_create(
        by=users["cnaf.contact"],
        release=release,
        kind=ReleaseAnnouncement.Kind.EVOLUTION,
        title="Version majeure",
        changes="Nouveaux contrôles.",
        schedule="Au printemps.",
    ).pk
    return client_a


def manufactured_request(organisation, users, release, stop: str) -> ChangeRequest:
    """A new request of client A (23) walked through EvolutionFlow, with its
    specification and quote documents, up to its acceptance; its title names the
    acceptance step where the caller will stop it."""
    porteur = users[f"cd{CODE}.porteur"]
    contact, commande, moe = (
        users["cnaf.contact"],
        users["cnaf.commande"],
        users["cnaf.moe"],
    )
    today = timezone.localdate()
    change_request = evolutions_services.change_request_create(
        by=porteur,
        organisation=organisation,
        title=f"Recette arrêtée à l'étape {stop}",
        kind=ChangeRequest.Kind.TECHNICAL,
        data_flows=["DSG"],
        description="Demande de la matrice d'autorisations.",
        expected_benefit="Vérifier qui voit quoi.",
    )
    pk = change_request.pk
    evolutions_services.change_request_submit(pk=pk, by=porteur)
    steps = (
        (
            E.review_submission,
            contact,
            lambda: evolutions_services.change_request_acknowledge(
                pk=pk, by=contact, order_owner=commande
            ),
        ),
        (
            E.write_specification,
            commande,
            lambda: evolutions_services.specification_issue(
                pk=pk, by=commande, summary="Périmètre.", document=_upload("cdc.txt")
            ),
        ),
        (
            E.review_specification,
            porteur,
            lambda: evolutions_services.specification_decide(
                pk=pk, by=porteur, validated=True
            ),
        ),
        (
            E.write_quote,
            commande,
            lambda: evolutions_services.quote_issue(
                pk=pk,
                by=commande,
                man_days=Decimal("3"),
                amount=Decimal("2100.00"),
                valid_until=today + timedelta(days=30),
                document=_upload("devis.txt"),
            ),
        ),
        (
            E.review_quote,
            porteur,
            lambda: evolutions_services.quote_decide(pk=pk, by=porteur, accepted=True),
        ),
        (
            E.propose_release,
            commande,
            lambda: evolutions_services.release_propose(
                pk=pk, by=commande, release=release
            ),
        ),
        (
            E.confirm_release,
            porteur,
            lambda: evolutions_services.release_decide(
                pk=pk, by=porteur, confirmed=True
            ),
        ),
        (
            E.start_manufacture,
            moe,
            lambda: evolutions_services.manufacture_start(pk=pk, by=moe),
        ),
        (
            E.finish_manufacture,
            moe,
            lambda: evolutions_services.manufacture_finish(pk=pk, by=moe),
        ),
    )
    for node, user, perform in steps:
        complete_open_task(
            node, user, perform, evolutionprocess__change_request=change_request
        )
    return change_request


def _acceptance_until(change_request, users, stop: str) -> None:
    """Walk RecetteFlow on `change_request` until the open task(s) of `stop`."""
    porteur, testeur = users[f"cd{CODE}.porteur"], users[f"cd{CODE}.testeur"]
    commande, moe = users["cnaf.commande"], users["cnaf.moe"]
    pk, today = change_request.pk, timezone.localdate()
    plan = recette_services.plan_prepare(change_request_pk=pk, by=commande)
    if stop == "prepare_plan":
        # One case typed in: the case pages have a case to change.
        recette_services.case_add(
            pk=plan.pk,
            by=commande,
            reference="CT-001",
            title="Saisir une déclaration",
            steps=[("Saisir", "Enregistrée")],
        )
        return

    def prepare():
        recette_services.plan_update(
            pk=plan.pk,
            by=commande,
            workload=2,
            start=today + timedelta(days=3),
            end=today + timedelta(days=10),
        )
        recette_services.case_add(
            pk=plan.pk,
            by=commande,
            reference="CT-001",
            title="Saisir une déclaration",
            steps=[("Saisir", "Enregistrée")],
        )
        recette_services.plan_submit(pk=plan.pk, by=commande)

    def campaign():
        return change_request.campaigns.order_by("number").last()

    def run_campaign():
        recette_services.executions_record(
            pk=campaign().pk,
            by=testeur,
            results=[
                {"case": case.pk, "result": RESULT.PASSED} for case in plan.cases.all()
            ],
        )
        recette_services.campaign_close(pk=campaign().pk, by=porteur)

    def write_report():
        report = recette_services.report_prepare(change_request_pk=pk, by=porteur)
        recette_services.report_update(pk=report.pk, by=porteur, verdict="favorable")
        recette_services.report_submit(pk=report.pk, by=porteur)

    def sign(user):
        agreement = change_request.go_live_agreements.last()
        return lambda: recette_services.agreement_sign(
            pk=agreement.pk,
            by=user,
            password=DEMO_PASSWORD,
            otp_token=demo_totp_code(user),
        )

    steps = (
        ("review_plan", R.prepare_plan, commande, prepare),
        (
            "qualify",
            R.review_plan,
            porteur,
            lambda: recette_services.plan_decide(
                pk=plan.pk, by=porteur, validated=True
            ),
        ),
        (
            "deliver",
            R.qualify,
            moe,
            lambda: recette_services.qualification_record(
                change_request_pk=pk, by=moe, passed=True, on=today
            ),
        ),
        (
            "run_campaign",
            R.deliver,
            moe,
            lambda: recette_services.delivery_record(
                change_request_pk=pk, by=moe, on=today, environment="Recette"
            ),
        ),
        ("write_report", R.run_campaign, porteur, run_campaign),
        ("signatures", R.write_report, porteur, write_report),
        ("sign_supplier", R.sign_client, users[f"cd{CODE}.dsi"], None),
        ("signed", R.sign_supplier, users["cnaf.dsi"], None),
    )
    for reached, node, user, perform in steps:
        complete_open_task(
            node,
            user,
            perform or sign(user),
            recetteprocess__change_request=change_request,
        )
        if reached == stop:
            return
    assert stop == "signed"


def put_task(task: Task, owner) -> None:
    """Leave the open `task` assigned to `owner`, or waiting to be taken (None)."""
    task.refresh_from_db()
    if task.owner_id == (owner.pk if owner else None):
        return
    if task.owner_id is not None:
        task.flow_task.activation_class(task).unassign()
        task.refresh_from_db()
    if owner is not None:
        task.flow_task.activation_class(task).assign(owner)


def task_states() -> dict[int, str]:
    """Every task's status, "open" for a task waiting or assigned (the rows only
    assign and release tasks): what the matrix must leave as it found it."""
    open_ = {STATUS.NEW, STATUS.ASSIGNED}
    return {
        pk: "open" if status in open_ else status
        for pk, status in Task.objects.values_list("pk", "status")
    }
