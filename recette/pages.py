"""Pages of the acceptance: overview, campaign grid and dashboard, documents."""

import json
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db.models import Count, IntegerField
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from evolutions.selectors import change_requests_visible_to
from recette import forms, pdf_data, services
from recette.importing import parse_cases
from recette.models import AcceptanceReport, Campaign, Defect, Evidence, Execution
from recette.selectors import (
    campaign_cases_with_result,
    campaign_figures,
    campaigns_visible_to,
    defects_visible_to,
    grid_figures,
    grid_html,
    grid_rows,
    of_tester,
    run_summary,
    tester_names,
)
from recette.tasks import IMPORT_PREVIEWS_FOLDER
from workflow import access, consistency
from workflow.refusals import errors_onto, refusal_about
from workflow.responses import pdf_response, refused
from workflow.transitions import ActionRefused
from workflow.uploads import file_download_response, private_storage

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
    return change_requests_visible_to(user).filter(acceptance_plan__isnull=False)


def acceptance_list(request):
    requests = (
        _acceptances_visible_to(request.user)
        .select_related("acceptance_plan")
        .annotate(campaign_count=Count("campaigns", distinct=True))
        .order_by("-pk")
    )
    return render(request, "recette/acceptance_list.html", {"requests": requests})


def acceptance_detail(request, pk: int):
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    plan = change_request.acceptance_plan
    # Once the acceptance is over its defects no longer move.
    running = consistency.process_is_open(
        getattr(change_request, "recette_process", None)
    )
    context = {
        "change_request": change_request,
        "plan": plan,
        "margin_warning": services.plan_margin_warning(plan),
        "cases": plan.cases.prefetch_related("steps"),
        "qualifications": change_request.qualifications.all(),
        "deliveries": change_request.deliveries.all(),
        "campaigns": change_request.campaigns.select_related("delivery"),
        "defects": [
            (
                defect,
                services.defect_allowed_actions(request.user, defect)
                if running
                else set(),
            )
            for defect in change_request.defects.select_related(
                "fixed_in", "organisation"
            )
        ],
        "plan_actions": services.plan_allowed_actions(request.user, plan),
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
    return get_object_or_404(campaigns_visible_to(request.user), pk=pk)


def campaign_grid(request, pk: int):
    """The testers' grid: one row per case, results recorded from the keyboard."""
    campaign = _visible_campaign(request, pk)
    rows = campaign_cases_with_result(campaign)
    shown = request.GET.get("filtre", "")
    narrowed = {
        "mes-cas": lambda cases: of_tester(cases, request.user),
        "a-executer": lambda cases: cases.filter(result=R.TO_RUN),
        "echoues": lambda cases: cases.filter(result=R.FAILED),
    }.get(shown)
    if narrowed:
        rows = narrowed(rows)
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
            "results": [
                (value, label, RESULT_KEYS[value]) for value, label in R.choices
            ],
            "figures": figures,
            "keys_json": json.dumps({key: value for value, key in RESULT_KEYS.items()}),
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
        },
    )


@require_POST
def campaign_record(request, pk: int):
    """Save results sent by the grid (JSON); answer with what was saved."""
    campaign = _visible_campaign(request, pk)
    try:
        # Refused before the body is read: a refusal is a 403 whatever is sent.
        access.require_any_role(request.user, services.TESTERS, campaign.organisation)
    except PermissionDenied as refusal:
        return JsonResponse({"error": str(refusal)}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
        entries = [
            {
                "case": int(entry["case"]),
                "result": str(entry["result"]),
                "comment": str(entry.get("comment", ""))[:4000],
            }
            for entry in payload["results"]
        ]
    # OverflowError: a case given as 1e400 (JSON reads it as infinity).
    except (ValueError, KeyError, TypeError, OverflowError):
        return JsonResponse({"error": _("Requête illisible.")}, status=400)
    try:
        saved = services.executions_record(
            pk=campaign.pk, by=request.user, results=entries
        )
    except PermissionDenied as refusal:
        return JsonResponse({"error": str(refusal)}, status=403)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    # An ActionRefused (the campaign closed meanwhile) is answered by
    # workflow.refusals.RefusalMiddleware: {"error": …}, 409, as the grid reads it.
    labels = dict(R.choices)
    figures = campaign_figures(campaign)
    return JsonResponse(
        {
            "saved": [
                {"case": e.case_id, "result": e.result, "label": str(labels[e.result])}
                for e in saved
            ],
            "figures": figures,
            "summary": run_summary(figures),
        }
    )


def campaign_dashboard(request, pk: int):
    """Counts by result, by tester and by defect severity, with a chart."""
    campaign = _visible_campaign(request, pk)
    figures = campaign_figures(campaign)
    # Each case counts for the tester it was given to, else for whoever recorded
    # its latest result.
    by_tester = (
        campaign_cases_with_result(campaign)
        .order_by()
        .annotate(who=Coalesce("tester", "recorded_by", output_field=IntegerField()))
        .values("who", "result")
        .annotate(n=Count("pk"))
    )
    names = tester_names(row["who"] for row in by_tester)
    testers: dict[str, dict[str, int]] = {}
    for row in by_tester:
        name = names.get(row["who"]) or _("Non attribué")
        counts = testers.setdefault(name, dict.fromkeys(R.values, 0))
        counts[row["result"]] += row["n"]
    defects = (
        Defect.objects.filter(executions__campaign=campaign)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk", distinct=True))
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
            "testers": sorted(testers.items()),
            "results": R.choices,
            "severities": [
                (label, severities[value]) for value, label in Defect.Severity.choices
            ],
        },
    )


