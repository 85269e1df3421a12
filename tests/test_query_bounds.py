"""Query counts of the benchmarked pages stay flat as the data grows (issue 7).

Each page is requested twice, on a small and on a larger amount of the same kind of
data, after a warm-up request; the number of queries must not change. Timings live
in `make bench`, not here.
"""

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Role
from evolutions import services as evolution_services
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette import services
from recette.models import Execution
from tests.conftest import campaign_with_cases as _campaign
from tests.evolutions.test_pages import _drafts
from tests.recette.test_pages import _reset
from workflow.models import TransitionLog

R = Execution.Result


def _submitted(world, count: int) -> None:
    """`count` needs expressions of client 23, submitted to the supplier."""
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    _drafts(world, count)
    for cr in ChangeRequest.objects.filter(status=ChangeRequest.Status.DRAFT):
        evolution_services.change_request_submit(pk=cr.pk, by=porteur)


def _queries(client, url, **kwargs) -> int:
    """Queries of one GET, after a warm-up GET (sessions, content types)."""
    client.get(url, **kwargs)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code in (200, 302), response.status_code
    return len(queries)


def test_change_request_list_filtered_costs_the_same_on_page_1_and_page_3(
    world, client
):
    _submitted(world, 60)
    client.force_login(world.user("cnaf.contact"))
    url = reverse("evolutions:index")
    filtered = {"status": ChangeRequest.Status.SUBMITTED, "q": "Besoin"}

    first = _queries(client, url, data={**filtered, "page": 1})
    third = _queries(client, url, data={**filtered, "page": 3})

    assert first == third


def test_detail_costs_the_same_with_3_and_30_history_rows(world, client):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    cr = evolution_services.change_request_create(
        by=porteur, organisation=world.creuse, title="Historique",
        kind="technique", data_flows=["DSG"], description="x",
    )  # fmt: skip
    client.force_login(porteur)  # a draft: only its owner's organisation sees it
    url = reverse("evolutions:detail", args=[cr.pk])
    counts = []
    for total in (3, 30):
        existing = TransitionLog.objects.filter(object_id=cr.pk).count()
        TransitionLog.objects.bulk_create(
            TransitionLog(
                content_type=ContentType.objects.get_for_model(cr),
                object_id=cr.pk,
                organisation=cr.organisation,
                transition="request_information",
                source="soumise",
                target="complement_demande",
                by=world.user("cnaf.contact"),
                comment=f"Question {n}",
            )
            for n in range(total - existing)
        )
        counts.append(_queries(client, url))

    assert counts[0] == counts[1], counts


