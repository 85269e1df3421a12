"""Each acceptance task page shows what its actor decides on (issue 17): the plan's
cases, schedule and margin in working days for the client validating it, the
figures and open defects for closing a campaign or writing the report, what a DSI
signs (verdict, reserves, figures, the bilan and its SHA-256), the defects a
delivery may claim fixed; every button says the decision; a plan that eats the
margin is submitted only with a written justification. What users typed comes back
as text, and nothing of the other client (57) shows."""

import hashlib
import html
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django_otp.plugins.otp_totp.models import TOTPDevice

from evolutions.models import ChangeRequest, Release
from recette import services
from recette.demo import _step
from recette.flows import RecetteFlow
from recette.models import AcceptancePlan, Campaign, Defect, Execution
from tests.recette.test_flow_http import _act, _open_task, _signing
from tests.recette.test_pdf import all_text

F = RecetteFlow
R = Execution.Result
P = AcceptancePlan.Status

PAYLOAD = '<script>alert("x")</script><b>gras</b>'
ESCAPED = html.escape(PAYLOAD)  # as Django's autoescape writes it
# Client 57's own acceptance: none of it may show on client 23's pages.
MOSELLE = "Cas propre à la Moselle"

# A release of our own, its dates fixed: production on Monday 17 March 2031.
PRODUCTION = date(2031, 3, 17)


def _day(value: date) -> str:
    return date_format(value, "SHORT_DATE_FORMAT")


@pytest.fixture
def people(world):
    class People:
        porteur = world.user("cd23.porteur")
        testeur = world.user("cd23.testeur")
        commande = world.user("cnaf.commande")
        moe = world.user("cnaf.moe")
        dsi_client = world.user("cd23.dsi")
        dsi_cnaf = world.user("cnaf.dsi")

    return People


@pytest.fixture
def cr(acceptance, settings):
    """Client 23's acceptance at its plan's preparation, planned into a release
    going into production on PRODUCTION, a margin of 10 working days asked; client
    57's acceptance holds a case of its own."""
    settings.TANDEM_RECETTE_MARGIN_DAYS = 10
    release = Release.objects.create(
        number="2031.1",
        recette_start=date(2031, 2, 3),
        recette_end=date(2031, 2, 28),
        production_date=PRODUCTION,
    )
    ChangeRequest.objects.filter(pk=acceptance.pk).update(release=release)
    other = ChangeRequest.objects.get(
        organisation__code="57", status=ChangeRequest.Status.IN_ACCEPTANCE
    )
    commande = other.order_owner
    plan = services.plan_prepare(change_request_pk=other.pk, by=commande)
    services.case_add(
        pk=plan.pk, by=commande, reference="CT-57", title=MOSELLE, steps=[("a", "b")]
    )
    return ChangeRequest.objects.get(pk=acceptance.pk)


def _page(client, user, change_request, node) -> str:
    """The task's page as `user` gets it (taking the task when it waits for the
    role), checked to show nothing of client 57."""
    task = _open_task(change_request, node)
    client.force_login(user)
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        assert client.post(node.reverse("assign", args=args)).status_code == 302
    response = client.get(node.reverse("execute", args=args))
    assert response.status_code == 200
    page = response.content.decode()
    assert MOSELLE not in page and "EVO-57" not in page
    return page


def _buttons(page: str) -> list[str]:
    """The names of the task form's submit buttons, in order (a disabled one,
    which only stops Entrée from sending the form, has none)."""
    form = page.split('class="tandem-form" novalidate>', 1)[1].split("</form>", 1)[0]
    return [
        html.unescape(name.strip())
        for name in re.findall(r"<button type=\"submit\"[^>]*>([^<]*)</button>", form)
        if name.strip()
    ]


