"""The bench's defect page row: its floor reads what the page prints (bench/floors.py).
Timings belong to `make bench`; this checks what is measured."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from bench import floors
from recette import services
from recette.models import Defect, Execution


def test_the_defect_page_floor_reads_what_the_page_prints(world, client, campaign):
    tester, moe = world.user("cd23.testeur"), world.user("cnaf.moe")
    case = campaign.change_request.acceptance_plan.cases.first()
    failed = services.executions_record(
        pk=campaign.pk,
        by=tester,
        results=[{"case": case.pk, "result": Execution.Result.FAILED}],
    )[0]
    defect = services.defect_open(
        change_request_pk=campaign.change_request_id,
        by=tester,
        title="Écran blanc",
        severity=Defect.Severity.MAJOR,
        observed="Rien ne s'affiche",
        campaign_pk=campaign.pk,
        case_pk=case.pk,
        execution_pks=(failed.pk,),
        files=[SimpleUploadedFile("capture.png", b"\x89PNG\r\n\x1a\n" + b"0" * 8)],
    )
    services.defect_comment_add(pk=defect.pk, by=moe, text="Quel navigateur ?")
    services.defect_reject(pk=defect.pk, by=moe, reason="Comportement prévu")
    client.force_login(moe)

    page = client.get(reverse("recettes:defect", args=[defect.pk])).context
    request = RequestFactory().get("/")
    request.user = moe
    floor = json.loads(floors.defect_page_view(defect.pk)(request).content)

    printed = (
        len(page["executions"])
        + sum(len(e.evidence.all()) for e in page["executions"])
        + len(page["attachments"])
        + len(page["comments"])
        + len(page["history"])
    )
    assert len(floor["rows"]) == printed == 1 + 0 + 1 + 1 + 1
    assert floor["defect"]["observed"] == "Rien ne s'affiche"
    assert floor["defect"]["case__reference"] == case.reference
