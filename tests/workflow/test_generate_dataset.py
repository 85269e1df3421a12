"""`manage.py generate_dataset`: bulk data that the real pages, flows and access
rules accept as their own, at a tiny scale of the large tier."""

import hashlib
import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from bench.dataset.core import LARGE, TIERS, Volumes
from evolutions.consistency import STEP_OF_STATUS
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, EvolutionProcess
from recette.flows import RecetteFlow
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    CampaignCase,
    Defect,
    Execution,
    RecetteProcess,
    TestCase,
    TestStep,
)
from workflow import audit
from workflow.models import AuditEntry, TransitionLog

S = ChangeRequest.Status
SCALE = 0.002
# The task a request waits on, by its status (EvolutionFlow).
OPEN_TASK = STEP_OF_STATUS


@pytest.fixture
def dataset(world, tmp_path, settings):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    path = tmp_path / "dataset.json"
    call_command("generate_dataset", "--scale", str(SCALE), "--manifest", str(path))
    return json.loads(path.read_text())


def _open_tasks(**filters):
    return Task.objects.filter(
        flow_task_type="HUMAN", status__in=[STATUS.NEW, STATUS.ASSIGNED], **filters
    )


def test_tiers_are_fractions_of_the_large_one():
    small = LARGE.scaled(TIERS["small"])

    assert small == Volumes(
        change_requests=2_000,
        plans=200,
        cases=10_000,
        campaigns=600,
        executions=100_000,
        defects=5_000,
    )
    assert LARGE.scaled(TIERS["large"]) == LARGE


def test_counts_follow_the_scale(dataset):
    volumes = LARGE.scaled(SCALE)

    assert dataset["volumes"] == volumes.__dict__
    assert ChangeRequest.objects.count() == volumes.change_requests
    # Every acceptance has its plan from the start; the volume counts the plans
    # written so far (those with cases).
    assert AcceptancePlan.objects.count() == RecetteProcess.objects.count()
    prepared = AcceptancePlan.objects.filter(cases__isnull=False).distinct()
    assert prepared.count() == volumes.plans
    assert TestCase.objects.count() == volumes.cases
    assert Campaign.objects.count() == volumes.campaigns
    assert Execution.objects.count() == pytest.approx(volumes.executions, rel=0.02)
    assert Defect.objects.count() == pytest.approx(volumes.defects, rel=0.05)
    assert set(ChangeRequest.objects.values_list("status", flat=True)) == set(S.values)
    steps = TestStep.objects.order_by().values("case").annotate(n=Count("pk"))
    assert {row["n"] for row in steps} <= set(range(3, 9))


def test_notable_objects_are_in_the_manifest(dataset):
    detail = ChangeRequest.objects.get(pk=dataset["detail_30"])
    history = TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(ChangeRequest),
        object_id=detail.pk,
    )
    campaign = Campaign.objects.get(pk=dataset["campaign_500"])
    report = ChangeRequest.objects.get(pk=dataset["report_2000"])

    assert history.count() == dataset["detail_30_history"] == 30
    assert campaign.status == Campaign.Status.OPEN
    assert campaign.campaign_cases.count() == dataset["campaign_500_cases"]
    assert (
        Execution.objects.filter(campaign__change_request=report).count()
        == dataset["report_2000_executions"]
    )
    assert report.defects.count() == dataset["report_2000_defects"]
    assert report.acceptance_report.status == "brouillon"
    assert dataset["accounts"]["cnaf.contact"]["inbox"] >= 1
    assert dataset["users"]["client_owner"] == dataset["client_owner"] == "cd23.porteur"


@pytest.mark.parametrize("username", ["cnaf.contact", "cd23.porteur", "cnaf.moe"])
def test_real_pages_work_on_generated_objects(dataset, client, world, username):
    client.force_login(world.user(username))
    campaign = dataset["campaign_500"]
    urls = [
        reverse("evolutions:index"),
        dataset["detail_30_url"],
        "/",
        "/?processus=taches-evolutions",
        "/?processus=taches-recettes",
        reverse("recettes:index"),
        reverse("recettes:grid", args=[campaign]),
        reverse("recettes:dashboard", args=[campaign]),
        dataset["report_2000_detail_url"],
        dataset["report_2000_url"],
    ]

    for url in urls:
        assert client.get(url).status_code == 200, url