def _plan(people, change_request, *, end: date, justification: str | None = None):
    plan = services.plan_prepare(change_request_pk=change_request.pk, by=people.moe)
    services.plan_update(
        pk=plan.pk,
        by=people.moe,
        workload=Decimal("4"),
        start=end - timedelta(days=14),
        end=end,
        margin_justification=justification,
    )
    for number, (title, priority) in enumerate(
        [("Saisie d'une déclaration", "haute"), ("Export du mois", "basse")], 1
    ):
        services.case_add(
            pk=plan.pk,
            by=people.moe,
            reference=f"CT-{number}",
            title=title,
            priority=priority,
            steps=[("Ouvrir", "Écran affiché")] * number,
        )
    return AcceptancePlan.objects.get(pk=plan.pk)


def _submitted(people, change_request, **kwargs) -> AcceptancePlan:
    plan = _plan(people, change_request, **kwargs)
    _step(
        change_request,
        F.prepare_plan,
        people.commande,
        lambda: services.plan_submit(pk=plan.pk, by=people.moe),
    )
    return plan


def _first_campaign(people, change_request) -> Campaign:
    """The plan validated, the build qualified and delivered: campaign 1."""
    plan = _submitted(people, change_request, end=date(2031, 2, 21))
    today = timezone.localdate()
    _step(
        change_request,
        F.review_plan,
        people.porteur,
        lambda: services.plan_decide(pk=plan.pk, by=people.porteur, validated=True),
    )
    _step(
        change_request,
        F.qualify,
        people.moe,
        lambda: services.qualification_record(
            change_request_pk=change_request.pk, by=people.moe, passed=True, on=today
        ),
    )
    _step(
        change_request,
        F.deliver,
        people.moe,
        lambda: services.delivery_record(
            change_request_pk=change_request.pk,
            by=people.moe,
            on=today,
            environment="REC",
        ),
    )
    return Campaign.objects.get(change_request=change_request, number=1)


def _run(people, campaign, results: dict[str, str]) -> dict[str, Execution]:
    cases = {
        c.reference: c for c in campaign.change_request.acceptance_plan.cases.all()
    }
    executions = services.executions_record(
        pk=campaign.pk,
        by=people.testeur,
        results=[{"case": cases[ref].pk, "result": r} for ref, r in results.items()],
    )
    return {e.case.reference: e for e in executions}


def _defect(people, change_request, execution, title, severity, **text) -> Defect:
    return services.defect_open(
        change_request_pk=change_request.pk,
        by=people.testeur,
        title=title,
        severity=severity,
        execution_pks=(execution.pk,),
        **text,
    )


# --- The margin before production -------------------------------------------------


def test_a_plan_eating_the_margin_is_submitted_only_with_a_justification(people, cr):
    # Friday 14 March: one working day before production, ten asked.
    plan = _plan(people, cr, end=date(2031, 3, 14))

    with pytest.raises(ValidationError) as refused:
        services.plan_submit(pk=plan.pk, by=people.moe)

    message = " ".join(refused.value.message_dict["margin_justification"])
    assert "la marge demandée est de 10 jours ouvrés" in message
    assert "Justifiez ce planning pour soumettre le plan." in message
    assert AcceptancePlan.objects.get(pk=plan.pk).status == P.DRAFT

    services.plan_update(
        pk=plan.pk,
        by=people.moe,
        workload=plan.workload,
        start=plan.start,
        end=plan.end,
        margin_justification="  La version 2031.1 ne peut attendre.  ",
    )
    services.plan_submit(pk=plan.pk, by=people.moe)

    plan = AcceptancePlan.objects.get(pk=plan.pk)
    assert plan.status == P.SUBMITTED
    assert plan.margin_justification == "La version 2031.1 ne peut attendre."


def test_a_schedule_leaving_the_margin_needs_no_justification_and_keeps_none(
    people, cr
):
    # Monday 3 March: exactly ten working days before production.
    plan = _plan(
        people, cr, end=date(2031, 3, 3), justification="Pour un planning d'avant."
    )

    services.plan_submit(pk=plan.pk, by=people.moe)

    plan = AcceptancePlan.objects.get(pk=plan.pk)
    assert (plan.status, plan.margin_justification) == (P.SUBMITTED, "")
    margin = services.plan_margin(plan)
    assert (margin.left, margin.eaten, margin.latest_end) == (10, False, plan.end)


