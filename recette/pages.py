"""Pages of the acceptance: overview, campaign grid and dashboard, documents."""

import json
import secrets
from contextlib import contextmanager

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db.models import Count, IntegerField
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from recette import forms, pdf_data, services
from recette.importing import parse_cases
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    CampaignCase,
    Defect,
    DefectAttachment,
    Delivery,
    Evidence,
    Execution,
    Qualification,
    RecetteProcess,
    TestCase,
)
from recette.selectors import (
    GRID_FILTERS,
    acceptances_visible_to,
    campaign_cases_with_result,
    campaign_figures,
    campaigns_visible_to,
    defects_html,
    defects_visible_to,
    figures_from_counts,
    grid_figures,
    grid_html,
    grid_rows,
    plan_cases_html,
    tester_names,
)
from recette.tasks import IMPORT_PREVIEWS_FOLDER
from workflow import access, consistency, statements
from workflow.labels import choice_labels
from workflow.refusals import errors_onto, refusal_about
from workflow.responses import pdf_response, refused
from workflow.transitions import ActionRefused, history_of
from workflow.uploads import (
    file_download_response,
    note_files_not_kept,
    private_storage,
)

R = Execution.Result
# One key per result in the grid (the page lists them).
RESULT_KEYS = {
    R.PASSED: "r",
    R.FAILED: "e",
    R.BLOCKED: "b",
    R.NOT_APPLICABLE: "n",
    R.TO_RUN: "x",
}


def _acceptances_visible_to(user):
    return acceptances_visible_to(user)


def _visible_acceptance(user, pk: int):
    """The change request `pk` with its plan, if the user sees its acceptance;
    compiled once per user's conditions (workflow.statements.shaped)."""
    found = statements.shaped(
        ("recette.acceptance", access.scope_signature(user)),
        AcceptancePlan,
        lambda stand_in: (
            _acceptances_visible_to(user)
            .select_related("acceptance_plan")
            .filter(pk=stand_in)
        ),
        pk,
    )
    if not found:
        raise Http404
    return found[0]


def _plan_cases(plan) -> list:
    """The plan's cases with their number of steps (counted, not loaded; a
    GROUP BY drops Meta.ordering: said again)."""
    return statements.shaped(
        "recette.plan_cases",
        TestCase,
        lambda stand_in: (
            TestCase.objects.filter(plan_id=stand_in)
            .annotate(step_count=Count("steps"))
            .order_by(*TestCase._meta.ordering)
        ),
        plan.pk,
    )


def acceptance_detail(request, pk: int):
    change_request = _visible_acceptance(request.user, pk)
    plan = change_request.acceptance_plan
    plan_actions = services.plan_allowed_actions(request.user, plan)
    cases = _plan_cases(plan)
    defects = statements.children(
        Defect, "change_request", change_request.pk, "fixed_in"
    )
    context = {
        "change_request": change_request,
        "plan": plan,
        "process": getattr(change_request, "recette_process", None),
        "margin_warning": services.plan_margin_warning(plan),
        "cases": cases,
        # Read only, hundreds of rows: rendered in Python, as the grid is.
        "cases_html": None if "add_case" in plan_actions else plan_cases_html(cases),
        # Which cases stay as they are (played, cited): only while cases change.
        "case_locks": None if plan.is_frozen else services.case_locks(plan),
        "qualifications": statements.children(
            Qualification, "change_request", change_request.pk
        ),
        "deliveries": statements.children(
            Delivery, "change_request", change_request.pk
        ),
        "campaigns": statements.children(
            Campaign, "change_request", change_request.pk, "delivery"
        ),
        "defects": defects,
        "defects_html": defects_html(defects),
        "plan_actions": plan_actions,
        "may_open_defect": access.may_act_any(
            request.user, services.TESTERS, change_request.organisation
        ),
        "report": getattr(change_request, "acceptance_report", None),
        "agreement": change_request.go_live_agreements.prefetch_related(
            "signatures__signer"
        ).last(),
    }
    return render(request, "recette/acceptance_detail.html", context)


def _visible_campaign(request, pk: int) -> Campaign:
    """The campaign `pk` if the user sees it, compiled once per user's
    conditions (workflow.statements.shaped)."""
    user = request.user
    found = statements.shaped(
        ("recette.campaign", access.scope_signature(user)),
        Campaign,
        lambda stand_in: campaigns_visible_to(user).filter(pk=stand_in),
        pk,
    )
    if not found:
        raise Http404
    return found[0]