@pytest.fixture
def acceptance(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return world


def _record(client, campaign, cases, result=R.PASSED):
    return client.post(
        reverse("recettes:record", args=[campaign.pk]),
        json.dumps({"results": [{"case": c.pk, "result": result} for c in cases]}),
        content_type="application/json",
    )


def test_recording_5_or_100_results_in_one_submit_costs_the_same(acceptance, client):
    world = acceptance
    client.force_login(world.user("cd23.testeur"))
    counts = []
    for size in (5, 100):
        campaign = _campaign(world, cases=size)
        cases = list(campaign.change_request.acceptance_plan.cases.all())
        _record(client, campaign, cases[:1], R.BLOCKED)  # warm-up
        with CaptureQueriesContext(connection) as queries:
            response = _record(client, campaign, cases)
        assert response.status_code == 200, response.content
        assert Execution.objects.filter(campaign=campaign).count() == size + 1
        counts.append(len(queries))
        _reset(campaign.change_request)

    assert counts[0] == counts[1], counts


def _reported(world, size: int):
    """An acceptance whose report covers `size` executions and size/5 defects."""
    campaign = _campaign(world, cases=size)
    testeur, porteur = world.user("cd23.testeur"), world.user("cd23.porteur")
    cases = list(campaign.change_request.acceptance_plan.cases.all())
    executions = services.executions_record(
        pk=campaign.pk,
        by=testeur,
        results=[
            {"case": c.pk, "result": R.FAILED if n % 5 == 0 else R.PASSED}
            for n, c in enumerate(cases)
        ],
    )
    failed = [e for e in executions if e.result == R.FAILED]
    for number, execution in enumerate(failed):
        services.defect_open(
            change_request_pk=campaign.change_request.pk, by=testeur,
            title=f"Anomalie {number}", severity="mineure", description="",
            execution_pks=(execution.pk,),
        )  # fmt: skip
    services.campaign_close(pk=campaign.pk, by=porteur)
    cr = campaign.change_request
    report = services.report_prepare(change_request_pk=cr.pk, by=porteur)
    services.report_update(pk=report.pk, by=porteur, verdict="favorable")
    return campaign


def test_report_figures_and_bilan_pdf_cost_the_same_with_10_and_100_executions(
    acceptance, client
):
    from recette.selectors import report_figures

    world = acceptance
    client.force_login(world.user("cnaf.dsi"))
    figures, pdfs = [], []
    for size in (10, 100):
        campaign = _reported(world, size)
        cr = ChangeRequest.objects.get(pk=campaign.change_request.pk)
        report_figures(cr)
        with CaptureQueriesContext(connection) as queries:
            report_figures(cr)
        figures.append(len(queries))
        pdfs.append(_queries(client, reverse("recettes:report_pdf", args=[cr.pk])))
        _reset_report(cr)
        _reset(cr)

    assert figures[0] == figures[1], figures
    assert pdfs[0] == pdfs[1], pdfs


def test_report_figures_cost_the_same_with_one_and_three_campaigns(acceptance):
    from recette.models import Campaign
    from recette.selectors import report_figures

    world = acceptance
    moe, porteur = world.user("cnaf.moe"), world.user("cd23.porteur")
    campaign = _campaign(world, cases=5)
    cr = ChangeRequest.objects.get(pk=campaign.change_request.pk)

    def queries() -> int:
        report_figures(cr)
        with CaptureQueriesContext(connection) as captured:
            figures = report_figures(cr)
        assert (
            len(figures["campaigns"])
            == Campaign.objects.filter(change_request=cr).count()
        )
        return len(captured)

    counts = [queries()]
    for _retest in range(2):
        cases = [c.case_id for c in campaign.campaign_cases.all()]
        services.executions_record(
            pk=campaign.pk,
            by=world.user("cd23.testeur"),
            results=[{"case": pk, "result": R.FAILED} for pk in cases],
        )
        services.campaign_close(
            pk=campaign.pk, by=porteur, outcome=Campaign.Outcome.FIXES
        )
        campaign = services.delivery_record(
            change_request_pk=cr.pk, by=moe, on=timezone.localdate(), environment="REC"
        )
    counts.append(queries())

    assert Campaign.objects.filter(change_request=cr).count() == 3
    assert counts[0] == counts[1], counts


def _reset_report(change_request):
    from recette.models import AcceptanceReport, Defect

    AcceptanceReport.objects.filter(change_request=change_request).delete()
    for defect in Defect.objects.filter(change_request=change_request):
        defect.executions.clear()
    Defect.objects.filter(change_request=change_request).delete()


def test_my_tasks_pages_are_french_and_cost_the_same_on_page_1_and_2(world, client):
    """« Mes tâches » (which replaced viewflow's inbox and queue) pages its list."""
    from workflow.mytasks import PAGE_SIZE

    _submitted(world, PAGE_SIZE + 1)
    client.force_login(world.user("cnaf.contact"))

    first = client.get("/")
    with CaptureQueriesContext(connection) as page_one:
        client.get("/")
    with CaptureQueriesContext(connection) as page_two:
        second = client.get("/", {"page": 2})

    page = first.content.decode()
    assert "Page 1 / 2" in page
    assert "page=2" in page and "Suivante" in page
    assert second.content.decode().count("Besoin ") == 1
    assert len(page_two) <= len(page_one)