def test_the_supplier_is_told_the_rule_then_refused_without_a_justification(
    people, cr, client
):
    _plan(people, cr, end=date(2031, 2, 21))
    page = _page(client, people.commande, cr, F.prepare_plan)
    latest = _day(date(2031, 3, 3))
    assert f"soit une recette finie au plus tard le {latest}" in html.unescape(page)
    assert f"Obligatoire si la recette finit après le {latest}" in html.unescape(page)
    assert _buttons(page) == ["Soumettre le plan au client"]
    form = {"workload": "4", "start": "2031-03-03", "end": "2031-03-14"}

    refused = _act(client, people.commande, cr, F.prepare_plan, form, expect=400)

    page = html.unescape(refused.content.decode())
    assert "Justifiez ce planning pour soumettre le plan." in page
    assert 'value="2031-03-14"' in page  # what was typed is still there
    plan = AcceptancePlan.objects.get(change_request=cr)
    assert (plan.status, plan.end) == (P.DRAFT, date(2031, 2, 21))  # nothing saved

    _act(
        client,
        people.commande,
        cr,
        F.prepare_plan,
        {**form, "margin_justification": PAYLOAD},
    )

    plan = AcceptancePlan.objects.get(change_request=cr)
    assert (plan.status, plan.margin_justification) == (P.SUBMITTED, PAYLOAD)


def test_the_client_reads_the_justification_before_validating(people, cr, client):
    _submitted(people, cr, end=date(2031, 3, 14), justification=PAYLOAD)

    page = _page(client, people.porteur, cr, F.review_plan)

    text = html.unescape(page)
    assert "Marge laissée par ce planning" in text
    assert "1 jour ouvré" in text
    assert "La marge est entamée : il manque 9 jours ouvrés." in text
    assert "Justification de la CNAF" in text
    assert ESCAPED in page and PAYLOAD not in page
    client.force_login(people.porteur)
    overview = client.get(reverse("recettes:detail", args=[cr.pk])).content.decode()
    assert ESCAPED in overview and PAYLOAD not in overview
    document = all_text(
        client.get(reverse("recettes:plan_pdf", args=[cr.pk])).getvalue()
    )
    assert "Justification de la CNAF" in document
    assert PAYLOAD in document  # printed as typed, not read as markup


def test_the_client_sees_the_plan_it_validates(people, cr, client):
    _submitted(people, cr, end=date(2031, 2, 21))

    page = _page(client, people.porteur, cr, F.review_plan)

    text = html.unescape(page)
    for row in (
        '<th scope="row">CT-1</th><td>Saisie d\'une déclaration</td><td>Haute</td>'
        "<td>1</td>",
        '<th scope="row">CT-2</th><td>Export du mois</td><td>Basse</td><td>2</td>',
    ):
        assert row in text
    assert f"du {_day(date(2031, 2, 7))} au {_day(date(2031, 2, 21))}" in text
    assert "4,0 jours-homme" in text
    assert f"Mise en production de la version 2031.1</dt><dd>{_day(PRODUCTION)}" in text
    assert "16 jours ouvrés" in text  # left by the schedule: 21 Feb → 17 Mar
    assert "La marge est respectée." in text
    assert f'href="{reverse("recettes:plan_pdf", args=[cr.pk])}"' in page
    assert _buttons(page) == [
        "Valider le plan",
        "Renvoyer le plan avec des commentaires",
    ]


def test_the_supplier_reads_why_the_plan_came_back(people, cr, client):
    _submitted(people, cr, end=date(2031, 2, 21))
    refused = _act(
        client, people.porteur, cr, F.review_plan, {"decision": "no"}, expect=400
    )
    # Told at the comment's field, in French; the plan still waits.
    assert 'id="id_comment_error"' in refused.content.decode()
    assert "Expliquez ce qui doit être repris dans le plan." in html.unescape(
        refused.content.decode()
    )
    assert AcceptancePlan.objects.get(change_request=cr).status == P.SUBMITTED
    _act(
        client,
        people.porteur,
        cr,
        F.review_plan,
        {"decision": "no", "comment": PAYLOAD},
    )

    page = _page(client, people.commande, cr, F.prepare_plan)

    assert "Renvoyé par le client avec ce commentaire" in page
    assert ESCAPED in page and PAYLOAD not in page