def defect_create(request, pk: int):
    """A tester raises a defect, linked to failed or blocked executions."""
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    access.require_any_role(request.user, services.TESTERS, change_request.organisation)
    form = forms.DefectForm(request.POST or None, change_request=change_request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.defect_open(
                change_request_pk=change_request.pk,
                by=request.user,
                title=data["title"],
                severity=data["severity"],
                description=data["description"],
                execution_pks=tuple(e.pk for e in data["executions"]),
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, _("Anomalie enregistrée."))
            return redirect("recettes:detail", pk=change_request.pk)
    return render(
        request,
        "recette/defect_form.html",
        {"form": form, "change_request": change_request},
    )


def defect_detail(request, pk: int):
    """A defect whole: where it was found, what was seen, its files, its thread,
    its history and what the user may do with it now."""
    defect = get_object_or_404(defects_visible_to(request.user), pk=pk)
    return render(request, "recette/defect_detail.html", {"defect": defect})


DEFECT_ACTIONS = {
    "rejeter": (services.defect_reject, True),
    "accepter-le-rejet": (services.defect_accept_rejection, False),
    "verifier": (services.defect_verify, False),
    "rouvrir": (services.defect_reopen, True),
}


@require_POST
def defect_action(request, pk: int, action: str):
    """One move of a defect's lifecycle, by the role the service requires."""
    defect = get_object_or_404(defects_visible_to(request.user), pk=pk)
    if action not in DEFECT_ACTIONS:
        raise Http404
    service, needs_reason = DEFECT_ACTIONS[action]
    form = forms.ReasonForm(request.POST)
    form.is_valid()
    kwargs = {"reason": form.cleaned_data.get("reason", "")} if needs_reason else {}
    try:
        with refusal_about(defect):
            service(pk=defect.pk, by=request.user, **kwargs)
    except ValidationError as error:
        return refused(request, " ".join(error.messages), subject=defect, status=400)
    messages.success(request, _("Anomalie mise à jour."))
    return redirect("recettes:detail", pk=defect.change_request_id)


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


def _editable_plan_of(request, pk: int, action: str):
    change_request = get_object_or_404(_acceptances_visible_to(request.user), pk=pk)
    plan = change_request.acceptance_plan
    actions = services.plan_allowed_actions(request.user, plan)
    if action not in actions:
        if not access.may_act_any(
            request.user, services.PLAN_AUTHORS, plan.organisation
        ):
            raise PermissionDenied(_("Seul le fournisseur écrit le plan de recette."))
        if plan.is_frozen:
            raise ActionRefused(
                _("Le plan de recette est figé : rouvrez-le d'abord."),
                subject=change_request,
            )
        raise ActionRefused(services.CASES_ALREADY_PLAYED, subject=change_request)
    return change_request, plan


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
    """Dry run first: the file is read and every case or bad line is shown; it is
    saved only when confirmed, and only if it has no error."""
    change_request, plan = _editable_plan_of(request, pk, "import")
    pending = request.session.get(_IMPORTS_KEY, {})
    if request.method == "POST" and "cancel" in request.POST:
        entry = pending.get(request.POST["cancel"])
        if entry is not None and entry["plan"] == plan.pk:
            _import_preview_discard(pending, request.POST["cancel"])
            request.session[_IMPORTS_KEY] = pending
        messages.info(request, _("Import annulé : rien n'a été enregistré."))
        return redirect("recettes:detail", pk=change_request.pk)
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
        try:
            with refusal_about(change_request):
                count = services.cases_import(
                    pk=plan.pk, by=request.user, preview=preview
                )
        except ValidationError as error:
            return refused(
                request, " ".join(error.messages), subject=change_request, status=400
            )
        messages.success(request, _("%(n)s cas de test importés.") % {"n": count})
        return redirect("recettes:detail", pk=change_request.pk)

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
        if preview.ok and preview.cases:
            upload.seek(0)
            content = upload.read()
            token = secrets.token_urlsafe(16)
            path = private_storage().save(
                f"{IMPORT_PREVIEWS_FOLDER}/{token}."
                f"{upload.name.rsplit('.', 1)[-1].lower()}",
                ContentFile(content),
            )
            pending[token] = {"path": path, "name": upload.name, "plan": plan.pk}
            request.session[_IMPORTS_KEY] = pending
            context["token"] = token
    return render(request, "recette/cases_import.html", context)


def case_create(request, pk: int):
    """The supplier types a test case in, with its ordered steps."""
    change_request, plan = _editable_plan_of(request, pk, "add_case")
    form = forms.CaseForm(request.POST or None)
    steps = forms.StepFormSet(request.POST or None, prefix="etapes")
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        rows = [
            (step["action"], step["expected"])
            for step in steps.cleaned_data
            if step and (step.get("action") or step.get("expected"))
        ]
        try:
            services.case_add(
                pk=plan.pk, by=request.user, steps=rows, **form.cleaned_data
            )
        except ValidationError as error:
            # "steps" is no field of the case form: its error shows above the form.
            errors_onto(form, error)
        else:
            messages.success(request, _("Cas de test ajouté."))
            return redirect("recettes:detail", pk=change_request.pk)
    return render(
        request,
        "recette/case_form.html",
        {"form": form, "steps": steps, "change_request": change_request},
    )


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