def test_every_generated_request_page_opens_for_the_supplier(dataset, client, world):
    client.force_login(world.user("cnaf.contact"))

    for pk in ChangeRequest.objects.exclude(status=S.DRAFT).values_list(
        "pk", flat=True
    ):
        assert client.get(reverse("evolutions:detail", args=[pk])).status_code == 200
    for pk in AcceptancePlan.objects.values_list("change_request", flat=True):
        assert client.get(reverse("recettes:detail", args=[pk])).status_code == 200
    for pk in Campaign.objects.values_list("pk", flat=True):
        assert client.get(reverse("recettes:grid", args=[pk])).status_code == 200


@pytest.mark.parametrize("username", ["cnaf.contact", "cd23.porteur"])
def test_inbox_shows_generated_tasks(dataset, client, world, username):
    user = world.user(username)
    tasks = _open_tasks(owner=user, status=STATUS.ASSIGNED)
    references = ChangeRequest.objects.filter(process__task__in=tasks).values_list(
        "reference", flat=True
    )
    client.force_login(user)

    page = client.get("/", {"processus": "taches-evolutions"}).content.decode()

    assert references
    assert any(reference in page for reference in references)


def test_client_does_not_see_another_clients_generated_requests(dataset, client, world):
    client.force_login(world.user("cd57.porteur"))
    theirs = ChangeRequest.objects.filter(organisation__code="23")
    ours = ChangeRequest.objects.filter(organisation__code="57")

    listed = client.get(reverse("evolutions:index"), {"page": 1}).content.decode()
    queue = client.get("/").content.decode()

    assert ours.exists()
    assert not any(cr.reference in listed + queue for cr in theirs)
    assert (
        client.get(
            reverse("evolutions:detail", args=[dataset["detail_30"]])
        ).status_code
        == 404
    )
    assert (
        client.get(reverse("recettes:grid", args=[dataset["campaign_500"]])).status_code
        == 404
    )


def test_audit_journal_holds_every_generated_transition(dataset):
    call_command("verify_audit")

    assert audit.verify().intact
    assert AuditEntry.objects.filter(action="transition").count() == (
        TransitionLog.objects.count()
    )
    assert AuditEntry.objects.filter(action="signature").exists()


def test_generated_history_follows_the_lifecycles(dataset):
    for log in TransitionLog.objects.select_related("content_type"):
        model = log.content_type.model_class()
        legal = {
            (t.source, t.target)
            for t in getattr(model, log.transition).get_transitions()
        }
        assert (log.source, log.target) in legal, (model, log.transition, log.source)


def test_generated_processes_wait_where_their_request_stands(dataset):
    for cr in ChangeRequest.objects.all():
        process = EvolutionProcess.objects.filter(change_request=cr).first()
        open_nodes = {
            t.flow_task.name
            for t in _open_tasks(process__evolutionprocess__change_request=cr)
        }
        if cr.status in OPEN_TASK:
            assert process.status == PROCESS.NEW
            assert open_nodes == {OPEN_TASK[cr.status]}, cr.status
        elif cr.status in (S.IN_ACCEPTANCE, S.IN_PRODUCTION):
            assert process.status == PROCESS.DONE
            assert cr.recette_process.status == (
                PROCESS.DONE if cr.status == S.IN_PRODUCTION else PROCESS.NEW
            )
        else:
            assert open_nodes == set()
            assert process is None or process.status == PROCESS.CANCELED
    # Open campaigns are the last of their request; production has no open defect
    # that blocks.
    for campaign in Campaign.objects.filter(status=Campaign.Status.OPEN):
        assert campaign.number == campaign.change_request.campaigns.count()
    assert not Defect.objects.filter(
        change_request__status=S.IN_PRODUCTION,
        severity=Defect.Severity.BLOCKING,
        status__in=Defect.UNRESOLVED,
    ).exists()
    assert not CampaignCase.objects.exclude(
        case__plan__change_request=F("campaign__change_request")
    ).exists()