# --- Campaign, delivery, report, signature ----------------------------------------


@pytest.fixture
def campaign(people, cr):
    """Campaign 1 of client 23: one case passed, one failed with a blocking defect;
    a minor defect raised on the same failure."""
    campaign = _first_campaign(people, cr)
    executions = _run(people, campaign, {"CT-1": R.PASSED, "CT-2": R.FAILED})
    _defect(
        people,
        cr,
        executions["CT-2"],
        "Export vide",
        Defect.Severity.BLOCKING,
        description=PAYLOAD,
        steps_to_reproduce="Ouvrir l'export du mois",
        expected="Un fichier de 12 lignes",
        observed="Un fichier vide",
    )
    _defect(people, cr, executions["CT-2"], "Libellé tronqué", Defect.Severity.MINOR)
    return campaign


def test_closing_a_campaign_shows_its_figures_and_open_defects(
    people, cr, client, campaign
):
    page = _page(client, people.porteur, cr, F.run_campaign)

    text = html.unescape(page)
    assert "2 cas exécutés sur 2." in text
    for label, count in (("Réussi", 1), ("Échoué", 1), ("Bloqué", 0)):
        assert f'<th scope="row">{label}</th><td>{count}</td>' in text
    blocking = Defect.objects.get(change_request=cr, title="Export vide")
    assert f'href="{reverse("recettes:defect", args=[blocking.pk])}"' in page
    assert f"{blocking.reference}</a></th><td>Export vide</td><td>Bloquante" in text
    assert "Libellé tronqué" in text
    assert f'href="{reverse("recettes:grid", args=[campaign.pk])}"' in page
    assert f'href="{reverse("recettes:dashboard", args=[campaign.pk])}"' in page
    assert _buttons(page) == ["Clore la campagne"]


def test_the_delivery_tells_each_defect_it_may_claim_fixed(
    people, cr, client, campaign
):
    _act(
        client,
        people.porteur,
        cr,
        F.run_campaign,
        {"outcome": "corrections", "comment": "L'export d'abord."},
    )

    page = _page(client, people.moe, cr, F.deliver)

    text = html.unescape(page)
    blocking = Defect.objects.get(change_request=cr, title="Export vide")
    assert f'<a href="{reverse("recettes:defect", args=[blocking.pk])}">' in page
    assert f"{blocking.reference}</a> – Export vide" in text
    for shown in (
        "Bloquante",
        "Ouvrir l'export du mois",
        "Un fichier de 12 lignes",
        "Un fichier vide",
        "L'export d'abord.",
    ):
        assert shown in text
    assert ESCAPED in page and PAYLOAD not in page
    assert _buttons(page) == ["Enregistrer la livraison"]


@pytest.fixture
def report_written(people, cr, client, campaign):
    """The failure fixed in a second delivery, passed, its defect verified;
    campaign 2 closed on the report."""
    blocking = Defect.objects.get(change_request=cr, title="Export vide")
    _act(client, people.porteur, cr, F.run_campaign, {"outcome": "corrections"})
    _act(
        client,
        people.moe,
        cr,
        F.deliver,
        {
            "on": timezone.localdate().isoformat(),
            "environment": "REC",
            "fixed_defects": [blocking.pk],
        },
    )
    retest = Campaign.objects.get(change_request=cr, number=2)
    _run(people, retest, {"CT-2": R.PASSED})
    services.defect_verify(pk=blocking.pk, by=people.testeur)
    _act(client, people.porteur, cr, F.run_campaign, {"outcome": "bilan"})
    return cr


