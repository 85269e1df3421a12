"""The bench's measure of issue 17's exports: a campaign's results (CSV) from a
campaign of 5,000 executions, against its floor, one statement reading the same
columns (bench/floors.py). Timings belong to `make bench`; these tests check what
is measured, and that the dataset provides the campaign."""

import json
from datetime import UTC
from types import SimpleNamespace

from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bench import floors, run, subjects
from bench.dataset.core import TIERS
from bench.dataset.recette import notable_sizes
from recette.models import Campaign, Execution
from workflow.exports import person_name

R = Execution.Result
SCALE = 0.002  # of the large tier: the notable objects scaled down too


def _floor_rows(campaign) -> list[list]:
    request = RequestFactory().get("/")
    return json.loads(floors.campaign_results_view(campaign.pk)(request).content)[
        "rows"
    ]


def test_the_floor_returns_the_rows_the_export_writes(demo, client, read_export):
    campaign = Campaign.objects.get(organisation__code="23")
    client.force_login(demo.user("cd23.porteur"))
    labels = dict(R.choices)

    exported = read_export(
        client.get(reverse("recettes:campaign_export_csv", args=[campaign.pk]))
    )
    read = _floor_rows(campaign)

    assert len(read) == campaign.campaign_cases.count() == len(exported) - 1 > 0
    assert {row[5] for row in read} > {None}  # run and never run cases alike
    assert [
        [
            row[0],
            row[1],
            person_name(*row[2:5]),
            str(labels[row[5] or R.TO_RUN]),
            person_name(*row[6:9]),
            _local(row[9]),
            row[10] or "",
        ]
        for row in read
    ] == exported[1:]


def _local(moment: str | None) -> str:
    """A date read by the floor (raw SQL, as JSON), as the export writes it."""
    if moment is None:
        return ""
    parsed = parse_datetime(moment)
    if timezone.is_naive(parsed):  # SQLite: UTC without its zone
        parsed = parsed.replace(tzinfo=UTC)
    return timezone.localtime(parsed).strftime("%d/%m/%Y %H:%M")


def test_the_bench_measures_the_export_against_its_floor(demo, settings):
    settings.ROOT_URLCONF = "bench.urls"  # the floors' route, as the bench mounts it
    chosen = subjects.load(manifests=[], tier="test")

    measured = {
        item.name: item for item in run.measures(chosen, repeat=1, pdf_repeat=1)
    }

    item = measured["campaign_results_export"]
    assert item.kind == "page" and item.memory
    cases = chosen.export_campaign.campaign_cases.count()
    assert item.rows == cases > 0
    assert item.extra == {"executions": chosen.export_campaign.executions.count()}
    content = item.ours()
    assert content.startswith("\ufeffCas;Intitulé;Testeur".encode())
    assert content.count(b"\r\n") == cases + 1
    assert len(json.loads(item.floor().content)["rows"]) == cases


def test_the_small_tier_has_a_campaign_of_5000_executions():
    sizes = notable_sizes(SimpleNamespace(scale=TIERS["small"]))

    assert sizes["campaign_5000_executions"] == subjects.EXPORT_EXECUTIONS == 5000
    assert sizes["campaign_5000_cases"] == 1000


def test_the_dataset_names_the_exported_campaign_every_case_of_it_run(
    world, tmp_path, settings
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    path = tmp_path / "dataset.json"
    call_command("generate_dataset", "--scale", str(SCALE), "--manifest", str(path))
    manifest = json.loads(path.read_text())

    campaign = Campaign.objects.get(pk=manifest["campaign_5000"])
    chosen = subjects.load(manifests=[path], tier=None)

    assert chosen.export_campaign == campaign
    assert campaign.organisation.code == "23"
    sizes = notable_sizes(SimpleNamespace(scale=SCALE))
    assert (
        campaign.executions.count()
        == manifest["campaign_5000_executions"]
        == sizes["campaign_5000_executions"]
    )
    assert (
        campaign.campaign_cases.count()
        == manifest["campaign_5000_cases"]
        == sizes["campaign_5000_cases"]
    )
    run_cases = campaign.executions.values("case").distinct().count()
    assert run_cases == campaign.campaign_cases.count()