def test_generated_processes_pass_the_consistency_check(dataset):
    """Every generated request and acceptance: status, open tasks and documents
    agree (what `manage.py check_consistency` checks)."""
    call_command("check_consistency")


def test_submitted_bilans_are_stored_as_report_submit_stores_them(dataset):
    """A submitted bilan is served from its stored PDF, as in production: the
    file's SHA-256 is the one the agreement, its signatures and their journal
    entries are on."""
    submitted = AcceptanceReport.objects.filter(
        status=AcceptanceReport.Status.SUBMITTED
    ).select_related("change_request")
    assert submitted.exists()
    signed = set()
    for report in submitted:
        with report.document.open("rb") as stored:
            content = stored.read()
        assert content.startswith(b"%PDF")
        assert hashlib.sha256(content).hexdigest() == report.document_sha256
        agreement = report.change_request.go_live_agreements.get()
        assert agreement.report_sha256 == report.document_sha256
        assert agreement.report_document.name == report.document.name
        for signature in agreement.signatures.all():
            assert signature.report_sha256 == report.document_sha256
            signed.add(signature.pk)
    journalled = {
        entry.subject_id: entry.detail["report_sha256"]
        for entry in AuditEntry.objects.filter(action=AuditEntry.Action.SIGNATURE)
    }
    assert signed and signed <= {int(pk) for pk in journalled}
    hashes = set(submitted.values_list("document_sha256", flat=True))
    assert {journalled[str(pk)] for pk in signed} <= hashes
    assert audit.verify().intact


def test_generated_tasks_are_completed_by_the_real_flows(dataset, client, world):
    contact, commande, moe = (
        world.user("cnaf.contact"),
        world.user("cnaf.commande"),
        world.user("cnaf.moe"),
    )
    submitted = _open_tasks(
        owner=contact, flow_task=EvolutionFlow.review_submission
    ).first()
    detail = ChangeRequest.objects.get(pk=dataset["detail_30"])  # to be qualified
    today = timezone.localdate().isoformat()

    client.force_login(contact)
    acknowledged = client.post(
        EvolutionFlow.review_submission.reverse(
            "execute", args=[submitted.process_id, submitted.pk]
        ),
        {"decision": "acknowledge", "order_owner": commande.pk},
    )
    client.force_login(moe)
    for node, data in (
        (RecetteFlow.qualify, {"passed": "yes", "on": today}),
        (RecetteFlow.deliver, {"on": today, "environment": "REC"}),
    ):
        task = _open_tasks(
            process__recetteprocess__change_request=detail, flow_task=node
        ).get()
        args = [task.process_id, task.pk]
        if task.owner_id is None:
            assert client.post(node.reverse("assign", args=args)).status_code == 302
        response = client.post(node.reverse("execute", args=args), data)
        assert response.status_code == 302, response.content.decode()[:2000]

    cr = ChangeRequest.objects.get(process=submitted.process_id)
    assert acknowledged.status_code == 302
    assert cr.status == S.IN_STUDY
    assert _open_tasks(
        process=submitted.process_id, flow_task=EvolutionFlow.write_specification
    ).exists()
    assert detail.campaigns.get().campaign_cases.count() == (
        detail.acceptance_plan.cases.count()
    )
    assert audit.verify().intact


def test_a_second_generation_is_refused_unless_forced(dataset, tmp_path):
    path = tmp_path / "again.json"

    with pytest.raises(CommandError, match="existe déjà"):
        call_command("generate_dataset", "--scale", str(SCALE), "--manifest", str(path))
    call_command(
        "generate_dataset", "--scale", str(SCALE), "--manifest", str(path), "--force"
    )

    assert ChangeRequest.objects.count() == 2 * LARGE.scaled(SCALE).change_requests
    assert len(set(ChangeRequest.objects.values_list("reference", flat=True))) == (
        ChangeRequest.objects.count()
    )
    assert audit.verify().intact
