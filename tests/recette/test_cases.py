"""The plan's cases while it is prepared: typed in with any number of steps,
changed, moved, deleted; imported in a mode chosen on the preview; a played case
keeps its steps. And the grid's bulk result."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recette import services
from recette.demo import _step, _to_first_campaign, _users
from recette.flows import RecetteFlow
from recette.importing import parse_cases
from recette.models import Execution, TestCase
from workflow.transitions import ActionRefused

R = Execution.Result
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _add(plan, world, reference, steps=(("Agir", "Constater"),), **fields):
    return services.case_add(
        pk=plan.pk,
        by=world.user("cnaf.moe"),
        reference=reference,
        title=fields.pop("title", f"Cas {reference}"),
        steps=list(steps),
        **fields,
    )


def _order(plan) -> list[tuple[int, str]]:
    return list(plan.cases.order_by("position").values_list("position", "reference"))


def _form(reference, title, steps, *, initial=0, **extra) -> dict:
    """What the case form posts: the case's fields and its steps' formset."""
    data = {
        "reference": reference,
        "title": title,
        "priority": "moyenne",
        "etapes-TOTAL_FORMS": str(len(steps)),
        "etapes-INITIAL_FORMS": str(initial),
        **extra,
    }
    for n, (action, expected) in enumerate(steps):
        data[f"etapes-{n}-action"] = action
        data[f"etapes-{n}-expected"] = expected
    return data


def _url(name, plan, case=None):
    args = [plan.change_request_id] + ([case.pk] if case else [])
    return reverse(f"recettes:{name}", args=args)


@pytest.fixture
def reopened_plan(world, acceptance):
    """Client 23's plan v2: validated, its first campaign run and closed, reopened;
    its eight demo cases were all played."""
    porteur = world.user("cd23.porteur")
    plan, campaign, _cases = _to_first_campaign(acceptance, _users(), "23")
    _step(
        acceptance,
        RecetteFlow.run_campaign,
        porteur,
        lambda: services.campaign_close(pk=campaign.pk, by=porteur),
    )
    services.plan_reopen(pk=plan.pk, by=world.user("cnaf.moe"), reason="Un cas de plus")
    plan = type(plan).objects.get(pk=plan.pk)
    assert (plan.status, plan.version) == ("brouillon", 2)
    return plan


# --- One case at a time -------------------------------------------------------------


def test_supplier_changes_a_case_of_the_plan_being_prepared(world, client, draft_plan):
    case = _add(draft_plan, world, "CT-001", steps=[("Ouvrir", "Ouvert")])
    client.force_login(world.user("cnaf.moe"))
    url = _url("case_edit", draft_plan, case)

    page = client.get(url)
    steps = [("Ouvrir", "Ouvert"), ("", ""), ("Valider", "Validé"), ("Fermer", "Fermé")]
    saved = client.post(url, _form("CT-001b", "Titre revu", steps, initial=1))

    assert page.status_code == 200 and "Ouvrir" in page.content.decode()
    assert _url("case_delete", draft_plan, case) in page.content.decode()
    assert saved.status_code == 302
    assert saved["Location"].endswith(f"#cas-{case.pk}")
    case.refresh_from_db()
    assert (case.reference, case.title, case.position) == ("CT-001b", "Titre revu", 1)
    # The empty step is left out, the others numbered 1..n.
    assert list(case.steps.values_list("number", "action")) == [
        (1, "Ouvrir"),
        (2, "Valider"),
        (3, "Fermer"),
    ]


def test_of_two_edits_of_one_case_the_second_is_told_and_keeps_its_text(
    world, client, draft_plan
):
    case = _add(draft_plan, world, "CT-001", steps=[("Ouvrir", "Ouvert")])
    client.force_login(world.user("cnaf.moe"))
    url = _url("case_edit", draft_plan, case)
    # Two people open the case's form…
    state = client.get(url).context["case_state"]
    first = _form("CT-001", "Version de Léa", [("Ouvrir", "Ouvert")], initial=1)
    second = _form("CT-001", "Version d'Hugo", [("Fermer", "Fermé")], initial=1)

    # …the first saves; the second is told, nothing of his lost nor saved.
    assert client.post(url, {**first, "etat_du_cas": state}).status_code == 302
    told = client.post(url, {**second, "etat_du_cas": state})

    assert told.status_code == 400
    html = told.content.decode()
    assert "modifié par quelqu&#x27;un d&#x27;autre depuis que vous l&#x27;avez" in html
    assert "Version d&#x27;Hugo" in html and "Fermer</textarea>" in html
    case.refresh_from_db()
    assert case.title == "Version de Léa"
    # Sent again (the form now holds the version saved), it replaces it.
    again = client.post(url, {**second, "etat_du_cas": told.context["case_state"]})
    assert again.status_code == 302
    case.refresh_from_db()
    assert case.title == "Version d'Hugo"
    assert list(case.steps.values_list("action", flat=True)) == ["Fermer"]


def test_a_reference_stays_unique_in_the_plan(world, client, draft_plan):
    _add(draft_plan, world, "CT-001")
    other = _add(draft_plan, world, "CT-002")
    client.force_login(world.user("cnaf.moe"))

    taken = client.post(
        _url("case_edit", draft_plan, other), _form("CT-001", "Doublon", [("a", "b")])
    )

    assert taken.status_code == 400
    assert "Un cas porte déjà la référence CT-001." in taken.content.decode()
    assert _order(draft_plan) == [(1, "CT-001"), (2, "CT-002")]


def test_cases_move_up_and_down_and_keep_positions_one_to_n(world, client, draft_plan):
    cases = [_add(draft_plan, world, f"CT-00{n}") for n in (1, 2, 3)]
    client.force_login(world.user("cnaf.moe"))

    up = client.post(_url("case_move", draft_plan, cases[2]), {"sens": "haut"})
    assert up.status_code == 302 and up["Location"].endswith(f"#cas-{cases[2].pk}")
    assert _order(draft_plan) == [(1, "CT-001"), (2, "CT-003"), (3, "CT-002")]

    client.post(_url("case_move", draft_plan, cases[0]), {"sens": "bas"})
    assert _order(draft_plan) == [(1, "CT-003"), (2, "CT-001"), (3, "CT-002")]

    # Already first: nothing moves, and the page says so.
    edge = client.post(
        _url("case_move", draft_plan, cases[2]), {"sens": "haut"}, follow=True
    )
    assert "CT-003 est déjà le premier du plan" in edge.content.decode()
    assert _order(draft_plan) == [(1, "CT-003"), (2, "CT-001"), (3, "CT-002")]
    bad = client.post(_url("case_move", draft_plan, cases[2]), {"sens": "loin"})
    assert bad.status_code == 400 and "monter ou de descendre" in bad.content.decode()
    assert client.get(_url("case_move", draft_plan, cases[2])).status_code == 405


def test_deleting_a_case_asks_first_saying_what_goes(world, client, draft_plan):
    cases = [_add(draft_plan, world, f"CT-00{n}") for n in (1, 2, 3)]
    services.case_update(
        pk=draft_plan.pk,
        case_pk=cases[1].pk,
        by=world.user("cnaf.moe"),
        reference="CT-002",
        title="Cas à supprimer",
        steps=[("Saisir", "Saisi"), ("Valider", "Validé")],
    )
    client.force_login(world.user("cnaf.moe"))
    url = _url("case_delete", draft_plan, cases[1])

    asked = client.get(url).content.decode()
    assert "CT-002 – Cas à supprimer" in asked
    assert "Ce cas et ses 2 étapes seront supprimés du plan de recette v1" in asked
    assert "Saisir" in asked and "Valider" in asked
    assert TestCase.objects.filter(pk=cases[1].pk).exists()  # nothing yet

    done = client.post(url, follow=True)

    assert "Cas CT-002 supprimé, avec ses 2 étapes." in done.content.decode()
    assert _order(draft_plan) == [(1, "CT-001"), (2, "CT-003")]
    assert not TestCase.objects.filter(pk=cases[1].pk).exists()


def test_a_frozen_plan_refuses_every_change_of_its_cases(world, client, draft_plan):
    from django.utils import timezone

    case = _add(draft_plan, world, "CT-001")
    moe, today = world.user("cnaf.moe"), timezone.localdate()
    services.plan_update(pk=draft_plan.pk, by=moe, workload=1, start=today, end=today)
    services.plan_submit(pk=draft_plan.pk, by=moe)
    client.force_login(moe)

    answers = [
        client.get(_url("case_edit", draft_plan, case)),
        client.post(_url("case_edit", draft_plan, case), _form("X", "Y", [("a", "b")])),
        client.post(_url("case_move", draft_plan, case), {"sens": "bas"}),
        client.get(_url("case_delete", draft_plan, case)),
        client.post(_url("case_delete", draft_plan, case)),
        client.get(_url("case_new", draft_plan)),
        client.get(_url("cases_import", draft_plan)),
    ]

    assert [a.status_code for a in answers] == [409] * len(answers)
    assert "Le plan de recette est figé" in answers[1].content.decode()
    assert "Revenir aux cas du plan" in answers[1].content.decode()
    case.refresh_from_db()
    assert (case.reference, draft_plan.cases.count()) == ("CT-001", 1)
    with pytest.raises(ActionRefused, match="figé"):
        services.case_delete(pk=draft_plan.pk, case_pk=case.pk, by=moe)


@pytest.mark.parametrize(
    ("username", "status"), [("cd23.porteur", 403), ("cd57.porteur", 404)]
)
def test_clients_change_no_case(world, client, draft_plan, username, status):
    case = _add(draft_plan, world, "CT-001")
    client.force_login(world.user(username))

    answers = [
        client.get(_url("case_edit", draft_plan, case)),
        client.post(_url("case_edit", draft_plan, case), _form("X", "Y", [("a", "b")])),
        client.post(_url("case_move", draft_plan, case), {"sens": "bas"}),
        client.post(_url("case_delete", draft_plan, case)),
    ]

    assert [a.status_code for a in answers] == [status] * len(answers)
    case.refresh_from_db()
    assert (case.reference, case.title) == ("CT-001", "Cas CT-001")


def test_a_case_of_another_plan_is_not_found_here(world, client, draft_plan):
    from evolutions.models import Release
    from tests.security.dataset import manufactured_request

    users = {
        name: world.user(name)
        for name in ("cd23.porteur", "cnaf.contact", "cnaf.commande", "cnaf.moe")
    }
    release = Release.objects.order_by("production_date").first()
    other_request = manufactured_request(
        draft_plan.organisation, users, release, "autre plan"
    )
    other_plan = services.plan_prepare(
        change_request_pk=other_request.pk, by=users["cnaf.moe"]
    )
    other = _add(other_plan, world, "CT-001")
    client.force_login(users["cnaf.moe"])

    answers = [
        client.get(_url("case_edit", draft_plan, other)),
        client.post(_url("case_move", draft_plan, other), {"sens": "bas"}),
        client.post(_url("case_delete", draft_plan, other)),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert TestCase.objects.filter(pk=other.pk).exists()


def test_a_played_case_keeps_its_steps_and_stays(world, client, reopened_plan):
    played = reopened_plan.cases.order_by("position").first()
    steps = [(s.action, s.expected) for s in played.steps.all()]
    added = _add(reopened_plan, world, "CT-NEW")
    client.force_login(world.user("cnaf.moe"))

    page = client.get(
        reverse("recettes:detail", args=[reopened_plan.change_request_id])
    )
    refused_delete = client.post(_url("case_delete", reopened_plan, played))
    refused_steps = client.post(
        _url("case_edit", reopened_plan, played),
        _form(played.reference, played.title, [("Autre action", "Autre attendu")]),
    )
    form = client.get(_url("case_edit", reopened_plan, played)).content.decode()
    # What its form posts: no steps; a reference posted anyway is not read.
    renamed = client.post(
        _url("case_edit", reopened_plan, played),
        {"reference": "AUTRE", "title": "Intitulé corrigé", "priority": "haute"},
    )

    html = page.content.decode()
    assert _url("case_delete", reopened_plan, played) not in html
    assert _url("case_delete", reopened_plan, added) in html
    assert "déjà joué en campagne" in html
    assert refused_delete.status_code == 409
    assert "a déjà été joué en campagne" in refused_delete.content.decode()
    assert client.get(_url("case_delete", reopened_plan, played)).status_code == 409
    # The form sends no steps for a played case: they are shown, not asked.
    assert 'name="etapes-0-action"' not in form and "Ajouter une étape" not in form
    assert "Supprimer ce cas" not in form
    assert refused_steps.status_code == 409
    assert "ses étapes ne peuvent plus changer" in refused_steps.content.decode()
    assert renamed.status_code == 302
    reference = played.reference
    played.refresh_from_db()
    # Its title changes; its reference (shown, not asked) and steps do not.
    assert (played.reference, played.title) == (reference, "Intitulé corrigé")
    assert [(s.action, s.expected) for s in played.steps.all()] == steps
    with pytest.raises(ActionRefused, match="ses étapes ne peuvent plus changer"):
        services.case_update(
            pk=reopened_plan.pk,
            case_pk=played.pk,
            by=world.user("cnaf.moe"),
            reference=played.reference,
            title=played.title,
            steps=[("Autre action", "Autre attendu")],
        )
    with pytest.raises(ActionRefused, match="déjà été joué"):
        services.case_delete(
            pk=reopened_plan.pk, case_pk=played.pk, by=world.user("cnaf.moe")
        )
    assert client.post(_url("case_delete", reopened_plan, added)).status_code == 302


def test_a_case_deleted_meanwhile_is_told_not_lost(world, draft_plan):
    """Two deletions of one case: the plan's lock makes one wait for the other,
    which then finds the case gone and says so."""
    case = _add(draft_plan, world, "CT-001")
    moe = world.user("cnaf.moe")

    services.case_delete(pk=draft_plan.pk, case_pk=case.pk, by=moe)

    with pytest.raises(ActionRefused, match="supprimé entre-temps"):
        services.case_delete(pk=draft_plan.pk, case_pk=case.pk, by=moe)
    with pytest.raises(ActionRefused, match="supprimé entre-temps"):
        services.case_move(pk=draft_plan.pk, case_pk=case.pk, by=moe, offset=1)


# --- Steps: as many as the case needs -------------------------------------------


def test_add_a_step_shows_the_form_again_with_everything_typed(
    world, client, draft_plan
):
    client.force_login(world.user("cnaf.moe"))
    url = _url("case_new", draft_plan)

    new = client.get(url)
    typed = _form(
        "CT-009",
        "Saisie <longue>",
        [("Ouvrir", "Ouvert"), ("", ""), ("Valider", "")],
        objective="Un objectif",
        add_step="1",
    )
    again = client.post(url, typed)

    assert len(new.context["steps"].forms) == 3  # a new case starts with three
    assert again.status_code == 200 and not draft_plan.cases.exists()
    html = again.content.decode()
    assert len(again.context["steps"].forms) == 4
    assert 'name="etapes-3-action"' in html and "autofocus" in html
    assert "Saisie &lt;longue&gt;" in html and "Un objectif" in html
    assert "Ouvrir</textarea>" in html and "Valider</textarea>" in html
    # Not checked yet: the half-typed step is no error until the case is saved.
    assert "Le formulaire contient des erreurs" not in html


def test_eight_steps_are_saved_in_order(world, client, draft_plan):
    client.force_login(world.user("cnaf.moe"))
    steps = [(f"Action {n}", f"Attendu {n}") for n in range(1, 9)]

    saved = client.post(_url("case_new", draft_plan), _form("CT-8", "Huit", steps))

    assert saved.status_code == 302
    case = draft_plan.cases.get()
    assert list(case.steps.values_list("number", "action", "expected")) == [
        (n, f"Action {n}", f"Attendu {n}") for n in range(1, 9)
    ]
    edit = client.get(_url("case_edit", draft_plan, case))
    assert len(edit.context["steps"].forms) == 8  # its own steps, no empty one


def test_steps_are_checked_with_a_french_message_and_nothing_lost(
    world, client, draft_plan
):
    client.force_login(world.user("cnaf.moe"))
    url = _url("case_new", draft_plan)

    half = client.post(url, _form("CT-1", "Titre", [("Ouvrir", ""), ("", "")]))
    none = client.post(url, _form("CT-1", "Titre", [("", ""), ("", "")]))
    too_many = client.post(url, _form("CT-1", "Titre", [("a", "b")] * 101))

    assert [r.status_code for r in (half, none, too_many)] == [400, 400, 400]
    assert "Étape 1 : Indiquez le résultat attendu de l&#x27;étape." in (
        half.content.decode()
    )
    assert "Ouvrir</textarea>" in half.content.decode()  # kept as typed
    assert "Un cas a au moins une étape" in none.content.decode()
    assert "Un cas a au plus 100 étapes." in too_many.content.decode()
    assert not draft_plan.cases.exists()
    steps = [(f"a{n}", f"b{n}") for n in range(100)]
    full = client.post(url, _form("CT-1", "Titre", steps, add_step="1"))
    assert len(full.context["steps"].forms) == 100
    assert "Ajouter une étape" not in full.content.decode()


def test_hostile_text_of_a_case_is_escaped_on_the_pages_and_the_grid(
    world, client, draft_plan, campaign_with
):
    _add(draft_plan, world, 'CT-"1"', title=HOSTILE, steps=[(HOSTILE, HOSTILE)])
    client.force_login(world.user("cnaf.moe"))

    detail = client.get(reverse("recettes:detail", args=[draft_plan.change_request_id]))
    case = draft_plan.cases.get()
    form = client.get(_url("case_edit", draft_plan, case))
    delete = client.get(_url("case_delete", draft_plan, case))

    for page in (detail, form, delete):
        html = page.content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    # The grid: the case in a campaign, as the tester sees it.
    TestCase.objects.filter(pk=case.pk).delete()
    campaign = campaign_with(2)
    played = campaign.change_request.acceptance_plan.cases.first()
    TestCase.objects.filter(pk=played.pk).update(title=HOSTILE, reference='CT-"<1>"')
    client.force_login(world.user("cd23.testeur"))
    grid = client.get(reverse("recettes:grid", args=[campaign.pk])).content.decode()
    assert "<script>alert" not in grid and "<img src=x" not in grid
    assert 'aria-label="Cocher le cas CT-&quot;&lt;1&gt;&quot;"' in grid


# --- Import: a mode chosen on the preview ----------------------------------------


def _csv(*cases) -> SimpleUploadedFile:
    """A CSV of (reference, title, [(action, expected)…]) cases."""
    lines = ["référence;titre;action;résultat attendu"]
    for reference, title, steps in cases:
        for n, (action, expected) in enumerate(steps):
            first = (reference, title) if n == 0 else ("", "")
            lines.append(";".join((*first, action, expected)))
    return SimpleUploadedFile("cas.csv", "\n".join(lines).encode())


def _previewed(client, plan, upload):
    page = client.post(_url("cases_import", plan), {"file": upload})
    assert page.status_code == 200, page.content
    return page


@pytest.fixture
def typed_plan(world, draft_plan):
    """A plan in preparation with CT-001 and CT-002 imported, CT-003 typed in."""
    _add(draft_plan, world, "CT-001", title="Saisir", steps=[("Saisir", "Saisi")])
    _add(draft_plan, world, "CT-002", title="Valider", steps=[("Valider", "Validé")])
    _add(draft_plan, world, "CT-003", title="Tapé à la main", steps=[("a", "b")])
    return draft_plan


FILE = (
    ("CT-002", "Valider", [("Valider", "Validé")]),  # identical
    ("CT-001", "Saisir le dossier", [("Saisir", "Saisi"), ("Relire", "Relu")]),
    ("CT-004", "Nouveau", [("Créer", "Créé")]),
)


def test_import_preview_says_what_is_added_changed_and_absent(
    world, client, typed_plan
):
    client.force_login(world.user("cnaf.moe"))

    page = _previewed(client, typed_plan, _csv(*FILE))

    changes = page.context["changes"]
    assert [row.reference for row in changes.added] == ["CT-004"]
    assert [(c.row.reference, c.fields) for c in changes.changed] == [
        ("CT-001", ("intitulé", "étapes"))
    ]
    assert [case.reference for case in changes.absent] == ["CT-003"]
    assert changes.unchanged == 1 and "token" in page.context
    html = page.content.decode()
    assert "1 cas à ajouter" in html and "1 cas à modifier" in html
    assert "1 cas du plan absent du fichier" in html
    assert "Gardés avec « Ajouter et mettre à jour », supprimés avec" in html
    assert 'name="confirm" value="' in html and 'value="remplacer"' in html
    assert _order(typed_plan) == [(1, "CT-001"), (2, "CT-002"), (3, "CT-003")]


def test_add_and_update_keeps_a_typed_case_replace_removes_it_as_previewed(
    world, client, typed_plan
):
    client.force_login(world.user("cnaf.moe"))
    url = _url("cases_import", typed_plan)

    token = _previewed(client, typed_plan, _csv(*FILE)).context["token"]
    merged = client.post(url, {"confirm": token, "mode": "ajouter"}, follow=True)

    assert (
        "3 cas de test importés : 1 ajouté(s), 1 modifié(s) ; "
        "0 cas du plan supprimé(s)." in merged.content.decode()
    )
    assert _order(typed_plan) == [
        (1, "CT-001"),
        (2, "CT-002"),
        (3, "CT-003"),  # the typed case is kept
        (4, "CT-004"),  # the new one comes last
    ]
    first = typed_plan.cases.get(reference="CT-001")
    assert first.title == "Saisir le dossier"
    assert list(first.steps.values_list("action", flat=True)) == ["Saisir", "Relire"]

    page = _previewed(client, typed_plan, _csv(*FILE))
    assert [c.reference for c in page.context["changes"].absent] == ["CT-003"]
    replaced = client.post(
        url, {"confirm": page.context["token"], "mode": "remplacer"}, follow=True
    )

    assert "0 modifié(s) ; 1 cas du plan supprimé(s)." in replaced.content.decode()
    # What the preview said: CT-003 removed, the plan in the file's order.
    assert _order(typed_plan) == [(1, "CT-002"), (2, "CT-001"), (3, "CT-004")]


def test_an_import_confirmed_after_the_plan_changed_is_refused(
    world, client, typed_plan
):
    client.force_login(world.user("cnaf.moe"))
    token = _previewed(client, typed_plan, _csv(*FILE)).context["token"]
    # Someone else adds a case between the preview and the confirmation.
    _add(typed_plan, world, "CT-005")

    late = client.post(
        _url("cases_import", typed_plan), {"confirm": token, "mode": "remplacer"}
    )

    assert late.status_code == 409
    assert "ont changé depuis l&#x27;aperçu" in late.content.decode()
    assert [r for _p, r in _order(typed_plan)] == [f"CT-00{n}" for n in (1, 2, 3, 5)]


def test_the_import_refuses_to_change_or_remove_played_cases(
    world, client, reopened_plan
):
    played = reopened_plan.cases.order_by("position").first()
    steps = [(s.action, s.expected) for s in played.steps.all()]
    client.force_login(world.user("cnaf.moe"))
    url = _url("cases_import", reopened_plan)

    # Its steps changed in the file: refused whatever the mode, nothing to confirm.
    changing = _previewed(
        client, reopened_plan, _csv((played.reference, played.title, [("x", "y")]))
    )
    assert changing.context["changes"].refused and "token" not in changing.context
    assert "il change des cas déjà joués en campagne" in changing.content.decode()

    # Absent from the file: kept by « Ajouter et mettre à jour » only.
    page = _previewed(client, reopened_plan, _csv(("CT-NEW", "Nouveau", [("a", "b")])))
    modes = {value: refusals for value, _label, refusals in page.context["modes"]}
    assert modes["ajouter"] == ()
    assert "« Remplacer tous les cas » le supprimerait" in modes["remplacer"][0]
    assert 'id="mode-remplacer" disabled' in page.content.decode()
    forged = client.post(url, {"confirm": page.context["token"], "mode": "remplacer"})
    assert forged.status_code == 400 and "déjà été joué" in forged.content.decode()
    assert not reopened_plan.cases.filter(reference="CT-NEW").exists()

    page = _previewed(client, reopened_plan, _csv(("CT-NEW", "Nouveau", [("a", "b")])))
    kept = client.post(url, {"confirm": page.context["token"], "mode": "ajouter"})
    assert kept.status_code == 302
    assert reopened_plan.cases.count() == 9
    played.refresh_from_db()
    assert [(s.action, s.expected) for s in played.steps.all()] == steps
    with pytest.raises(ValidationError, match="ses étapes ne peuvent plus changer"):
        services.cases_import(
            pk=reopened_plan.pk,
            by=world.user("cnaf.moe"),
            preview=parse_cases(
                _csv((played.reference, "T", [("x", "y")])).read(), filename="c.csv"
            ),
        )


def test_the_plan_task_file_adds_and_updates_without_removing(world, typed_plan):
    """The plan task's file field has no preview: it adds and updates."""
    preview = parse_cases(_csv(*FILE).read(), filename="cas.csv")

    services.cases_import(pk=typed_plan.pk, by=world.user("cnaf.moe"), preview=preview)

    assert [r for _p, r in _order(typed_plan)] == [
        "CT-001",
        "CT-002",
        "CT-003",
        "CT-004",
    ]


