"""The plan's test cases: imported from a checked file, or typed in one by one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recette.models import CampaignCase, TestCase, TestStep
from recette.services._common import _editable_plan
from workflow.transitions import ActionRefused

if TYPE_CHECKING:
    from recette.importing import ImportPreview


CASES_ALREADY_PLAYED = gettext_lazy(
    "Des cas de ce plan ont déjà été joués en campagne : un import remplacerait "
    "leurs résultats. Ajoutez les nouveaux cas un par un."
)


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
