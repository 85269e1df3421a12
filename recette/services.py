"""Writes on acceptance testing: each service checks the actor's role for the
organisation, locks what it changes, fires the lifecycle transition and records it."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import ContactPoint, Role
from evolutions.models import ChangeRequest
from recette.models import (
    AcceptancePlan,
    AcceptanceReport,
    Campaign,
    CampaignCase,
    Defect,
    Delivery,
    Evidence,
    Execution,
    GoLiveAgreement,
    Qualification,
    RecetteProcess,
    Signature,
    TestCase,
    TestStep,
)
from recette.selectors import case_latest_results, report_figures
from workflow import access, audit, consistency, events, routing
from workflow.calendars import working_days_between
from workflow.locking import for_update, process_locked
from workflow.models import AuditEntry
from workflow.notifications import notify
from workflow.second_factor import second_factor_verify
from workflow.transitions import ActionRefused, fire, required_text
from workflow.uploads import safe_download_name, validate_upload

if TYPE_CHECKING:
    from recette.importing import ImportPreview

# Who does what (README, "Acceptance testing").
PLAN_AUTHORS = (Role.PORTEUR_COMMANDE, Role.MOE)
CLIENT_LEADS = (Role.PORTEUR_DEMANDE,)
TESTERS = (Role.TESTEUR, Role.PORTEUR_DEMANDE)
SUPPLIER_FIXERS = (Role.MOE, Role.PORTEUR_COMMANDE)

R = Execution.Result

CASES_ALREADY_PLAYED = gettext_lazy(
    "Des cas de ce plan ont déjà été joués en campagne : un import remplacerait "
    "leurs résultats. Ajoutez les nouveaux cas un par un."
)


def margin_days() -> int:
    """Working days the plan must leave before the release's production date."""
    return int(getattr(settings, "TANDEM_RECETTE_MARGIN_DAYS", 10))


def plan_margin_warning(plan: AcceptancePlan) -> str | None:
    """Why the schedule eats the margin before production, or None when it does not."""
    release = plan.change_request.release
    if release is None or plan.end is None:
        return None
    left = working_days_between(plan.end, release.production_date)
    if left >= margin_days():
        return None
    return _(
        "La recette finit %(left)s jour(s) ouvré(s) avant la mise en production de la "
        "version %(release)s : la marge demandée est de %(margin)s jours ouvrés."
    ) % {"left": left, "release": release.number, "margin": margin_days()}


def _acceptance_link(change_request) -> str:
    return reverse("recettes:detail", args=[change_request.pk])


def acceptance_start(change_request: ChangeRequest) -> None:
    """Open the acceptance process of a request whose manufacture is done, with its
    empty plan (the plan's page then only reads)."""
    from recette.flows import RecetteFlow  # the flow's views import the services

    AcceptancePlan.objects.get_or_create(
        change_request=change_request,
        defaults={"organisation": change_request.organisation},
    )
    RecetteFlow.start.run(change_request=change_request)


def acceptance_start_on_manufacture(sender, *, change_request, **kwargs) -> None:
    """Receiver of evolutions.signals.manufacture_finished."""
    acceptance_start(change_request)


def plan_prepare(*, change_request_pk: int, by) -> AcceptancePlan:
    """The supplier opens the acceptance plan of a manufactured request (idempotent)."""
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, PLAN_AUTHORS, change_request.organisation)
        if change_request.status != ChangeRequest.Status.IN_ACCEPTANCE:
            raise ActionRefused(
                _("La demande doit être fabriquée avant de préparer sa recette.")
            )
        plan, _created = AcceptancePlan.objects.get_or_create(
            change_request=change_request,
            defaults={"organisation": change_request.organisation},
        )
    return plan


def _locked_plan(pk: int) -> AcceptancePlan:
    return for_update(
        AcceptancePlan.objects.select_related("organisation", "change_request__release")
    ).get(pk=pk)


def _editable_plan(pk: int, by) -> AcceptancePlan:
    plan = _locked_plan(pk)
    access.require_any_role(by, PLAN_AUTHORS, plan.organisation)
    if plan.is_frozen:
        raise ActionRefused(
            _("Le plan de recette est figé (%(state)s) : rouvrez-le pour le modifier.")
            % {"state": plan.get_status_display()}
        )
    return plan


