from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest
from recette.demo import recette_demo_load
from recette.models import Campaign, Defect, Execution
from recette.selectors import campaign_figures


def test_demo_has_an_acceptance_in_progress_and_one_signed(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()

    recette_demo_load()
    recette_demo_load()  # a second run adds nothing

    in_progress = Campaign.objects.get(change_request__organisation__code="23")
    figures = campaign_figures(in_progress)
    assert 0 < figures["run"] < figures["planned"]
    assert figures[Execution.Result.FAILED] == 2
    assert set(
        Defect.objects.filter(change_request=in_progress.change_request).values_list(
            "severity", flat=True
        )
    ) == {"bloquante", "mineure"}
    signed = ChangeRequest.objects.get(
        organisation__code="57", status=ChangeRequest.Status.IN_PRODUCTION
    )
    assert signed.go_live_agreements.get().signatures.count() == 2
    assert Campaign.objects.count() == 2