def campaign_grid(request, pk: int):
    """The testers' grid: one row per case, results recorded from the keyboard."""
    campaign = _visible_campaign(request, pk)
    rows = campaign_cases_with_result(campaign)
    shown = request.GET.get("filtre", "")
    narrowed = GRID_FILTERS.get(shown)
    if narrowed:
        rows = narrowed(rows, request.user)
    may_record = services.may_record_results(request.user, campaign)
    lines = grid_rows(rows, campaign)
    # Every case is on the grid unless narrowed: count its lines, not the cases
    # again.
    figures = campaign_figures(campaign) if narrowed else grid_figures(lines)
    return render(
        request,
        "recette/campaign_grid.html",
        {
            "campaign": campaign,
            "rows": lines,
            "rows_html": grid_html(lines, focusable=may_record),
            "shown": shown,
            "may_record": may_record,
            "may_assign": access.may_act_any(
                request.user, services.CLIENT_LEADS, campaign.organisation
            ),
            "may_open_defect": may_record,
            "results": [
                (value, label, RESULT_KEYS[value]) for value, label in R.choices
            ],
            "figures": figures,
            # Counted by the page, then adjusted by the grid from each answer.
            "counts_json": json.dumps({value: figures[value] for value in R.values}),
            "to_run": R.TO_RUN,
            "keys_json": json.dumps({key: value for value, key in RESULT_KEYS.items()}),
            "batch_max": services.GRID_BATCH_MAX,
            "idle_ms": services.GRID_IDLE_MS,
        },
    )


def campaign_case(request, pk: int, case_pk: int):
    """One case of a campaign: its steps with per-step results, a comment, the
    execution history and its evidence."""
    campaign = _visible_campaign(request, pk)
    row = get_object_or_404(
        campaign.campaign_cases.select_related("case"), case_id=case_pk
    )
    case = row.case
    steps = list(case.steps.all())
    choices = [(value, label) for value, label in R.choices if value != R.TO_RUN]
    errors = []
    if request.method == "POST":
        result = request.POST.get("result", "")
        step_results = {
            str(step.number): request.POST.get(f"etape-{step.number}", "")
            for step in steps
            if request.POST.get(f"etape-{step.number}")
        }
        if any(value not in R.values for value in step_results.values()):
            errors.append(_("Résultat d'étape inconnu."))
        if not errors:
            try:
                with refusal_about(campaign):
                    services.executions_record(
                        pk=campaign.pk,
                        by=request.user,
                        results=[
                            {
                                "case": case.pk,
                                "result": result,
                                "comment": request.POST.get("comment", "")[:4000],
                                "step_results": step_results,
                            }
                        ],
                    )
            except ValidationError as error:
                # The page lists its errors itself: it has no Django form.
                errors.extend(error.messages)
            else:
                messages.success(request, _("Résultat enregistré."))
                return redirect("recettes:case", pk=campaign.pk, case_pk=case.pk)
    history = (
        Execution.objects.filter(
            campaign__change_request=campaign.change_request, case=case
        )
        .select_related("tester", "campaign")
        .prefetch_related("evidence")
        .order_by("-executed_at", "-pk")
    )
    return render(
        request,
        "recette/campaign_case.html",
        {
            "campaign": campaign,
            "case": case,
            "steps": steps,
            "choices": choices,
            "history": history,
            # What the result field shows: what was just posted, else the case's
            # latest result in this campaign, else nothing (never "Réussi" by
            # default: saving a comment would turn a failure into a pass).
            "chosen_result": request.POST.get("result", "")
            if request.method == "POST"
            else next((e.result for e in history if e.campaign_id == campaign.pk), ""),
            "errors": errors,
            "may_record": services.may_record_results(request.user, campaign),
            "may_open_defect": access.may_act_any(
                request.user, services.TESTERS, campaign.organisation
            ),
            "defects": Defect.objects.filter(
                change_request_id=campaign.change_request_id, case=case
            ),
        },
    )


@require_POST
def campaign_record(request, pk: int):
    """Save a batch of results sent by the grid (JSON); answer which client keys
    are saved and, per case touched, its result before and after, from which the
    grid adjusts the counts it shows (the campaign's figures are not counted
    again: with many testers, that was most of the cost of a save)."""

    def entries() -> list[dict]:
        """The results sent, read once the campaign is known visible and the user
        one of its testers (results_record): a refusal whatever is sent."""
        try:
            payload = json.loads(request.body or b"{}")
            read = [
                {
                    "case": int(entry["case"]),
                    "result": str(entry["result"]),
                    "comment": str(entry.get("comment", ""))[:4000],
                    "key": _client_key(entry.get("key")),
                }
                for entry in payload["results"]
            ]
            if any(not 0 < entry["case"] < 2**63 for entry in read):
                raise ValueError("no such case id")  # a database id has 63 bits
        # OverflowError: a case given as 1e400 (JSON reads it as infinity).
        except (ValueError, KeyError, TypeError, OverflowError) as error:
            raise _Unreadable from error
        return read

    try:
        recorded = services.results_record(pk=pk, by=request.user, results=entries)
    except Campaign.DoesNotExist:
        raise Http404 from None
    except _Unreadable:
        return JsonResponse({"error": _("Requête illisible.")}, status=400)
    except PermissionDenied as refusal:
        return JsonResponse({"error": str(refusal)}, status=403)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    # An ActionRefused (the campaign closed meanwhile) is answered by
    # workflow.refusals.RefusalMiddleware: {"error": …}, 409, as the grid reads it.
    labels = choice_labels(R)
    return JsonResponse(
        {
            "saved": [
                {"case": e.case_id, "result": e.result, "label": labels[e.result]}
                for e in recorded.executions
            ],
            "acknowledged": recorded.acknowledged,
            "cases": [
                {
                    "case": case,
                    "previous": previous,
                    "result": result,
                    "label": labels[result],
                }
                for case, (previous, result) in recorded.changes.items()
            ],
        }
    )


