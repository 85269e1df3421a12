"""Views of the acceptance tasks: each parses its form and calls the services, and
shows above it what its actor decides on (`decision_context`, laid out by the
task's template in recette/templates/recette/decisions/)."""

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recette import forms, services
from recette.importing import parse_cases
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    Defect,
    Execution,
    GoLiveAgreement,
)
from recette.selectors import (
    campaign_figures,
    report_figures,
    unresolved_defects,
)
from workflow import second_factor, throttling
from workflow.taskviews import TaskFormView
from workflow.transitions import history_of

R = Execution.Result
# The results of a case as the figures' tables show them, in this order.
RESULT_COLUMNS = (R.PASSED, R.FAILED, R.BLOCKED, R.NOT_APPLICABLE, R.TO_RUN)


class RecetteTaskView(TaskFormView):
    def subject(self):
        return self.process.change_request

    @property
    def change_request(self):
        return self.process.change_request


class PlanTaskView(RecetteTaskView):
    @cached_property
    def plan(self) -> AcceptancePlan:
        # Read only: the plan was created with the acceptance's process.
        return AcceptancePlan.objects.select_related("change_request__release").get(
            change_request=self.change_request
        )


def _plan_context(plan: AcceptancePlan) -> dict:
    """The plan as both sides read it: schedule, margin, cases."""
    return {
        "plan": plan,
        "margin": services.plan_margin(plan),
        "cases": plan.cases.annotate(step_count=Count("steps")).order_by("position"),
    }


class PreparePlanView(PlanTaskView):
    form_class = forms.PlanForm
    success_message = gettext_lazy("Le plan de recette a été soumis au client.")
    summary_template = "recette/decisions/prepare_plan.html"
    submit_label = gettext_lazy("Soumettre le plan au client")

    def decision_context(self):
        return _plan_context(self.plan)

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        margin = services.plan_margin(self.plan)
        if margin is not None:
            # The rule told with its dates before the plan is submitted.
            form.fields["margin_justification"].help_text = _(
                "Obligatoire si la recette finit après le %(date)s : la marge "
                "demandée est de %(days)s jours ouvrés avant la mise en production "
                "de la version %(release)s. Le client la lit avant de valider."
            ) % {
                "date": date_format(margin.latest_end, "SHORT_DATE_FORMAT"),
                "days": margin.required,
                "release": margin.release,
            }
        return form

    def get_initial(self):
        plan = self.plan
        return {
            "workload": plan.workload,
            "start": plan.start,
            "end": plan.end,
            "margin_justification": plan.margin_justification,
        }

    def perform(self, form):
        by, data = self.request.user, form.cleaned_data
        plan = services.plan_prepare(change_request_pk=self.change_request.pk, by=by)
        services.plan_update(
            pk=plan.pk,
            by=by,
            workload=data["workload"],
            start=data["start"],
            end=data["end"],
            margin_justification=data["margin_justification"],
        )
        if data["cases_file"]:
            upload = data["cases_file"]
            preview = parse_cases(upload.read(), filename=upload.name)
            if not preview.ok:
                raise ValidationError(
                    {"cases_file": [str(error) for error in preview.errors]}
                )
            services.cases_import(pk=plan.pk, by=by, preview=preview)
        services.plan_submit(pk=plan.pk, by=by)