def plan_update(
    *, pk: int, by, workload: Decimal | None, start: date | None, end: date | None
) -> AcceptancePlan:
    """The supplier sets the plan's workload and schedule."""
    errors = {}
    if workload is not None and workload <= 0:
        errors["workload"] = _("La charge doit être un nombre de jours positif.")
    if start and end and end < start:
        errors["end"] = _("La fin de la recette doit suivre son début.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        plan.workload, plan.start, plan.end = workload, start, end
        plan.save(update_fields=["workload", "start", "end"])
    return plan


def cases_import(*, pk: int, by, preview: ImportPreview) -> int:
    """Replace the plan's cases with an error-free import preview; return how many."""
    if not preview.ok:
        raise ValidationError(
            _("Le fichier contient des erreurs : rien n'a été enregistré.")
        )
    if not preview.cases:
        raise ValidationError(_("Le fichier ne contient aucun cas de test."))
    too_long = [
        _("Ligne %(line)s : « %(column)s » dépasse %(limit)s caractères.")
        % {"line": row.first_line, "column": column, "limit": limit}
        for row in preview.cases
        for column, value, limit in (
            (_("référence"), row.reference, 50),
            (_("titre"), row.title, 300),
            (_("section"), row.section, 100),
        )
        if len(value) > limit
    ]
    if too_long:
        raise ValidationError(too_long)
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        if CampaignCase.objects.filter(case__plan=plan).exists():
            # A reopened plan: its cases carry results that must stay.
            raise ActionRefused(CASES_ALREADY_PLAYED)
        plan.cases.all().delete()
        cases = TestCase.objects.bulk_create(
            TestCase(
                plan=plan,
                position=position,
                reference=row.reference,
                title=row.title,
                objective=row.objective,
                priority=row.priority,
                preconditions=row.preconditions,
                section=row.section,
            )
            for position, row in enumerate(preview.cases, start=1)
        )
        TestStep.objects.bulk_create(
            TestStep(
                case=case,
                number=step.number,
                action=step.action,
                expected=step.expected,
            )
            for case, row in zip(cases, preview.cases, strict=True)
            for step in row.steps
        )
    return len(cases)


def case_add(
    *,
    pk: int,
    by,
    reference: str,
    title: str,
    steps: list[tuple[str, str]],
    objective: str = "",
    priority: str = TestCase.Priority.MEDIUM,
    preconditions: str = "",
    section: str = "",
) -> TestCase:
    """The supplier types a test case in, with its ordered (action, expected) steps."""
    errors = {}
    reference, title = (reference or "").strip(), (title or "").strip()
    if not reference:
        errors["reference"] = _("La référence du cas est obligatoire.")
    if not title:
        errors["title"] = _("L'intitulé du cas est obligatoire.")
    if priority not in TestCase.Priority.values:
        errors["priority"] = _("Priorité inconnue.")
    if not steps or any(not a.strip() or not e.strip() for a, e in steps):
        errors["steps"] = _(
            "Chaque étape a besoin d'une action et d'un résultat attendu."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        if plan.cases.filter(reference=reference).exists():
            raise ValidationError(
                {
                    "reference": _("Un cas porte déjà la référence %(ref)s.")
                    % {"ref": reference}
                }
            )
        case = TestCase.objects.create(
            plan=plan,
            position=plan.cases.count() + 1,
            reference=reference,
            title=title,
            objective=objective,
            priority=priority,
            preconditions=preconditions,
            section=section,
        )
        TestStep.objects.bulk_create(
            TestStep(
                case=case,
                number=number,
                action=action.strip(),
                expected=expected.strip(),
            )
            for number, (action, expected) in enumerate(steps, start=1)
        )
    return case


def plan_submit(*, pk: int, by) -> AcceptancePlan:
    """The supplier submits the plan to the client for validation."""
    with transaction.atomic():
        plan = _locked_plan(pk)
        access.require_any_role(by, PLAN_AUTHORS, plan.organisation)
        missing = []
        if plan.workload is None or plan.start is None or plan.end is None:
            missing.append(_("la charge et le planning"))
        if not plan.cases.exists():
            missing.append(_("au moins un cas de test"))
        if missing:
            raise ValidationError(
                _("Avant de soumettre le plan, indiquez %(missing)s.")
                % {"missing": _(" et ").join(str(item) for item in missing)}
            )
        log = fire(plan, "submit", by=by)
        events.announce(
            "plan_submitted",
            plan.change_request,
            key=log.pk,
            recipients=events.client(plan.change_request, Role.PORTEUR_DEMANDE),
            link=_acceptance_link(plan.change_request),
        )
    return plan


def plan_decide(*, pk: int, by, validated: bool, comment: str = "") -> AcceptancePlan:
    """The client validates the plan (it is then frozen) or sends it back."""
    if not validated:
        comment = required_text(
            comment, _("Expliquez ce qui doit être repris dans le plan.")
        )
    with transaction.atomic():
        plan = _locked_plan(pk)
        access.require_any_role(by, CLIENT_LEADS, plan.organisation)
        transition = "validate" if validated else "send_back"
        log = fire(plan, transition, by=by, comment=comment, decision_comment=comment)
        events.announce(
            "plan_decided",
            plan.change_request,
            key=log.pk,
            comment=comment,
            recipients=[
                *events.order_owner(plan.change_request),
                *events.supplier(Role.MOE),
            ],
            link=_acceptance_link(plan.change_request),
        )
    return plan


def plan_reopen(*, pk: int, by, reason: str) -> AcceptancePlan:
    """The supplier changes a validated plan: a new version, to validate again.

    Possible while the acceptance waits for the qualification, a delivery or the
    report: that step is cancelled and the plan goes back to preparation (then the
    client's review, then the next delivery). Refused during a campaign, the
    signatures, or once the acceptance is over."""
    from recette.flows import RecetteFlow

    plan_row = AcceptancePlan.objects.select_related("organisation").get(pk=pk)
    access.require_any_role(by, PLAN_AUTHORS, plan_row.organisation)  # role first
    reason = required_text(reason, _("Indiquez pourquoi le plan validé doit changer."))
    with _locked_recette(plan_row.change_request_id) as process:
        plan = _locked_plan(pk)
        if plan.change_request.campaigns.filter(status=Campaign.Status.OPEN).exists():
            raise ActionRefused(
                _("Une campagne est en cours : fermez-la avant de modifier le plan.")
            )
        reopenable = [
            getattr(RecetteFlow, name) for name in RecetteFlow.PLAN_REOPENABLE_AT
        ]
        consistency.require_step(
            process, *reopenable, action=_("Rouvrir le plan validé")
        )
        fire(plan, "reopen", by=by, comment=reason)
        consistency.move_to(process, RecetteFlow.prepare_plan, waiting=reopenable)
        events.announce(
            "plan_reopened",
            plan.change_request,
            key=plan.version,
            comment=reason,
            recipients=events.client(plan.change_request, Role.PORTEUR_DEMANDE),
            link=_acceptance_link(plan.change_request),
        )
    return plan


@contextmanager
def _locked_recette(change_request_pk: int):
    """The acceptance's process, its flow lock held (taken before any row)."""
    from recette.flows import RecetteFlow

    process = RecetteProcess.objects.filter(change_request_id=change_request_pk).first()
    with process_locked(RecetteFlow, process):
        yield RecetteProcess.objects.get(pk=process.pk) if process else None


def qualification_record(
    *,
    change_request_pk: int,
    by,
    passed: bool,
    on: date,
    comment: str = "",
    report=None,
) -> Qualification:
    """The project team records a technical qualification (passed or failed)."""
    name = ""
    if report is not None:
        validate_upload(report)
        name = safe_download_name(report.name)
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_role(by, Role.MOE, change_request.organisation)
        qualification = Qualification(
            change_request=change_request,
            passed=passed,
            date=on,
            comment=comment,
            report_name=name,
            recorded_by=by,
        )
        if report is not None:
            qualification.report.save(name, report, save=False)
        qualification.save()
        events.announce(
            "qualification_recorded",
            change_request,
            key=qualification.pk,
            comment=_("Réussie") if passed else _("Échouée"),
            recipients=[
                *events.order_owner(change_request),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
            ],
            link=_acceptance_link(change_request),
        )
    return qualification


def _retest_cases(plan: AcceptancePlan, fixed: list[Defect]) -> set[int]:
    """Cases of the plan whose latest result over the whole acceptance is not a
    pass (failed, blocked, or never run: left unrun in a re-test, or added by a
    new version of the plan), plus those behind the defects this delivery claims
    to fix."""
    again = {
        case
        for case, result in case_latest_results(plan).items()
        if result not in (R.PASSED, R.NOT_APPLICABLE)
    }
    again |= set(
        Execution.objects.filter(defects__in=fixed).values_list("case_id", flat=True)
    )
    return again


def delivery_record(
    *,
    change_request_pk: int,
    by,
    on: date,
    environment: str,
    release_notes: str = "",
    fixed_defect_pks: tuple[int, ...] = (),
) -> Campaign:
    """The project team delivers a build to recette, which opens a campaign.

    The first campaign runs every case of the validated plan; a re-test campaign
    runs what failed or was blocked, plus the cases of the defects claimed fixed.
    """
    environment = required_text(environment, _("Indiquez l'environnement de recette."))
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        organisation = change_request.organisation
        access.require_role(by, Role.MOE, organisation)
        plan = AcceptancePlan.objects.filter(change_request=change_request).first()
        if plan is None or plan.status != AcceptancePlan.Status.VALIDATED:
            raise ActionRefused(_("Le plan de recette doit d'abord être validé."))
        last_qualification = change_request.qualifications.last()
        if last_qualification is None or not last_qualification.passed:
            raise ActionRefused(
                _("Aucune livraison en recette sans qualification technique réussie.")
            )
        previous = change_request.campaigns.order_by("number").last()
        if previous is not None and previous.status == Campaign.Status.OPEN:
            raise ActionRefused(
                _(
                    "La campagne %(number)s est en cours : elle doit être close avant "
                    "une nouvelle livraison."
                )
                % {"number": previous.number}
            )
        fixed = list(
            Defect.objects.select_for_update().filter(
                change_request=change_request, pk__in=fixed_defect_pks
            )
        )
        if len(fixed) != len(set(fixed_defect_pks)):
            raise ValidationError(
                _("Une anomalie indiquée n'appartient pas à cette recette.")
            )
        delivery = Delivery.objects.create(
            change_request=change_request,
            number=change_request.deliveries.count() + 1,
            date=on,
            environment=environment,
            release_notes=release_notes,
            created_by=by,
        )
        delivery.fixed_defects.set(fixed)
        for defect in fixed:
            fire(
                defect,
                "mark_fixed",
                by=by,
                delivery=delivery,
                comment=_("Corrigée dans la livraison %(n)s") % {"n": delivery.number},
            )
        if previous is None:
            case_ids = set(plan.cases.values_list("pk", flat=True))
            kind = Campaign.Kind.FIRST
        else:
            case_ids = _retest_cases(plan, fixed)
            kind = Campaign.Kind.RETEST
        campaign = Campaign.objects.create(
            change_request=change_request,
            organisation=organisation,
            delivery=delivery,
            number=(previous.number + 1) if previous else 1,
            kind=kind,
        )
        CampaignCase.objects.bulk_create(
            CampaignCase(campaign=campaign, case_id=case_id)
            for case_id in sorted(case_ids)
        )
        # Annexe 3: delivery planning goes to the client's DSI and the portal's
        # webmaster; the testers and the request owner have cases to run.
        notify(
            event=f"delivery_made:{change_request.pk}:{delivery.pk}",
            kind="delivery_made",
            organisation=organisation,
            recipients=[
                *routing.contact_points(
                    organisation, ContactPoint.Subject.DELIVERY_PLANNING
                ),
                *routing.role_holders(Role.TESTEUR, organisation),
                *routing.role_holders(Role.PORTEUR_DEMANDE, organisation),
            ],
            context={"cr": change_request, "delivery": delivery, "campaign": campaign},
            link=reverse("recettes:grid", args=[campaign.pk]),
        )
    return campaign


def _locked_campaign(pk: int) -> Campaign:
    return for_update(Campaign.objects.select_related("organisation")).get(pk=pk)


def may_record_results(user, campaign: Campaign) -> bool:
    """May the user record results in the campaign now?"""
    return campaign.status == Campaign.Status.OPEN and access.may_act_any(
        user, TESTERS, campaign.organisation
    )


def campaign_assign(*, pk: int, by, case_pks: list[int], tester) -> int:
    """The client's request owner assigns cases of a campaign to a tester."""
    with transaction.atomic():
        campaign = _locked_campaign(pk)
        access.require_any_role(by, CLIENT_LEADS, campaign.organisation)
        access.forget_memberships(tester)
        if not access.may_act(tester, Role.TESTEUR, campaign.organisation):
            raise ValidationError(_("Cette personne n'est pas testeur de l'organisme."))
        return campaign.campaign_cases.filter(case_id__in=case_pks).update(
            tester=tester
        )


def executions_record(*, pk: int, by, results: list[dict]) -> list[Execution]:
    """Testers record results; each one adds to the case's history, nothing is lost.

    `results`: dicts with `case` (pk), `result`, and optionally `comment` and
    `step_results` ({step number: result}).
    """
    allowed = set(R.values)
    for entry in results:
        if entry.get("result") not in allowed:
            raise ValidationError(
                _("Résultat inconnu : « %(value)s ».") % {"value": entry.get("result")}
            )
        # PostgreSQL stores no NUL character: refused as by any form's text field.
        ProhibitNullCharactersValidator()(entry.get("comment") or "")
    with transaction.atomic():
        # Locking the campaign row makes simultaneous saves queue for an instant,
        # and closing the campaign cannot slip between the check and the save.
        campaign = _locked_campaign(pk)
        access.require_any_role(by, TESTERS, campaign.organisation)
        if campaign.status != Campaign.Status.OPEN:
            raise ActionRefused(_("La campagne est close : plus aucun résultat."))
        in_campaign = set(campaign.campaign_cases.values_list("case_id", flat=True))
        unknown = {entry["case"] for entry in results} - in_campaign
        if unknown:
            raise ValidationError(_("Un des cas ne fait pas partie de cette campagne."))
        return Execution.objects.bulk_create(
            Execution(
                campaign=campaign,
                case_id=entry["case"],
                result=entry["result"],
                comment=(entry.get("comment") or "").strip(),
                step_results=entry.get("step_results") or {},
                tester=by,
            )
            for entry in results
        )


def evidence_add(*, execution_pk: int, by, uploaded) -> Evidence:
    """Join a file to an execution, under the upload rules."""
    validate_upload(uploaded)
    with transaction.atomic():
        execution = Execution.objects.select_related("campaign__organisation").get(
            pk=execution_pk
        )
        access.require_any_role(by, TESTERS, execution.campaign.organisation)
        evidence = Evidence(execution=execution)
        evidence.store(uploaded, by=by)
        evidence.save()
    return evidence


def campaign_close(
    *, pk: int, by, outcome: str = Campaign.Outcome.REPORT, comment: str = ""
) -> Campaign:
    """The client closes a campaign and says what comes next: fixes or the report."""
    if outcome not in Campaign.Outcome.values:
        raise ValidationError({"outcome": _("Choisissez la suite de la campagne.")})
    with transaction.atomic():
        campaign = _locked_campaign(pk)
        access.require_any_role(by, CLIENT_LEADS, campaign.organisation)
        fire(campaign, "close", by=by, comment=comment, outcome=outcome)
    return campaign


def defect_open(
    *,
    change_request_pk: int,
    by,
    title: str,
    severity: str,
    description: str = "",
    execution_pks: tuple[int, ...] = (),
) -> Defect:
    """A tester raises a defect, usually from a failed execution."""
    title = required_text(title, _("L'intitulé de l'anomalie est obligatoire."))
    if severity not in Defect.Severity.values:
        raise ValidationError({"severity": _("Choisissez la gravité de l'anomalie.")})
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, TESTERS, change_request.organisation)
        executions = list(
            Execution.objects.filter(
                campaign__change_request=change_request, pk__in=execution_pks
            )
        )
        if len(executions) != len(set(execution_pks)):
            raise ValidationError(
                _("Une exécution indiquée n'appartient pas à cette recette.")
            )
        defect = Defect.objects.create(
            change_request=change_request,
            organisation=change_request.organisation,
            number=change_request.defects.count() + 1,
            title=title,
            description=description,
            severity=severity,
            opened_by=by,
        )
        defect.executions.set(executions)
        events.announce(
            "defect_opened",
            change_request,
            key=defect.pk,
            comment=(
                f"{defect.reference} – {defect.title} ({defect.get_severity_display()})"
            ),
            recipients=[
                *events.supplier(Role.MOE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
    return defect


def defect_allowed_actions(user, defect: Defect) -> set[str]:
    """The moves of a defect the user may make now (the services check again)."""
    organisation = defect.organisation
    actions = set()
    if access.may_act_any(user, SUPPLIER_FIXERS, organisation) and (
        defect.reject.can_proceed()
    ):
        actions.add("rejeter")
    if access.may_act_any(user, CLIENT_LEADS, organisation) and (
        defect.accept_rejection.can_proceed()
    ):
        actions.add("accepter-le-rejet")
    if access.may_act_any(user, TESTERS, organisation):
        if defect.verify.can_proceed():
            actions.add("verifier")
        if defect.reopen.can_proceed():
            actions.add("rouvrir")
    return actions


def plan_allowed_actions(user, plan: AcceptancePlan) -> set[str]:
    """What the user may do on the plan from its page."""
    from recette.flows import RecetteFlow

    actions = set()
    if access.may_act_any(user, PLAN_AUTHORS, plan.organisation):
        if not plan.is_frozen:
            actions.add("add_case")
            # An import replaces every case: not once some were played.
            if not CampaignCase.objects.filter(case__plan=plan).exists():
                actions.add("import")
        waiting = consistency.open_step_names(
            RecetteProcess.objects.filter(
                change_request_id=plan.change_request_id
            ).first()
        )
        if plan.reopen.can_proceed() and set(waiting) & set(
            RecetteFlow.PLAN_REOPENABLE_AT
        ):
            actions.add("reopen")
    return actions


def _locked_defect(pk: int, by, roles) -> Defect:
    """The defect, locked, for a holder of one of `roles` while its acceptance
    runs (the role first: nobody else learns the acceptance's state)."""
    defect = for_update(Defect.objects.select_related("organisation")).get(pk=pk)
    access.require_any_role(by, roles, defect.organisation)
    process = RecetteProcess.objects.filter(
        change_request_id=defect.change_request_id
    ).first()
    if not consistency.process_is_open(process):
        raise ActionRefused(
            _("La recette est terminée : ses anomalies ne changent plus d'état.")
        )
    return defect


def defect_reject(*, pk: int, by, reason: str) -> Defect:
    """The supplier rejects a defect (not a defect, or out of scope), with a reason."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, SUPPLIER_FIXERS)
        reason = required_text(reason, _("Le motif du rejet est obligatoire."))
        fire(defect, "reject", by=by, comment=reason, reason=reason)
    return defect


def defect_accept_rejection(*, pk: int, by) -> Defect:
    """The client accepts the supplier's rejection."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, CLIENT_LEADS)
        fire(defect, "accept_rejection", by=by)
    return defect


def defect_verify(*, pk: int, by) -> Defect:
    """The client checks that a fixed defect is gone."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, TESTERS)
        fire(defect, "verify", by=by)
    return defect


def defect_reopen(*, pk: int, by, reason: str) -> Defect:
    """The client reopens a defect whose fix or rejection it does not accept."""
    with transaction.atomic():
        defect = _locked_defect(pk, by, TESTERS)
        reason = required_text(reason, _("Indiquez pourquoi l'anomalie est réouverte."))
        fire(defect, "reopen", by=by, comment=reason)
    return defect


def report_prepare(*, change_request_pk: int, by) -> AcceptanceReport:
    """The client's request owner starts the acceptance report (idempotent)."""
    with transaction.atomic():
        change_request = ChangeRequest.objects.select_for_update().get(
            pk=change_request_pk
        )
        access.require_any_role(by, CLIENT_LEADS, change_request.organisation)
        if not change_request.campaigns.filter(status=Campaign.Status.CLOSED).exists():
            raise ActionRefused(
                _("Le bilan se rédige après au moins une campagne close.")
            )
        report, _created = AcceptanceReport.objects.get_or_create(
            change_request=change_request,
            defaults={"organisation": change_request.organisation},
        )
    return report


def _locked_report(pk: int) -> AcceptanceReport:
    return for_update(
        AcceptanceReport.objects.select_related("organisation", "change_request")
    ).get(pk=pk)


def report_update(
    *,
    pk: int,
    by,
    verdict: str,
    reserves: str = "",
    reserved_defect_pks: tuple[int, ...] = (),
) -> AcceptanceReport:
    """The client writes the verdict and the reserves (the figures are computed)."""
    if verdict not in AcceptanceReport.Verdict.values:
        raise ValidationError({"verdict": _("Choisissez l'avis du bilan.")})
    with transaction.atomic():
        report = _locked_report(pk)
        access.require_any_role(by, CLIENT_LEADS, report.organisation)
        if report.status != AcceptanceReport.Status.DRAFT:
            raise ActionRefused(_("Le bilan déposé est figé."))
        defects = list(
            Defect.objects.filter(
                change_request=report.change_request, pk__in=reserved_defect_pks
            )
        )
        if len(defects) != len(set(reserved_defect_pks)):
            raise ValidationError(
                _("Une anomalie indiquée n'appartient pas à cette recette.")
            )
        report.verdict, report.reserves = verdict, reserves.strip()
        report.save(update_fields=["verdict", "reserves"])
        report.reserved_defects.set(defects)
    return report


def report_submit(*, pk: int, by) -> GoLiveAgreement:
    """The client submits the report: figures and PDF are frozen, and the go-live
    agreement opens for both DSIs' signatures."""
    from recette.pdf_data import report_pdf  # documents read what services write

    with transaction.atomic():
        report = _locked_report(pk)
        access.require_any_role(by, CLIENT_LEADS, report.organisation)
        change_request = report.change_request
        if not report.verdict:
            raise ValidationError({"verdict": _("Choisissez l'avis du bilan.")})
        if report.verdict == AcceptanceReport.Verdict.WITH_RESERVES and not (
            report.reserves
        ):
            raise ValidationError({"reserves": _("Un avis avec réserves les énonce.")})
        if change_request.campaigns.filter(status=Campaign.Status.OPEN).exists():
            raise ActionRefused(_("Une campagne est encore en cours : fermez-la."))
        report.figures = report_figures(change_request)
        report.submitted_by, report.submitted_at = by, timezone.now()
        fire(report, "submit", by=by)
        content = report_pdf(report)
        digest = hashlib.sha256(content).hexdigest()
        report.document.save(
            f"{change_request.reference}-bilan-v{report.version}.pdf",
            ContentFile(content),
            save=False,
        )
        report.document_sha256 = digest
        report.save()
        events.announce(
            "report_submitted",
            change_request,
            key=f"v{report.version}",
            comment=report.get_verdict_display(),
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        return GoLiveAgreement.objects.create(
            change_request=change_request,
            organisation=report.organisation,
            report_version=report.version,
            report_sha256=digest,
            report_document=report.document.name,
        )


def _signing_side(user, organisation) -> str:
    """The side a DSI signs for; nobody signs for both."""
    dsi_roles = (Role.DSI_CLIENT, Role.DSI_FOURNISSEUR)
    access.require_any_role(user, dsi_roles, organisation)
    client = access.may_act(user, Role.DSI_CLIENT, organisation)
    if client and access.may_act(user, Role.DSI_FOURNISSEUR, organisation):
        raise ActionRefused(
            _("Une même personne ne peut signer pour les deux parties.")
        )
    return GoLiveAgreement.Side.CLIENT if client else GoLiveAgreement.Side.SUPPLIER


def _check_password(user, password: str) -> None:
    if not password or not user.check_password(password):
        raise ValidationError({"password": _("Mot de passe incorrect.")})


def _check_second_factor(user, pk: int, code: str) -> None:
    """The decider's role first (nobody else learns whether they have a device),
    then a valid, never used code of their confirmed TOTP device, spent here."""
    agreement = GoLiveAgreement.objects.select_related("organisation").get(pk=pk)
    _signing_side(user, agreement.organisation)
    second_factor_verify(user=user, code=code)


def signing_obstacles(agreement: GoLiveAgreement) -> list[str]:
    """Why the agreement cannot be signed yet (empty: it can)."""
    report = agreement.change_request.acceptance_report
    reasons = []
    if report.verdict == AcceptanceReport.Verdict.UNFAVORABLE:
        reasons.append(_("Le bilan de recette est défavorable."))
    unresolved = Defect.objects.filter(
        change_request=agreement.change_request, status__in=Defect.UNRESOLVED
    ).order_by("number")
    blocking = [
        d.reference for d in unresolved if d.severity == Defect.Severity.BLOCKING
    ]
    if blocking:
        reasons.append(
            _("Anomalie(s) bloquante(s) non résolue(s) : %(refs)s.")
            % {"refs": ", ".join(blocking)}
        )
    reserved = set(report.reserved_defects.values_list("pk", flat=True))
    majors = [
        d.reference
        for d in unresolved
        if d.severity == Defect.Severity.MAJOR and d.pk not in reserved
    ]
    if majors:
        reasons.append(
            _("Anomalie(s) majeure(s) ouverte(s) absente(s) des réserves : %(refs)s.")
            % {"refs": ", ".join(majors)}
        )
    return reasons


def agreement_sign(*, pk: int, by, password: str, otp_token: str) -> GoLiveAgreement:
    """A DSI signs the go-live agreement (password asked again, plus a code of their
    authenticator app); with both signatures the change request goes into
    production."""
    _check_password(by, password)
    _check_second_factor(by, pk, otp_token)
    with transaction.atomic():
        agreement = for_update(
            GoLiveAgreement.objects.select_related("organisation", "change_request")
        ).get(pk=pk)
        side = _signing_side(by, agreement.organisation)
        if agreement.status != GoLiveAgreement.Status.PENDING:
            raise ActionRefused(
                _("Cet accord n'est plus à signer (%(state)s).")
                % {"state": agreement.get_status_display()}
            )
        obstacles = signing_obstacles(agreement)
        if obstacles:
            raise ActionRefused(" ".join(str(reason) for reason in obstacles))
        signatures = {s.side: s for s in agreement.signatures.select_related("signer")}
        if side in signatures:
            raise ActionRefused(
                _("La %(side)s a déjà signé (%(name)s).")
                % {
                    "side": GoLiveAgreement.Side(side).label,
                    "name": signatures[side].signer.get_full_name(),
                }
            )
        if any(s.signer_id == by.pk for s in signatures.values()):
            raise ActionRefused(
                _("Une même personne ne peut signer pour les deux parties.")
            )
        signature = Signature.objects.create(
            agreement=agreement,
            side=side,
            signer=by,
            report_sha256=agreement.report_sha256,
            second_factor=GoLiveAgreement.SecondFactor.TOTP,
        )
        change_request = agreement.change_request
        audit.record(
            AuditEntry.Action.SIGNATURE,
            by=by,
            subject=signature,
            organisation=change_request.organisation.code,
            side=side,
            report_sha256=agreement.report_sha256,
            second_factor=signature.second_factor,
        )
        events.announce(
            "agreement_signed",
            change_request,
            key=signature.pk,
            comment=f"{signature.get_side_display()} : {by.get_full_name()}",
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        if len(signatures) + 1 == len(GoLiveAgreement.Side.values):
            fire(agreement, "complete", by=by)
            change_request = ChangeRequest.objects.select_for_update().get(
                pk=agreement.change_request_id
            )
            fire(
                change_request,
                "go_live",
                by=by,
                comment=_("Accord de mise en production signé par les deux DSI."),
            )
            # Annexe 3.1: the implementation of an evolution is notified to the
            # client's DSI and the portal's webmaster.
            events.announce(
                "go_live",
                change_request,
                key=agreement.pk,
                recipients=[
                    *events.client_contacts(change_request, events.ROLLOUT),
                    *events.client(change_request, Role.PORTEUR_DEMANDE),
                    *events.supplier(Role.DSI_FOURNISSEUR),
                    *events.order_owner(change_request),
                ],
                link=_acceptance_link(change_request),
            )
    return agreement


def agreement_refuse(
    *, pk: int, by, password: str, reason: str, otp_token: str
) -> GoLiveAgreement:
    """A DSI refuses the go-live, with a reason: the work goes back to fixes.

    A refusal is a signed decision too: password and authenticator code, recorded."""
    reason = required_text(reason, _("Le motif du refus est obligatoire."))
    _check_password(by, password)
    _check_second_factor(by, pk, otp_token)
    with transaction.atomic():
        agreement = for_update(
            GoLiveAgreement.objects.select_related("organisation", "change_request")
        ).get(pk=pk)
        _signing_side(by, agreement.organisation)
        agreement.refusal_second_factor = GoLiveAgreement.SecondFactor.TOTP
        log = fire(agreement, "refuse", by=by, comment=reason, reason=reason)
        change_request = agreement.change_request
        events.announce(
            "agreement_refused",
            change_request,
            key=log.pk,
            comment=reason,
            recipients=[
                *events.client(change_request, Role.DSI_CLIENT),
                *events.supplier(Role.DSI_FOURNISSEUR),
                *events.client(change_request, Role.PORTEUR_DEMANDE),
                *events.supplier(Role.MOE),
                *events.order_owner(change_request),
            ],
            link=_acceptance_link(change_request),
        )
        report = _locked_report(agreement.change_request.acceptance_report.pk)
        fire(report, "reopen", by=by, comment=reason)
    return agreement