class _Unreadable(Exception):
    """The grid's request body is not what it sends."""


def _client_key(value) -> str:
    """The grid's key for one result typed (its form is the service's business),
    or "" when none is sent."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def campaign_dashboard(request, pk: int):
    """Counts by result, by tester and by defect severity, with a chart."""
    campaign = _visible_campaign(request, pk)
    # Each case counts for the tester it was given to, else for whoever recorded
    # its latest result. Every case is in one row: the campaign's figures are
    # their sums (one pass over the cases' latest results, not two).
    by_tester = statements.shaped(
        "recette.dashboard.by_tester",
        CampaignCase,
        lambda stand_in: (
            campaign_cases_with_result(stand_in)
            .order_by()
            .annotate(
                who=Coalesce("tester", "recorded_by", output_field=IntegerField())
            )
            .values("who", "result")
            .annotate(n=Count("pk"))
        ),
        campaign.pk,
    )
    figures = figures_from_counts((row["result"], row["n"]) for row in by_tester)
    names = tester_names(row["who"] for row in by_tester)
    testers: dict[str, dict[str, int]] = {}
    for row in by_tester:
        name = names.get(row["who"]) or _("Non attribué")
        counts = testers.setdefault(name, dict.fromkeys(R.values, 0))
        counts[row["result"]] += row["n"]
    defects = statements.shaped(
        "recette.dashboard.defects",
        Defect,
        lambda stand_in: (
            Defect.objects.filter(executions__campaign=stand_in)
            .order_by()
            .values("severity")
            .annotate(n=Count("pk", distinct=True))
        ),
        campaign.pk,
    )
    severities = dict.fromkeys(Defect.Severity.values, 0)
    for row in defects:
        severities[row["severity"]] = row["n"]
    planned = figures["planned"] or 1
    bars = [
        (value, label, figures[value], round(100 * figures[value] / planned))
        for value, label in R.choices
    ]
    return render(
        request,
        "recette/campaign_dashboard.html",
        {
            "campaign": campaign,
            "figures": figures,
            "bars": bars,
            # Each tester's counts in the order of the results' columns.
            "testers": [
                (name, list(counts.values()))
                for name, counts in sorted(testers.items())
            ],
            "results": R.choices,
            "severities": [
                (label, severities[value]) for value, label in Defect.Severity.choices
            ],
        },
    )


def _defect_initial(request, change_request) -> dict:
    """What a defect raised from the grid or a case page starts with: its campaign,
    case and step (from the address), the steps up to that one to reproduce it,
    what that step expected, and the case's failed executions in that campaign."""
    initial: dict = {}
    campaign = change_request.campaigns.filter(
        pk=_positive(request.GET.get("campagne", ""))
    ).first()
    case = (
        TestCase.objects.filter(
            plan__change_request=change_request,
            pk=_positive(request.GET.get("cas", "")),
        )
        .prefetch_related("steps")
        .first()
    )
    if campaign:
        initial["campaign"] = campaign.pk
    if case is None:
        return initial
    initial["case"] = case.pk
    steps = list(case.steps.all())
    step = _positive(request.GET.get("etape", ""))
    chosen = next((s for s in steps if s.number == step), None)
    upto = [s for s in steps if chosen is None or s.number <= chosen.number]
    initial["steps_to_reproduce"] = "\n".join(f"{s.number}. {s.action}" for s in upto)
    if chosen:
        initial["step"] = chosen.number
        initial["expected"] = chosen.expected
    if campaign:
        latest = (
            Execution.objects.filter(
                campaign=campaign, case=case, result__in=[R.FAILED, R.BLOCKED]
            )
            .order_by("-executed_at", "-pk")
            .first()
        )
        if latest:
            initial["executions"] = [latest.pk]
            if latest.comment:
                initial["observed"] = latest.comment
    return initial


