"""Views of the acceptance tasks: each parses its form and calls the services."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recette import forms, services
from recette.importing import parse_cases
from recette.models import AcceptancePlan, Campaign, GoLiveAgreement
from workflow import second_factor, throttling
from workflow.taskviews import TaskFormView


class RecetteTaskView(TaskFormView):
    template_name = "recette/task_form.html"

    def subject(self):
        return self.process.change_request

    @property
    def change_request(self):
        return self.process.change_request


class PreparePlanView(RecetteTaskView):
    form_class = forms.PlanForm
    success_message = gettext_lazy("Le plan de recette a été soumis au client.")

    def get_context_data(self, **kwargs):
        # Read only: the plan was created with the acceptance's process.
        plan = AcceptancePlan.objects.get(change_request=self.change_request)
        kwargs.setdefault("plan", plan)
        kwargs.setdefault("margin_warning", services.plan_margin_warning(plan))
        return super().get_context_data(**kwargs)

    def perform(self, form):
        by, data = self.request.user, form.cleaned_data
        plan = services.plan_prepare(change_request_pk=self.change_request.pk, by=by)
        services.plan_update(
            pk=plan.pk,
            by=by,
            workload=data["workload"],
            start=data["start"],
            end=data["end"],
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


class ReviewPlanView(RecetteTaskView):
    form_class = forms.DecisionForm
    success_message = gettext_lazy("Votre décision sur le plan est enregistrée.")

    def perform(self, form):
        services.plan_decide(
            pk=self.change_request.acceptance_plan.pk,
            by=self.request.user,
            validated=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )


class QualifyView(RecetteTaskView):
    form_class = forms.QualificationForm
    success_message = gettext_lazy("La qualification est enregistrée.")

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

    def campaign(self) -> Campaign:
        return self.change_request.campaigns.order_by("number").last()

    def get_context_data(self, **kwargs):
        from recette.selectors import campaign_figures

        campaign = self.campaign()
        kwargs.setdefault("campaign", campaign)
        kwargs.setdefault("figures", campaign_figures(campaign))
        return super().get_context_data(**kwargs)

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

    def agreement(self) -> GoLiveAgreement:
        return self.change_request.go_live_agreements.last()

    def get_context_data(self, **kwargs):
        agreement = self.agreement()
        kwargs.setdefault("agreement", agreement)
        kwargs.setdefault("obstacles", services.signing_obstacles(agreement))
        if second_factor.confirmed_device_of(self.request.user) is None:
            enrol = reverse("second_factor")
            kwargs.setdefault(
                "enrol_url", f"{enrol}?{urlencode({'next': self.request.path})}"
            )
        return super().get_context_data(**kwargs)

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