def test_the_report_page_shows_the_computed_figures(people, cr, client, report_written):
    page = _page(client, people.porteur, cr, F.write_report)

    text = html.unescape(page)
    # Planned, run, passed, failed, blocked, not applicable, to run.
    assert (
        '<th scope="row">Campagne initiale 1</th><td>1</td><td>2</td><td>2</td>'
        "<td>1</td><td>1</td><td>0</td><td>0</td><td>0</td>"
    ) in text
    assert (
        '<th scope="row">Campagne de re-test 2</th><td>2</td><td>1</td><td>1</td>'
        "<td>1</td><td>0</td>"
    ) in text
    assert (
        '<th scope="row">Résultat final de chaque cas</th><td>—</td><td>2</td>'
        "<td>2</td><td>2</td><td>0</td>"
    ) in text
    # By state: open, fixed, verified, reopened, rejected, rejection accepted; all.
    assert (
        '<th scope="row">Bloquante</th><td>0</td><td>0</td><td>1</td><td>0</td>'
        "<td>0</td><td>0</td><td>1</td>"
    ) in text
    assert '<th scope="row">Mineure</th><td>1</td>' in text
    today = _day(timezone.localdate())
    assert f"n° 1 du {today}, n° 2 du {today}" in text
    assert "1 anomalie non résolue" in text and "Libellé tronqué" in text
    assert _buttons(page) == ["Déposer le bilan"]


@pytest.fixture
def agreement(people, cr, client, report_written):
    minor = Defect.objects.get(change_request=cr, title="Libellé tronqué")
    _act(
        client,
        people.porteur,
        cr,
        F.write_report,
        {"verdict": "reserves", "reserves": PAYLOAD, "reserved_defects": [minor.pk]},
    )
    return cr.go_live_agreements.get()


def test_the_dsi_sees_what_they_sign(people, cr, client, agreement):
    page = _page(client, people.dsi_cnaf, cr, F.sign_supplier)

    text = html.unescape(page)
    assert "Favorable avec réserves" in text
    assert ESCAPED in page and PAYLOAD not in page
    minor = Defect.objects.get(change_request=cr, title="Libellé tronqué")
    assert f'href="{reverse("recettes:defect", args=[minor.pk])}"' in page
    bilan = f"{reverse('recettes:report_pdf', args=[cr.pk])}?version=1"
    assert f'href="{bilan}"' in page
    assert agreement.report_sha256 in page
    # The link gives the very document whose SHA-256 is shown.
    document = client.get(bilan)
    content = b"".join(document.streaming_content)
    assert hashlib.sha256(content).hexdigest() == agreement.report_sha256
    assert '<th scope="row">Campagne de re-test 2</th>' in text
    assert "Aucune signature pour l'instant" in text
    assert _buttons(page) == [
        "Signer l'accord de mise en production",
        "Refuser l'accord",
    ]
    # Entrée in the password field sends nothing: the decision is clicked.
    assert '<button type="submit" disabled hidden></button>' in page

    _act(client, people.dsi_cnaf, cr, F.sign_supplier, _signing(people.dsi_cnaf))

    page = html.unescape(_page(client, people.dsi_client, cr, F.sign_client))
    assert "DSI de la CNAF : signé par " + people.dsi_cnaf.get_full_name() in page


def test_a_dsi_without_an_authenticator_is_shown_the_way_to_enrol(
    people, cr, client, agreement
):
    TOTPDevice.objects.filter(user=people.dsi_client).delete()

    page = _page(client, people.dsi_client, cr, F.sign_client)

    assert "Enregistrer mon application d'authentification" in html.unescape(page)
    assert reverse("second_factor") in page


def test_a_refusal_without_its_reason_is_refused_in_french(
    people, cr, client, agreement
):
    response = _act(
        client,
        people.dsi_client,
        cr,
        F.sign_client,
        _signing(people.dsi_client, decision="refuse"),
        expect=400,
    )

    page = response.content.decode()
    assert 'id="id_reason_error"' in page  # at the reason's field
    assert "Le motif du refus est obligatoire." in html.unescape(page)
    assert cr.go_live_agreements.get().status == agreement.status