def defect_create(request, pk: int):
    """A tester raises a defect, from the acceptance page, the grid or a case page
    (then its campaign, case and step come filled in), with files."""
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    access.require_any_role(request.user, services.TESTERS, change_request.organisation)
    form = forms.DefectForm(
        request.POST or None,
        request.FILES or None,
        change_request=change_request,
        initial=_defect_initial(request, change_request),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            defect = services.defect_open(
                change_request_pk=change_request.pk,
                by=request.user,
                title=data["title"],
                severity=data["severity"],
                description=data["description"],
                steps_to_reproduce=data["steps_to_reproduce"],
                expected=data["expected"],
                observed=data["observed"],
                campaign_pk=data["campaign"].pk if data["campaign"] else None,
                case_pk=data["case"].pk if data["case"] else None,
                step=data["step"],
                execution_pks=tuple(e.pk for e in data["executions"]),
                files=data["files"] or (),
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(
                request,
                _("Anomalie %(reference)s enregistrée.")
                % {"reference": defect.reference},
            )
            return redirect("recettes:defect", pk=defect.pk)
    if request.method == "POST":
        note_files_not_kept(form, "files")
    return render(
        request,
        "recette/defect_form.html",
        {"form": form, "change_request": change_request},
        status=400 if request.method == "POST" else 200,
    )


# The moves of a defect: service, whether a reason is asked, the button, what the
# move means (shown before it is confirmed).
DEFECT_ACTIONS = {
    "rejeter": (
        services.defect_reject,
        True,
        gettext_lazy("Rejeter l'anomalie"),
        gettext_lazy(
            "Le fournisseur estime qu'il ne s'agit pas d'une anomalie ou qu'elle sort "
            "du périmètre de la demande. Le client pourra accepter le rejet ou "
            "rouvrir l'anomalie."
        ),
    ),
    "accepter-le-rejet": (
        services.defect_accept_rejection,
        False,
        gettext_lazy("Accepter le rejet"),
        gettext_lazy(
            "L'anomalie est close sans correction : elle ne bloque plus la mise en "
            "production et n'est plus à inscrire en réserve."
        ),
    ),
    "verifier": (
        services.defect_verify,
        False,
        gettext_lazy("Confirmer la correction"),
        gettext_lazy(
            "Vous avez vérifié, dans la livraison qui la corrige, que l'anomalie a "
            "disparu. Elle est alors close."
        ),
    ),
    "rouvrir": (
        services.defect_reopen,
        True,
        gettext_lazy("Rouvrir l'anomalie"),
        gettext_lazy(
            "La correction ou le rejet n'est pas accepté : l'anomalie revient au "
            "fournisseur, qui doit la reprendre."
        ),
    ),
}


def _visible_defect(request, pk: int) -> Defect:
    return get_object_or_404(
        defects_visible_to(request.user).select_related(
            "organisation", "campaign__delivery", "case", "opened_by"
        ),
        pk=pk,
    )


def _defect_running(defect: Defect) -> bool:
    # Once the acceptance is over its defects no longer move.
    return consistency.process_is_open(
        RecetteProcess.objects.filter(
            change_request_id=defect.change_request_id
        ).first()
    )


def _thread(defect: Defect) -> list[tuple]:
    """The defect's messages, each with the side that wrote it (one query more)."""
    comments = list(defect.comments.select_related("author"))
    supplier_authors = access.supplier_users_among(c.author_id for c in comments)
    client_side = defect.organisation.name
    return [
        (c, _("CNAF") if c.author_id in supplier_authors else client_side)
        for c in comments
    ]


def defect_detail(request, pk: int):
    """A defect whole: where it was found, what was seen, its files, its thread,
    its history and what the user may do with it now."""
    defect = _visible_defect(request, pk)
    running = _defect_running(defect)
    allowed = (
        services.defect_allowed_actions(request.user, defect) if running else set()
    )
    may_discuss = running and services.defect_may_discuss(request.user, defect)
    step = (
        defect.case.steps.filter(number=defect.step).first()
        if defect.case_id and defect.step
        else None
    )
    return render(
        request,
        "recette/defect_detail.html",
        {
            "defect": defect,
            "change_request": defect.change_request,
            "step": step,
            "executions": defect.executions.select_related(
                "case", "campaign", "tester"
            ).prefetch_related("evidence"),
            "attachments": defect.attachments.select_related("uploaded_by"),
            "comments": _thread(defect),
            "history": history_of(defect),
            "actions": [
                (slug, label, meaning)
                for slug, (_service, _reason, label, meaning) in DEFECT_ACTIONS.items()
                if slug in allowed
            ],
            "running": running,
            # The supplier claims a fix through a delivery, not from this page.
            "claim_hint": running
            and defect.status in (Defect.Status.OPEN, Defect.Status.REOPENED)
            and access.may_act_any(
                request.user, services.SUPPLIER_FIXERS, defect.organisation
            ),
            "comment_form": forms.DefectCommentForm() if may_discuss else None,
            "files_form": forms.DefectFilesForm() if may_discuss else None,
        },
    )


def defect_action(request, pk: int, action: str):
    """One move of a defect's lifecycle: a page saying what it means (and asking
    the reason when one is due), then the move, by the role the service requires."""
    defect = _visible_defect(request, pk)
    if action not in DEFECT_ACTIONS:
        raise Http404
    service, needs_reason, label, meaning = DEFECT_ACTIONS[action]
    # Bound on every POST, an empty one too (it then lacks its reason).
    form = forms.ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        form.is_valid()
        kwargs = {"reason": form.cleaned_data.get("reason", "")} if needs_reason else {}
        try:
            with refusal_about(defect):
                moved = service(pk=defect.pk, by=request.user, **kwargs)
        except ValidationError as error:
            errors_onto(form, error, default="reason" if needs_reason else None)
        else:
            messages.success(
                request,
                _("%(reference)s : %(state)s.")
                % {"reference": moved.reference, "state": moved.get_status_display()},
            )
            return redirect("recettes:defect", pk=defect.pk)
    elif action not in (
        services.defect_allowed_actions(request.user, defect)
        if _defect_running(defect)
        else set()
    ):
        return refused(
            request,
            _(
                "Cette action n'est pas possible pour vous sur cette anomalie dans "
                "son état actuel (« %(state)s »)."
            )
            % {"state": defect.get_status_display()},
            subject=defect,
            status=403,
        )
    return render(
        request,
        "recette/defect_action.html",
        {
            "defect": defect,
            "form": form,
            "needs_reason": needs_reason,
            "label": label,
            "meaning": meaning,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
def defect_comment(request, pk: int):
    """Write in a defect's thread."""
    defect = _visible_defect(request, pk)
    if not services.defect_may_discuss(request.user, defect):
        raise PermissionDenied(
            _(
                "Seuls les testeurs, le porteur de la demande et l'équipe projet "
                "échangent sur une anomalie."
            )
        )
    form = forms.DefectCommentForm(request.POST)
    if not form.is_valid():
        return refused(
            request, " ".join(form.errors.get("text", [])), subject=defect, status=400
        )
    try:
        with refusal_about(defect):
            services.defect_comment_add(
                pk=defect.pk, by=request.user, text=form.cleaned_data["text"]
            )
    except ValidationError as error:
        return refused(request, " ".join(error.messages), subject=defect, status=400)
    messages.success(request, _("Message ajouté."))
    return redirect(f"{services.defect_link(defect)}#fil")


@require_POST
def defect_files(request, pk: int):
    """Join files to a defect (all or none)."""
    defect = _visible_defect(request, pk)
    if not services.defect_may_discuss(request.user, defect):
        raise PermissionDenied(
            _(
                "Seuls les testeurs, le porteur de la demande et l'équipe projet "
                "échangent sur une anomalie."
            )
        )
    form = forms.DefectFilesForm(request.POST, request.FILES)
    if not form.is_valid():
        reason = " ".join(form.errors.get("files", [_("Choisissez un fichier.")]))
        return refused(request, reason, subject=defect, status=400)
    try:
        with refusal_about(defect):
            stored = services.defect_attachments_add(
                pk=defect.pk, by=request.user, files=form.cleaned_data["files"]
            )
    except ValidationError as error:
        return refused(request, " ".join(error.messages), subject=defect, status=400)
    messages.success(
        request,
        ngettext("%(n)d fichier joint.", "%(n)d fichiers joints.", len(stored))
        % {"n": len(stored)},
    )
    return redirect(f"{services.defect_link(defect)}#fichiers")


def defect_attachment_download(request, pk: int):
    attachment = get_object_or_404(
        DefectAttachment.objects.filter(defect__in=defects_visible_to(request.user)),
        pk=pk,
    )
    return file_download_response(
        attachment.file, download_name=attachment.original_name
    )


@require_POST
def evidence_upload(request, pk: int):
    """Join a file to an execution of a visible campaign."""
    execution = get_object_or_404(
        Execution.objects.filter(
            campaign__in=campaigns_visible_to(request.user)
        ).select_related("campaign"),
        pk=pk,
    )
    access.require_any_role(
        request.user, services.TESTERS, execution.campaign.organisation
    )
    form = forms.EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        reason = " ".join(form.errors.get("file", [_("Choisissez un fichier.")]))
        return refused(request, reason, subject=execution, status=400)
    try:
        services.evidence_add(
            execution_pk=execution.pk,
            by=request.user,
            uploaded=form.cleaned_data["file"],
        )
    except ValidationError as error:
        return refused(request, " ".join(error.messages), subject=execution, status=400)
    messages.success(request, _("Preuve jointe."))
    return redirect("recettes:grid", pk=execution.campaign_id)


_IMPORTS_KEY = "tandem_case_imports"


def _editable_plan_of(request, pk: int):
    """The change request and its plan, when the user writes the plan and it is
    being prepared: 404 outside the user's organisations, 403 to whoever does not
    write plans, 409 once the plan is submitted or validated."""
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    plan = change_request.acceptance_plan
    if not access.may_act_any(request.user, services.PLAN_AUTHORS, plan.organisation):
        raise PermissionDenied(_("Seul le fournisseur écrit le plan de recette."))
    if plan.is_frozen:
        raise ActionRefused(
            _("Le plan de recette est figé : rouvrez-le d'abord."),
            subject=change_request,
            link=_plan_cases_url(change_request),
            link_label=_("Revenir aux cas du plan"),
        )
    return change_request, plan


def _plan_cases_url(change_request, case_pk: int | None = None) -> str:
    """The acceptance's page at the plan's cases, or at one of them."""
    anchor = f"cas-{case_pk}" if case_pk else "cas-du-plan"
    return f"{reverse('recettes:detail', args=[change_request.pk])}#{anchor}"


@contextmanager
def _about_plan_cases(change_request):
    """A refusal raised inside the block names the request and leads back to the
    plan's cases."""
    try:
        yield
    except ActionRefused as refusal:
        refusal.subject = refusal.subject or change_request
        if refusal.link is None:
            refusal.link = _plan_cases_url(change_request)
            refusal.link_label = _("Revenir aux cas du plan")
        raise


def _plan_case(request, pk: int, case_pk: int):
    change_request, plan = _editable_plan_of(request, pk)
    return change_request, plan, get_object_or_404(plan.cases, pk=case_pk)


def _import_preview_discard(pending: dict, token: str) -> None:
    """Forget a pending preview and delete its stored file."""
    entry = pending.pop(token, None)
    if entry is not None:
        # recette.tasks.expire_import_previews deletes those a session forgot.
        private_storage().delete(entry["path"])


def _import_preview_read(entry: dict | None, plan):
    """Parse a pending preview's stored file again; None once it has expired."""
    if entry is None or entry["plan"] != plan.pk:
        return None
    try:
        # Gone once confirmed, cancelled, or after a day (the beat task).
        with private_storage().open(entry["path"], "rb") as stored:
            return parse_cases(stored, filename=entry["name"])
    except FileNotFoundError:
        return None


def cases_import(request, pk: int):
    """Dry run first: the file is read, every bad line is shown, and so is what it
    would do to the plan (cases added, changed, absent from the file); the user
    then chooses to add and update (absent cases kept) or to replace every case.
    Saved only when confirmed, only if the file has no error, and only if the
    plan's cases are still those previewed."""
    change_request, plan = _editable_plan_of(request, pk)
    pending = request.session.get(_IMPORTS_KEY, {})
    if request.method == "POST" and "cancel" in request.POST:
        entry = pending.get(request.POST["cancel"])
        if entry is not None and entry["plan"] == plan.pk:
            _import_preview_discard(pending, request.POST["cancel"])
            request.session[_IMPORTS_KEY] = pending
        messages.info(request, _("Import annulé : rien n'a été enregistré."))
        return redirect(_plan_cases_url(change_request))
    if request.method == "POST" and "confirm" in request.POST:
        token = request.POST.get("confirm", "")
        entry = pending.pop(token, None)
        request.session[_IMPORTS_KEY] = pending
        preview = _import_preview_read(entry, plan)
        if preview is None:
            return refused(
                request,
                _("Import expiré : envoyez le fichier à nouveau."),
                subject=change_request,
                status=400,
            )
        private_storage().delete(entry["path"])
        mode = request.POST.get("mode", services.IMPORT_MERGE)
        try:
            with _about_plan_cases(change_request):
                changes = services.cases_import(
                    pk=plan.pk,
                    by=request.user,
                    preview=preview,
                    mode=mode,
                    state=entry.get("state"),
                )
        except ValidationError as error:
            return refused(
                request, " ".join(error.messages), subject=change_request, status=400
            )
        removed = len(changes.absent) if mode == services.IMPORT_REPLACE else 0
        messages.success(
            request,
            _(
                "%(n)s cas de test importés : %(added)s ajouté(s), %(changed)s "
                "modifié(s) ; %(removed)s cas du plan supprimé(s)."
            )
            % {
                "n": len(preview.cases),
                "added": len(changes.added),
                "changed": len(changes.changed),
                "removed": removed,
            },
        )
        return redirect(_plan_cases_url(change_request))

    form = forms.ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "change_request": change_request, "plan": plan}
    if request.method == "POST" and not form.is_valid():
        # Refused before anything is read (a file over the size limit, or none).
        return render(request, "recette/cases_import.html", context, status=400)
    if request.method == "POST":
        upload = form.cleaned_data["file"]
        # A new file replaces the plan's previews not confirmed yet.
        for token, entry in list(pending.items()):
            if entry["plan"] == plan.pk:
                _import_preview_discard(pending, token)
        request.session[_IMPORTS_KEY] = pending
        # parse_cases reads at most the size limit; the form has checked it already.
        preview = parse_cases(upload, filename=upload.name)
        context["preview"] = preview
        changes = None
        if preview.ok and preview.cases:
            changes = services.import_changes(plan, preview)
            context["changes"] = changes
            context["modes"] = [
                (value, label, changes.refusals(value))
                for value, label in services.IMPORT_MODES.items()
            ]
        if changes is not None and not changes.refused:
            upload.seek(0)
            content = upload.read()
            token = secrets.token_urlsafe(16)
            path = private_storage().save(
                f"{IMPORT_PREVIEWS_FOLDER}/{token}."
                f"{upload.name.rsplit('.', 1)[-1].lower()}",
                ContentFile(content),
            )
            pending[token] = {
                "path": path,
                "name": upload.name,
                "plan": plan.pk,
                # What the preview was computed on: confirming checks it again.
                "state": changes.state,
            }
            request.session[_IMPORTS_KEY] = pending
            context["token"] = token
    return render(request, "recette/cases_import.html", context)


_STEPS_PREFIX = "etapes"


def _case_form(data, case, *, played: bool):
    """The case's fields; a played case's reference is shown, not asked."""
    initial = (
        {}
        if case is None
        else {name: getattr(case, name) for name in forms.CaseForm.base_fields}
    )
    if data is not None and "add_step" in data:
        # Shown again to add a step: what was typed, not yet checked.
        typed = {n: data.get(n, "") for n in forms.CaseForm.base_fields}
        if played:
            del typed["reference"]
        initial, data = {**initial, **typed}, None
    form = forms.CaseForm(data, initial=initial)
    if played:
        form.fields["reference"].disabled = True
        form.fields["reference"].help_text = _(
            "Ce cas a déjà été joué en campagne : sa référence et ses étapes ne "
            "changent plus."
        )
    return form


def _steps_form(data, case):
    """The case's steps: as many as it has (three empty ones for a new case);
    « Ajouter une étape » gives them back as typed, with one more."""
    if data is None:
        if case is None:
            return forms.StepFormSet(prefix=_STEPS_PREFIX)
        kept = [{"action": s.action, "expected": s.expected} for s in case.steps.all()]
        return forms.StepFormSet(prefix=_STEPS_PREFIX, initial=kept, blank=0)
    if "add_step" not in data:
        return forms.StepFormSet(data, prefix=_STEPS_PREFIX)
    typed = [
        {
            "action": step["action"].value() or "",
            "expected": step["expected"].value() or "",
        }
        for step in forms.StepFormSet(data, prefix=_STEPS_PREFIX).forms
    ]
    more = len(typed) < services.MAX_STEPS
    steps = forms.StepFormSet(
        prefix=_STEPS_PREFIX, initial=typed + [{}] * more, blank=0
    )
    if more:
        steps.forms[-1].fields["action"].widget.attrs["autofocus"] = True
    return steps


def _steps_errors_onto(form, steps) -> None:
    """List the steps' errors with the case's (the summary at the top of the
    page); each is also shown at its step."""
    for error in steps.non_form_errors():
        form.add_error(None, error)
    for number, step in enumerate(steps.forms, start=1):
        for errors in step.errors.values():
            for error in errors:
                form.add_error(
                    None, _("Étape %(n)s : %(error)s") % {"n": number, "error": error}
                )


def _case_page(request, change_request, plan, case=None):
    """The form of a new case or of a case of the plan, and its save. A played
    case's form shows its steps without asking them; steps posted for it anyway
    are the service's to refuse if they differ."""
    locks = services.case_locks(plan) if case is not None else None
    played = case is not None and case.pk in locks.played
    data = request.POST if request.method == "POST" else None
    form = _case_form(data, case, played=played)
    posted_steps = data is not None and f"{_STEPS_PREFIX}-TOTAL_FORMS" in data
    steps = _steps_form(data, case) if not played or posted_steps else None
    # The case as this form first showed it (carried along as the form is sent).
    state = None
    if case is not None:
        state = data.get("etat_du_cas") if data else None
        state = state or services.case_state(case)
    status = 200
    if form.is_bound:
        steps_valid = steps is None or steps.is_valid()
        if form.is_valid() and steps_valid:
            rows = (
                [(s.action, s.expected) for s in case.steps.all()]
                if steps is None
                else steps.rows()
            )
            try:
                with _about_plan_cases(change_request):
                    if case is None:
                        saved = services.case_add(
                            pk=plan.pk, by=request.user, steps=rows, **form.cleaned_data
                        )
                    else:
                        saved = services.case_update(
                            pk=plan.pk,
                            case_pk=case.pk,
                            by=request.user,
                            steps=rows,
                            state=state,
                            **form.cleaned_data,
                        )
            except ValidationError as error:
                # "steps" is no field of the case form: its error shows above it.
                errors_onto(form, error)
                if getattr(error, "code", None) == "case_changed":
                    # Told: sent again, the form replaces the other version.
                    state = services.case_state(case)
            else:
                done = (
                    _("Cas %(ref)s ajouté.")
                    if case is None
                    else _("Cas %(ref)s modifié.")
                )
                messages.success(request, done % {"ref": saved.reference})
                return redirect(_plan_cases_url(change_request, saved.pk))
        if not steps_valid:
            _steps_errors_onto(form, steps)
        status = 400
    return render(
        request,
        "recette/case_form.html",
        {
            "form": form,
            "steps": None if played else steps,
            "kept_steps": case.steps.all() if played else (),
            "may_add_step": not played
            and steps.total_form_count() < services.MAX_STEPS,
            "case": case,
            "may_delete": case is not None
            and locks.kept_reason(case.pk, case.reference) is None,
            "case_state": state,
            "change_request": change_request,
        },
        status=status,
    )


def case_create(request, pk: int):
    """The supplier types a test case in, with its ordered steps."""
    change_request, plan = _editable_plan_of(request, pk)
    return _case_page(request, change_request, plan)


def case_edit(request, pk: int, case_pk: int):
    """The supplier changes a case of the plan being prepared (a played case keeps
    its reference and steps)."""
    change_request, plan, case = _plan_case(request, pk, case_pk)
    return _case_page(request, change_request, plan, case)


def case_delete(request, pk: int, case_pk: int):
    """Delete a case of the plan being prepared, after a page saying what goes; a
    played case, or one a defect names, stays."""
    change_request, plan, case = _plan_case(request, pk, case_pk)
    steps = list(case.steps.all())
    with _about_plan_cases(change_request):
        reason = services.case_locks(plan).kept_reason(case.pk, case.reference)
        if reason:
            raise ActionRefused(reason)
        if request.method == "POST":
            services.case_delete(pk=plan.pk, case_pk=case.pk, by=request.user)
            messages.success(
                request,
                ngettext(
                    "Cas %(ref)s supprimé, avec son étape.",
                    "Cas %(ref)s supprimé, avec ses %(n)d étapes.",
                    len(steps),
                )
                % {"ref": case.reference, "n": len(steps)},
            )
            return redirect(_plan_cases_url(change_request))
    return render(
        request,
        "recette/case_delete.html",
        {"change_request": change_request, "plan": plan, "case": case, "steps": steps},
    )


_MOVES = {"haut": -1, "bas": 1}


@require_POST
def case_move(request, pk: int, case_pk: int):
    """Move a case of the plan being prepared one place up or down."""
    change_request, plan, case = _plan_case(request, pk, case_pk)
    offset = _MOVES.get(request.POST.get("sens", ""))
    if offset is None:
        return refused(
            request,
            _("Choisissez de monter ou de descendre le cas."),
            subject=change_request,
            status=400,
        )
    with _about_plan_cases(change_request):
        moved = services.case_move(
            pk=plan.pk, case_pk=case.pk, by=request.user, offset=offset
        )
    if moved:
        done = _("Cas %(ref)s monté d'une place.") if offset < 0 else None
        done = done or _("Cas %(ref)s descendu d'une place.")
        messages.success(request, done % {"ref": case.reference})
    else:
        edge = _("Le cas %(ref)s est déjà le premier du plan.") if offset < 0 else None
        edge = edge or _("Le cas %(ref)s est déjà le dernier du plan.")
        messages.info(request, edge % {"ref": case.reference})
    return redirect(_plan_cases_url(change_request, case.pk))


@require_POST
def plan_reopen(request, pk: int):
    """The supplier reopens a validated plan to change it (a new version)."""
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    form = forms.ReasonForm(request.POST)
    form.is_valid()
    try:
        with refusal_about(change_request):
            services.plan_reopen(
                pk=change_request.acceptance_plan.pk,
                by=request.user,
                reason=form.cleaned_data.get("reason", ""),
            )
    except ValidationError as error:
        return refused(
            request, " ".join(error.messages), subject=change_request, status=400
        )
    messages.success(request, _("Plan rouvert : la nouvelle version sera à valider."))
    return redirect("recettes:detail", pk=change_request.pk)


def campaign_assignment(request, pk: int):
    """The client's request owner gives cases of a campaign to a tester."""
    campaign = _visible_campaign(request, pk)
    access.require_any_role(request.user, services.CLIENT_LEADS, campaign.organisation)
    form = forms.AssignmentForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            count = services.campaign_assign(
                pk=campaign.pk,
                by=request.user,
                case_pks=[int(pk) for pk in form.cleaned_data["cases"]],
                tester=form.cleaned_data["tester"],
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, _("%(n)s cas attribué(s).") % {"n": count})
            return redirect("recettes:grid", pk=campaign.pk)
    return render(
        request, "recette/assignment_form.html", {"form": form, "campaign": campaign}
    )


def evidence_download(request, pk: int):
    evidence = get_object_or_404(
        Evidence.objects.filter(
            execution__campaign__in=campaigns_visible_to(request.user)
        ),
        pk=pk,
    )
    return file_download_response(evidence.file, download_name=evidence.original_name)


def plan_pdf(request, pk: int):
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    plan = change_request.acceptance_plan
    content = pdf_data.plan_pdf(plan, margin_warning=services.plan_margin_warning(plan))
    return pdf_response(
        content,
        f"{change_request.reference}-cahier-de-recette-v{plan.version}.pdf",
        subject=change_request,
    )


def report_pdf(request, pk: int):
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    report = getattr(change_request, "acceptance_report", None)
    if report is None:
        raise Http404
    if "version" in request.GET:
        # An earlier version, as submitted to its (refused) agreement.
        agreement = (
            change_request.go_live_agreements.filter(
                report_version=_positive(request.GET["version"])
            )
            .exclude(report_document="")
            .last()
        )
        if agreement is None:
            raise Http404
        return file_download_response(
            agreement.report_document,
            download_name=f"{change_request.reference}-bilan-v"
            f"{agreement.report_version}.pdf",
        )
    if report.status == AcceptanceReport.Status.SUBMITTED and report.document:
        # The submitted report is the very file both DSIs sign.
        return file_download_response(
            report.document,
            download_name=f"{change_request.reference}-bilan-v{report.version}.pdf",
        )
    # A version in writing: today's figures, marked as a draft nobody signs.
    return pdf_response(
        pdf_data.report_pdf(report),
        f"{change_request.reference}-bilan-v{report.version}-projet.pdf",
        subject=change_request,
    )


def _positive(value: str) -> int:
    """A version number from the query string, 0 when it is none."""
    return int(value) if value.isdigit() and len(value) < 6 else 0


def agreement_pdf(request, pk: int):
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    agreement = change_request.go_live_agreements.last()
    if agreement is None:
        raise Http404
    return pdf_response(
        pdf_data.agreement_pdf(agreement),
        f"{change_request.reference}-accord-mise-en-production.pdf",
        subject=change_request,
    )
