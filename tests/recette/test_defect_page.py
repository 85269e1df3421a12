"""The defect page: raised from a case with its place and files, read by both
sides, discussed, moved with a confirmation, its history; nothing leaks."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from recette import services
from recette.models import Defect, Execution
from workflow.models import Notification

R = Execution.Result
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 8


def _png(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def failed(world, campaign):
    """CT-001 failed in the campaign, with the tester's comment."""
    case = campaign.change_request.acceptance_plan.cases.first()
    return services.executions_record(
        pk=campaign.pk,
        by=world.user("cd23.testeur"),
        results=[{"case": case.pk, "result": R.FAILED, "comment": "Erreur 500"}],
    )[0]


@pytest.fixture
def defect(world, campaign, failed):
    return services.defect_open(
        change_request_pk=campaign.change_request_id,
        by=world.user("cd23.testeur"),
        title="Écran blanc MARQUEUR23",
        severity=Defect.Severity.MAJOR,
        description="Après validation du formulaire.",
        steps_to_reproduce="1. Agir",
        expected="Constater",
        observed="Une page blanche",
        campaign_pk=campaign.pk,
        case_pk=failed.case_id,
        step=1,
        execution_pks=(failed.pk,),
        files=[_png("capture.png")],
    )


def test_a_defect_raised_from_a_case_comes_filled_in_and_takes_files(
    world, client, campaign, failed
):
    cr = campaign.change_request
    client.force_login(world.user("cd23.testeur"))
    url = reverse("recettes:defect_new", args=[cr.pk])
    query = f"?campagne={campaign.pk}&cas={failed.case_id}&etape=1"

    form = client.get(url + query).context["form"]
    created = client.post(
        url + query,
        {
            "title": "Écran blanc",
            "severity": "majeure",
            "campaign": form.initial["campaign"],
            "case": form.initial["case"],
            "step": form.initial["step"],
            "steps_to_reproduce": form.initial["steps_to_reproduce"],
            "expected": form.initial["expected"],
            "observed": form.initial["observed"],
            "executions": form.initial["executions"],
            "files": [_png("un.png"), _png("deux.png")],
        },
    )

    assert (form.initial["step"], form.initial["expected"]) == (1, "Constater")
    assert form.initial["steps_to_reproduce"] == "1. Agir"
    assert form.initial["observed"] == "Erreur 500"
    assert form.initial["executions"] == [failed.pk]
    defect = cr.defects.get()
    assert created.status_code == 302
    assert created["Location"] == reverse("recettes:defect", args=[defect.pk])
    assert (defect.campaign, defect.case_id, defect.step) == (
        campaign,
        failed.case_id,
        1,
    )
    assert sorted(a.original_name for a in defect.attachments.all()) == [
        "deux.png",
        "un.png",
    ]
    assert list(defect.executions.all()) == [failed]


def test_a_bad_file_keeps_what_was_typed_and_stores_nothing(world, client, campaign):
    cr = campaign.change_request
    client.force_login(world.user("cd23.testeur"))

    answer = client.post(
        reverse("recettes:defect_new", args=[cr.pk]),
        {
            "title": "Titre tapé",
            "severity": "mineure",
            "observed": "Observation tapée",
            "files": [_png("bon.png"), SimpleUploadedFile("faux.png", b"%PDF-1.4")],
        },
    )

    page = answer.content.decode()
    assert answer.status_code == 400
    assert not cr.defects.exists()
    assert "Titre tapé" in page and "Observation tapée" in page
    assert "faux.png" in page and "choisissez-les de nouveau" in page


def test_the_place_of_a_defect_must_belong_to_its_acceptance(world, campaign, failed):
    cr = campaign.change_request
    tester = world.user("cd23.testeur")

    def raise_with(**place):
        return services.defect_open(
            change_request_pk=cr.pk, by=tester, title="T", severity="mineure", **place
        )

    with pytest.raises(ValidationError, match="pas d'étape 9"):
        raise_with(case_pk=failed.case_id, step=9)
    with pytest.raises(ValidationError, match="dans un cas de test"):
        raise_with(step=1)
    with pytest.raises(ValidationError, match="campagne n'appartient pas"):
        raise_with(campaign_pk=campaign.pk + 1000)
    assert not cr.defects.exists()


def test_both_sides_read_the_whole_defect_and_client_57_nothing(world, client, defect):
    url = reverse("recettes:defect", args=[defect.pk])
    attachment = defect.attachments.get()
    file_url = reverse("recettes:defect_attachment", args=[attachment.pk])

    for username in ("cd23.testeur", "cnaf.moe", "cnaf.commande"):
        client.force_login(world.user(username))
        page = client.get(url).content.decode()
        for shown in (
            "ANO-001",
            "Écran blanc MARQUEUR23",
            "Majeure",
            "Après validation du formulaire.",
            "Une page blanche",
            "capture.png",
            "CT-001",
            reverse("recettes:case", args=[defect.campaign_id, defect.case_id]),
            reverse("recettes:detail", args=[defect.change_request_id]),
        ):
            assert shown in page, (username, shown)
        assert client.get(file_url).status_code == 200
    client.force_login(world.user("cd57.porteur"))
    for foreign in (
        client.get(url),
        client.get(file_url),
        client.get(reverse("recettes:defect_action", args=[defect.pk, "rouvrir"])),
        client.post(
            reverse("recettes:defect_comment", args=[defect.pk]), {"text": "x"}
        ),
    ):
        assert foreign.status_code == 404
        assert "MARQUEUR23" not in foreign.content.decode()