class ReviewPlanView(PlanTaskView):
    form_class = forms.DecisionForm
    success_message = gettext_lazy("Votre décision sur le plan est enregistrée.")
    summary_template = "recette/decisions/review_plan.html"
    decision_field = "decision"

    def decision_context(self):
        return _plan_context(self.plan)

    def perform(self, form):
        services.plan_decide(
            pk=self.change_request.acceptance_plan.pk,
            by=self.request.user,
            validated=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class QualifyView(PlanTaskView):
    form_class = forms.QualificationForm
    success_message = gettext_lazy("La qualification est enregistrée.")
    summary_template = "recette/decisions/qualify.html"
    submit_label = gettext_lazy("Enregistrer la qualification")

    def decision_context(self):
        plan = self.plan
        return {
            "plan": plan,
            "case_count": plan.cases.count(),
            "qualifications": self.change_request.qualifications.all(),
        }

    def get_initial(self):
        return {"on": timezone.localdate()}

    def perform(self, form):
        data = form.cleaned_data
        services.qualification_record(
            change_request_pk=self.change_request.pk,
            by=self.request.user,
            passed=data["passed"],
            on=data["on"],
            comment=data["comment"],
            report=data["report"],
        )


class DeliverView(RecetteTaskView):
    form_class = forms.DeliveryForm
    success_message = gettext_lazy("Livraison enregistrée : la campagne est ouverte.")
    summary_template = "recette/decisions/deliver.html"
    submit_label = gettext_lazy("Enregistrer la livraison")

    def decision_context(self):
        change_request = self.change_request
        refused = change_request.go_live_agreements.filter(
            status=GoLiveAgreement.Status.REFUSED
        ).last()
        last_campaign = change_request.campaigns.order_by("number").last()
        closing = (
            history_of(last_campaign).filter(transition="close").last()
            if last_campaign is not None
            else None
        )
        return {
            "deliveries": change_request.deliveries.order_by("number"),
            "last_campaign": last_campaign,
            # What the client wrote when asking for this delivery.
            "closing": closing if closing and closing.comment else None,
            # What the form offers to claim fixed, each told in full.
            "fixable": Defect.objects.filter(
                change_request=change_request,
                status__in=[Defect.Status.OPEN, Defect.Status.REOPENED],
            ).order_by("number"),
            "refused_agreement": refused,
        }

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "change_request": self.change_request}

    def get_initial(self):
        return {"on": timezone.localdate(), "environment": _("Recette")}

    def perform(self, form):
        data = form.cleaned_data
        services.delivery_record(
            change_request_pk=self.change_request.pk,
            by=self.request.user,
            on=data["on"],
            environment=data["environment"],
            release_notes=data["release_notes"],
            fixed_defect_pks=tuple(d.pk for d in data["fixed_defects"]),
        )


class RunCampaignView(RecetteTaskView):
    form_class = forms.CampaignCloseForm
    success_message = gettext_lazy("La campagne est close.")
    summary_template = "recette/decisions/run_campaign.html"
    submit_label = gettext_lazy("Clore la campagne")

    def campaign(self) -> Campaign:
        return self.change_request.campaigns.order_by("number").last()

    def decision_context(self):
        campaign = self.campaign()
        figures = campaign_figures(campaign)
        return {
            "campaign": campaign,
            "figures": figures,
            "results": [(R(value).label, figures[value]) for value in RESULT_COLUMNS],
            "defects": unresolved_defects(self.change_request),
        }

    def perform(self, form):
        services.campaign_close(
            pk=self.campaign().pk,
            by=self.request.user,
            outcome=form.cleaned_data["outcome"],
            comment=form.cleaned_data["comment"],
        )


class WriteReportView(RecetteTaskView):
    form_class = forms.ReportForm
    success_message = gettext_lazy(
        "Le bilan est déposé : l'accord de mise en production attend les deux DSI."
    )
    summary_template = "recette/decisions/write_report.html"
    submit_label = gettext_lazy("Déposer le bilan")

    def report(self) -> AcceptanceReport | None:
        return AcceptanceReport.objects.filter(
            change_request=self.change_request
        ).first()

    def decision_context(self):
        change_request = self.change_request
        return {
            "figures": figures_tables(report_figures(change_request)),
            "defects": unresolved_defects(change_request),
            # Written again after a refused agreement: why it was refused.
            "refused_agreement": change_request.go_live_agreements.filter(
                status=GoLiveAgreement.Status.REFUSED
            ).last(),
        }

    def get_initial(self):
        # A report written again (its agreement refused) starts from the last one.
        report = self.report()
        if report is None:
            return {}
        return {
            "verdict": report.verdict,
            "reserves": report.reserves,
            "reserved_defects": list(report.reserved_defects.all()),
        }

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "change_request": self.change_request}

    def perform(self, form):
        by, data = self.request.user, form.cleaned_data
        report = services.report_prepare(
            change_request_pk=self.change_request.pk, by=by
        )
        services.report_update(
            pk=report.pk,
            by=by,
            verdict=data["verdict"],
            reserves=data["reserves"],
            reserved_defect_pks=tuple(d.pk for d in data["reserved_defects"]),
        )
        services.report_submit(pk=report.pk, by=by)