# --- The grid: one result for several cases ---------------------------------------


def _record(client, campaign, entries):
    return client.post(
        reverse("recettes:record", args=[campaign.pk]),
        json.dumps({"results": entries}),
        content_type="application/json",
    )


def test_one_request_records_a_result_and_comment_for_many_cases(
    world, client, settings, tmp_path, campaign_with
):
    from evolutions.demo import evolutions_demo_load

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    campaign = campaign_with(30)
    cases = list(campaign.change_request.acceptance_plan.cases.order_by("position"))
    client.force_login(world.user("cd23.testeur"))
    _record(client, campaign, [{"case": cases[0].pk, "result": R.BLOCKED}])  # warm-up

    counts = []
    for chosen in (cases[:5], cases[5:30]):
        entries = [
            {"case": c.pk, "result": R.PASSED, "comment": "Vu en REC"} for c in chosen
        ]
        with CaptureQueriesContext(connection) as queries:
            saved = _record(client, campaign, entries)
        assert saved.status_code == 200, saved.content
        assert len(saved.json()["saved"]) == len(chosen)
        counts.append(len(queries))

    assert counts[0] == counts[1] <= 15, counts
    executions = Execution.objects.filter(campaign=campaign, result=R.PASSED)
    assert executions.count() == 30
    assert set(executions.values_list("comment", flat=True)) == {"Vu en REC"}