def test_every_defect_reference_on_the_acceptance_page_is_a_link(world, client, defect):
    client.force_login(world.user("cd23.porteur"))
    page = client.get(reverse("recettes:detail", args=[defect.change_request_id]))

    link = reverse("recettes:defect", args=[defect.pk])
    assert f'<a href="{link}">ANO-001</a>' in page.content.decode()


def test_both_sides_write_in_the_thread_and_the_other_side_is_told(
    world, client, defect
):
    url = reverse("recettes:defect_comment", args=[defect.pk])
    client.force_login(world.user("cnaf.moe"))
    asked = client.post(url, {"text": "Quel navigateur ? <script>x</script>"})
    client.force_login(world.user("cd23.testeur"))
    answered = client.post(url, {"text": "Firefox 140"})
    empty = client.post(url, {"text": "   "})

    page = client.get(reverse("recettes:defect", args=[defect.pk])).content.decode()
    assert (asked.status_code, answered.status_code, empty.status_code) == (
        302,
        302,
        400,
    )
    assert [c.text for c in defect.comments.all()] == [
        "Quel navigateur ? <script>x</script>",
        "Firefox 140",
    ]
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    assert "(CNAF)" in page and "(Creuse)" in page
    told = Notification.objects.filter(event__startswith="defect_commented:")
    assert "cd23.testeur@" in " ".join(told.values_list("recipient_email", flat=True))
    assert world.user("cnaf.moe").email not in told.filter(
        body_text__contains="Quel navigateur"
    ).values_list("recipient_email", flat=True)


def test_a_move_is_explained_then_confirmed_with_its_reason(world, client, defect):
    url = reverse("recettes:defect_action", args=[defect.pk, "rejeter"])
    client.force_login(world.user("cd23.testeur"))
    not_theirs = client.get(url)
    client.force_login(world.user("cnaf.moe"))
    offered = client.get(reverse("recettes:defect", args=[defect.pk]))
    asked = client.get(url)
    without_reason = client.post(url, {"reason": "  "})
    unchanged = Defect.objects.get(pk=defect.pk).status
    done = client.post(url, {"reason": "Comportement prévu au §3"})

    assert not_theirs.status_code == 403
    assert url in offered.content.decode()
    assert asked.status_code == 200
    assert "Rejeter l'anomalie" in html.unescape(asked.content.decode())
    assert "Le client pourra accepter le rejet" in asked.content.decode()
    assert (without_reason.status_code, unchanged) == (400, Defect.Status.OPEN)
    assert "Le motif du rejet est obligatoire." in without_reason.content.decode()
    assert done.status_code == 302
    page = client.get(reverse("recettes:defect", args=[defect.pk])).content.decode()
    assert "Rejetée par le fournisseur" in page
    assert "Comportement prévu au §3" in page  # the history's why
    assert world.user("cnaf.moe").get_full_name() in page


def test_files_are_joined_by_either_side_all_or_none(world, client, defect):
    url = reverse("recettes:defect_files", args=[defect.pk])
    client.force_login(world.user("cnaf.moe"))

    joined = client.post(url, {"files": [_png("log1.png"), _png("log2.png")]})
    refused = client.post(
        url, {"files": [_png("ok.png"), SimpleUploadedFile("x.png", b"%PDF-1.4")]}
    )

    assert (joined.status_code, refused.status_code) == (302, 400)
    assert defect.attachments.count() == 3


def test_once_the_acceptance_is_over_the_defect_no_longer_moves(world, client, defect):
    process = defect.change_request.recette_process
    process.status = "DONE"
    process.save(update_fields=["status"])
    client.force_login(world.user("cnaf.moe"))

    page = client.get(reverse("recettes:defect", args=[defect.pk]))
    comment = client.post(
        reverse("recettes:defect_comment", args=[defect.pk]), {"text": "Tard"}
    )

    assert page.context["actions"] == [] and page.context["comment_form"] is None
    assert "La recette est terminée" in page.content.decode()
    assert comment.status_code == 409
    assert not defect.comments.exists()


def test_the_defect_page_costs_the_same_with_1_and_12_messages(
    world, client, defect, django_assert_max_num_queries
):
    url = reverse("recettes:defect", args=[defect.pk])
    client.force_login(world.user("cnaf.moe"))
    client.get(url)  # process-wide caches (content types) filled, as in a live server
    counts = []
    for more in (1, 11):
        for n in range(more):
            services.defect_comment_add(
                pk=defect.pk, by=world.user("cd23.testeur"), text=f"Message {n}"
            )
            services.defect_attachments_add(
                pk=defect.pk, by=world.user("cnaf.moe"), files=[_png(f"f{n}.png")]
            )
        with django_assert_max_num_queries(40) as captured:
            client.get(url)
        counts.append(len(captured))

    assert counts[0] == counts[1]


def test_an_empty_post_is_told_what_is_missing(world, client, defect):
    client.force_login(world.user("cnaf.moe"))

    answer = client.post(reverse("recettes:defect_action", args=[defect.pk, "rejeter"]))

    assert answer.status_code == 400
    assert "Le motif du rejet est obligatoire." in answer.content.decode()
    assert Defect.objects.get(pk=defect.pk).status == Defect.Status.OPEN