class SignView(RecetteTaskView):
    form_class = forms.SignatureForm
    success_message = gettext_lazy("Votre décision sur l'accord est enregistrée.")
    summary_template = "recette/decisions/sign.html"
    decision_field = "decision"

    def agreement(self) -> GoLiveAgreement:
        return self.change_request.go_live_agreements.last()

    def decision_context(self):
        agreement = self.agreement()
        report = self.change_request.acceptance_report
        # The figures frozen with the version both DSIs sign (a version being
        # written again has none: nothing is shown rather than other figures).
        frozen = report.figures if report.version == agreement.report_version else {}
        context = {
            "agreement": agreement,
            "report": report,
            "figures": figures_tables(frozen) if frozen else None,
            "reserved_defects": report.reserved_defects.order_by("number"),
            "defects": unresolved_defects(self.change_request),
            "signatures": agreement.signatures.select_related("signer"),
            "obstacles": services.signing_obstacles(agreement),
        }
        if second_factor.confirmed_device_of(self.request.user) is None:
            enrol = reverse("second_factor")
            context["enrol_url"] = f"{enrol}?{urlencode({'next': self.request.path})}"
        return context

    def form_valid(self, form):
        # Checked before perform()'s all-or-nothing block, whose rollback would drop
        # the record: a wrong password counts as a failed login (django-axes), and
        # a locked-out user gets the lockout page from AxesMiddleware.
        if not throttling.password_confirmed(
            self.request, form.cleaned_data["password"]
        ):
            form.add_error("password", _("Mot de passe incorrect."))
            return self.form_invalid(form)
        return super().form_valid(form)

    def perform(self, form):
        data = form.cleaned_data
        try:
            if data["decision"] == "sign":
                services.agreement_sign(
                    pk=self.agreement().pk,
                    by=self.request.user,
                    password=data["password"],
                    otp_token=data["otp_token"],
                )
            else:
                services.agreement_refuse(
                    pk=self.agreement().pk,
                    by=self.request.user,
                    password=data["password"],
                    reason=data["reason"],
                    otp_token=data["otp_token"],
                )
        except second_factor.CodeRejected as rejection:
            self.failed_code = rejection.failed_attempt
            raise

    def form_invalid(self, form):
        if getattr(self, "failed_code", False):
            # perform()'s rollback dropped the device's failure count: a wrong
            # code must still slow the next attempts down.
            self.failed_code = False
            second_factor.failed_attempt_record(self.request.user)
        return super().form_invalid(form)


# --- The report's figures, as the report and signature pages show them ----------


@dataclass(frozen=True)
class FiguresRow:
    label: str
    delivery: int | None
    counts: tuple[int, ...]  # planned, run, then one per RESULT_COLUMNS


@dataclass(frozen=True)
class FiguresTables:
    """`recette.selectors.report_figures` laid out in tables, labels translated."""

    result_labels: tuple[str, ...]
    campaigns: tuple[FiguresRow, ...]
    final: FiguresRow
    status_labels: tuple[str, ...]
    defects: tuple[tuple[str, tuple[int, ...], int], ...]  # severity, by status, all
    deliveries: tuple[tuple[int, date], ...]
    planned: tuple[date | None, date | None]
    actual: tuple[date | None, date | None]


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def figures_tables(figures: dict) -> FiguresTables:
    """The report's figures (computed now, or frozen with a submitted version)."""
    kinds = dict(Campaign.Kind.choices)

    def row(label, delivery, counts) -> FiguresRow:
        return FiguresRow(
            str(label),
            delivery,
            (
                counts["planned"],
                counts["run"],
                *(counts[value] for value in RESULT_COLUMNS),
            ),
        )

    by_severity = {severity: {} for severity in Defect.Severity.values}
    for severity, status, n in figures["defects"]:
        by_severity[severity][status] = n
    statuses = Defect.Status.values
    return FiguresTables(
        result_labels=tuple(str(R(value).label) for value in RESULT_COLUMNS),
        campaigns=tuple(
            row(
                f"{kinds[c['kind']]} {c['number']}",
                c["delivery"],
                c,
            )
            for c in figures["campaigns"]
        ),
        final=row(_("Résultat final de chaque cas"), None, figures["final"]),
        status_labels=tuple(str(label) for label in Defect.Status.labels),
        defects=tuple(
            (
                str(Defect.Severity(severity).label),
                tuple(counts.get(status, 0) for status in statuses),
                sum(counts.values()),
            )
            for severity, counts in by_severity.items()
        ),
        deliveries=tuple(
            (number, date.fromisoformat(day)) for number, day in figures["deliveries"]
        ),
        planned=(_day(figures["planned"][0]), _day(figures["planned"][1])),
        actual=(_day(figures["actual"][0]), _day(figures["actual"][1])),
    )