def test_a_bulk_over_a_thousand_results_is_refused_in_french(world, client, campaign):
    case = campaign.change_request.acceptance_plan.cases.first()
    client.force_login(world.user("cd23.testeur"))

    refused = _record(client, campaign, [{"case": case.pk, "result": R.PASSED}] * 1001)

    assert refused.status_code == 400
    assert refused.json()["error"] == (
        "Au plus 1000 résultats à la fois : sélectionnez moins de cas."
    )
    assert not Execution.objects.filter(campaign=campaign).exists()


def test_a_bulk_with_a_case_of_another_campaign_saves_nothing(world, client, demo):
    from recette.models import Campaign

    campaign = Campaign.objects.get(
        organisation__code="23", status=Campaign.Status.OPEN
    )
    ours = list(campaign.campaign_cases.values_list("case", flat=True))
    elsewhere = Campaign.objects.get(organisation__code="57").campaign_cases.first()
    before = Execution.objects.count()
    client.force_login(world.user("cd23.testeur"))

    refused = _record(
        client,
        campaign,
        [{"case": pk, "result": R.PASSED} for pk in ours]
        + [{"case": elsewhere.case_id, "result": R.PASSED}],
    )

    assert refused.status_code == 400
    assert "ne fait pas partie de cette campagne" in refused.json()["error"]
    assert Execution.objects.count() == before


def test_the_tester_grid_has_a_box_per_case_and_names_the_new_keys(
    world, client, campaign
):
    client.force_login(world.user("cd23.testeur"))

    html = client.get(reverse("recettes:grid", args=[campaign.pk])).content.decode()

    assert html.count("data-select ") == 4 and "data-select-all" in html
    assert (
        "s (ou Espace) : cocher le cas" in html and "c : écrire un commentaire" in html
    )
    assert 'id="tandem-grid-comment"' in html and 'aria-live="polite"' in html
    client.force_login(world.user("cnaf.moe"))  # reads only: no box, no tools
    read_only = client.get(
        reverse("recettes:grid", args=[campaign.pk])
    ).content.decode()
    assert "data-select" not in read_only and "tandem-grid-comment" not in read_only
