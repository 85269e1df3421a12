"""The plan's test cases while the plan is prepared (a draft, or sent back): typed
in, changed, reordered or deleted one by one, or imported from a checked file.

Every write locks the plan (`_editable_plan`: the plan's authors only, never a
submitted or validated plan), so that of two simultaneous changes one waits for
the other and finds the plan as the first left it; the cases keep the positions
1..n.

A case already played in a campaign (a validated plan reopened as a new version
keeps its cases) keeps its reference and its steps, and stays in the plan: its
results are recorded against them. A case a defect names stays in the plan too.
Their title, objective, priority, preconditions and section may still change.

An import is previewed first (`import_changes`): the cases the file adds, those it
changes (same reference, other content), and the plan's cases absent from the file.
« Ajouter et mettre à jour » (`IMPORT_MERGE`) keeps the absent ones; « Remplacer
tous les cas » (`IMPORT_REPLACE`) deletes them and orders the plan as the file.
Confirming applies what was previewed, and only if the plan's cases have not
changed since (`ImportChanges.state`).

None of this goes to the audit journal, whose actions are state changes,
signatures, documents, downloads and refusals: a plan in preparation is a draft.
What the client validates is a submitted version (its submission is a journalled
transition) and that version's cahier de recette (PDF).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recette.models import CampaignCase, Defect, TestCase, TestStep
from recette.services._common import _editable_plan
from workflow.transitions import ActionRefused

if TYPE_CHECKING:
    from recette.importing import CaseRow, ImportPreview

MAX_STEPS = 100
# The import's two modes, as the preview offers them.
IMPORT_MERGE = "ajouter"
IMPORT_REPLACE = "remplacer"
IMPORT_MODES = {
    IMPORT_MERGE: gettext_lazy("Ajouter et mettre à jour"),
    IMPORT_REPLACE: gettext_lazy("Remplacer tous les cas"),
}
# The case's fields besides its reference, as an import or the form gives them.
_CASE_FIELDS = ("title", "objective", "priority", "preconditions", "section")


# --- What keeps a case as it is ------------------------------------------------


@dataclass(frozen=True)
class CaseLocks:
    """The plan's cases that must stay: `played` in a campaign (their reference
    and steps fixed too) and `cited` by a defect."""

    played: frozenset[int]
    cited: frozenset[int]

    def kept_reason(self, case_pk: int, reference: str) -> str | None:
        """Why the case cannot be deleted (None: it can)."""
        if case_pk in self.played:
            return _(
                "Le cas %(ref)s a déjà été joué en campagne : il reste dans le plan "
                "avec ses résultats."
            ) % {"ref": reference}
        if case_pk in self.cited:
            return _(
                "Le cas %(ref)s est cité par une anomalie : il reste dans le plan."
            ) % {"ref": reference}
        return None


def case_locks(plan) -> CaseLocks:
    """Which of the plan's cases are played or cited (two queries)."""
    return CaseLocks(
        played=frozenset(
            CampaignCase.objects.filter(case__plan=plan).values_list(
                "case_id", flat=True
            )
        ),
        cited=frozenset(
            Defect.objects.filter(case__plan=plan).values_list("case_id", flat=True)
        ),
    )


def _played_steps_refusal(reference: str) -> str:
    return _(
        "Le cas %(ref)s a déjà été joué en campagne : sa référence et ses étapes ne "
        "peuvent plus changer (ses résultats s'y rapportent). Ajoutez plutôt un "
        "nouveau cas."
    ) % {"ref": reference}


# --- One case at a time ----------------------------------------------------------


def _checked_case(
    *, reference, title, priority, section, steps
) -> tuple[str, str, list[tuple[str, str]]]:
    """The reference, title and steps stripped (empty steps left out), or every
    reason they cannot be saved."""
    errors: dict[str, str] = {}
    reference, title = (reference or "").strip(), (title or "").strip()
    if not reference:
        errors["reference"] = _("La référence du cas est obligatoire.")
    elif len(reference) > 50:
        errors["reference"] = _("La référence tient en 50 caractères.")
    if not title:
        errors["title"] = _("L'intitulé du cas est obligatoire.")
    elif len(title) > 300:
        errors["title"] = _("L'intitulé tient en 300 caractères.")
    if len(section or "") > 100:
        errors["section"] = _("La section tient en 100 caractères.")
    if priority not in TestCase.Priority.values:
        errors["priority"] = _("Priorité inconnue.")
    rows = [((a or "").strip(), (e or "").strip()) for a, e in steps]
    rows = [(a, e) for a, e in rows if a or e]
    if any(not a or not e for a, e in rows):
        errors["steps"] = _(
            "Chaque étape a besoin d'une action et d'un résultat attendu."
        )
    elif not rows:
        errors["steps"] = _(
            "Un cas a au moins une étape : une action et son résultat attendu."
        )
    elif len(rows) > MAX_STEPS:
        errors["steps"] = _("Un cas a au plus %(max)s étapes.") % {"max": MAX_STEPS}
    if errors:
        raise ValidationError(errors)
    return reference, title, rows


def _reference_taken(plan, reference: str, *, other_than: int | None = None):
    taken = plan.cases.filter(reference=reference).exclude(pk=other_than)
    if taken.exists():
        raise ValidationError(
            {
                "reference": _("Un cas porte déjà la référence %(ref)s.")
                % {"ref": reference}
            }
        )


def _case_of(plan, case_pk: int) -> TestCase:
    case = plan.cases.filter(pk=case_pk).first()
    if case is None:
        raise ActionRefused(
            _("Ce cas de test n'existe plus : il a été supprimé entre-temps.")
        )
    return case


def _steps_of(case: TestCase) -> list[tuple[str, str]]:
    return list(case.steps.order_by("number").values_list("action", "expected"))


def _digest(case: TestCase, steps: list[tuple[str, str]]) -> str:
    content = [case.reference, *(getattr(case, n) for n in _CASE_FIELDS), steps]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:32]


def case_state(case: TestCase) -> str:
    """What the case holds (fields and steps), as a digest: its form sends back the
    one it was opened with, so that a change made meanwhile is not overwritten
    unseen (`case_update`'s `state`)."""
    return _digest(case, _steps_of(case))


def _save_steps(case: TestCase, steps: list[tuple[str, str]]) -> None:
    TestStep.objects.bulk_create(
        TestStep(case=case, number=number, action=action, expected=expected)
        for number, (action, expected) in enumerate(steps, start=1)
    )


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
    """The supplier types a test case in, with its ordered (action, expected) steps;
    it comes last in the plan."""
    reference, title, steps = _checked_case(
        reference=reference,
        title=title,
        priority=priority,
        section=section,
        steps=steps,
    )
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        _reference_taken(plan, reference)
        last = plan.cases.aggregate(last=Max("position"))["last"] or 0
        case = TestCase.objects.create(
            plan=plan,
            position=last + 1,
            reference=reference,
            title=title,
            objective=objective or "",
            priority=priority,
            preconditions=preconditions or "",
            section=(section or "").strip(),
        )
        _save_steps(case, steps)
    return case


def case_update(
    *,
    pk: int,
    case_pk: int,
    by,
    reference: str,
    title: str,
    steps: list[tuple[str, str]],
    objective: str = "",
    priority: str = TestCase.Priority.MEDIUM,
    preconditions: str = "",
    section: str = "",
    state: str | None = None,
) -> TestCase:
    """The supplier changes a case of the plan; a played case keeps its reference
    and its steps. `state`: the case as the form showed it (`case_state`); refused
    if it has changed since."""
    reference, title, steps = _checked_case(
        reference=reference,
        title=title,
        priority=priority,
        section=section,
        steps=steps,
    )
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        case = _case_of(plan, case_pk)
        steps_before = _steps_of(case)
        if state is not None and state != _digest(case, steps_before):
            raise ValidationError(
                _(
                    "Ce cas a été modifié par quelqu'un d'autre depuis que vous "
                    "l'avez ouvert : rien n'a été enregistré. Vos saisies sont "
                    "ci-dessous ; enregistrez à nouveau pour remplacer sa version, "
                    "ou rouvrez le cas pour la voir."
                ),
                code="case_changed",
            )
        _reference_taken(plan, reference, other_than=case.pk)
        steps_changed = steps_before != steps
        if (steps_changed or reference != case.reference) and (
            CampaignCase.objects.filter(case=case).exists()
        ):
            raise ActionRefused(_played_steps_refusal(case.reference))
        case.reference, case.title, case.priority = reference, title, priority
        case.objective, case.preconditions = objective or "", preconditions or ""
        case.section = (section or "").strip()
        case.save(update_fields=["reference", *_CASE_FIELDS])
        if steps_changed:
            case.steps.all().delete()
            _save_steps(case, steps)
    return case


def _renumbered(rows: list[tuple[int, int]], order: list[int]) -> None:
    """Give the cases of `order` (ids) the positions 1..n; `rows` are their
    (id, position) as they stand."""
    current = dict(rows)
    TestCase.objects.bulk_update(
        [
            TestCase(pk=case_pk, position=position)
            for position, case_pk in enumerate(order, start=1)
            if current.get(case_pk) != position
        ],
        ["position"],
    )


def _positions(plan) -> list[tuple[int, int]]:
    return list(plan.cases.order_by("position", "pk").values_list("pk", "position"))


def case_delete(*, pk: int, case_pk: int, by) -> TestCase:
    """The supplier deletes a case and its steps; the cases after it move up. A
    played case, or one a defect names, stays."""
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        case = _case_of(plan, case_pk)
        reason = case_locks(plan).kept_reason(case.pk, case.reference)
        if reason:
            raise ActionRefused(reason)
        rows = _positions(plan)
        case.delete()
        _renumbered(rows, [row for row, _position in rows if row != case_pk])
    return case


def case_move(*, pk: int, case_pk: int, by, offset: int) -> bool:
    """The supplier moves a case one place up (-1) or down (+1); False when it is
    already first or last."""
    if offset not in (-1, 1):
        raise ValidationError(
            _("Un cas se déplace d'une place vers le haut ou le bas.")
        )
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        case = _case_of(plan, case_pk)
        rows = _positions(plan)
        order = [row for row, _position in rows]
        here = order.index(case.pk)
        there = here + offset
        if not 0 <= there < len(order):
            return False
        order[here], order[there] = order[there], order[here]
        _renumbered(rows, order)
    return True


# --- Import ------------------------------------------------------------------------


class PlanCase(NamedTuple):
    """A case of the plan as the import's preview names it."""

    pk: int
    reference: str
    title: str


@dataclass(frozen=True)
class CaseChange:
    """A case of the file whose reference is in the plan, with other content."""

    row: CaseRow
    pk: int
    fields: tuple[str, ...]  # what changes, as the preview says it
    steps: bool  # its steps change


@dataclass(frozen=True)
class ImportChanges:
    """What confirming an import would do to the plan's cases."""

    added: tuple[CaseRow, ...]
    changed: tuple[CaseChange, ...]
    unchanged: int
    absent: tuple[PlanCase, ...]  # kept in IMPORT_MERGE, deleted in IMPORT_REPLACE
    refused: tuple[str, ...]  # why neither mode can be confirmed
    refused_replace: tuple[str, ...]  # why IMPORT_REPLACE cannot
    state: str  # the plan's cases when this was computed

    def refusals(self, mode: str) -> tuple[str, ...]:
        """Why the import cannot be confirmed in `mode` (empty: it can)."""
        return self.refused + (self.refused_replace if mode == IMPORT_REPLACE else ())


def _state(cases: list[TestCase], locks: CaseLocks) -> str:
    """A digest of the plan's cases, their steps and locks: equal digests, same
    import changes."""
    content = [
        [
            case.pk,
            case.position,
            case.reference,
            *(getattr(case, name) for name in _CASE_FIELDS),
            [[s.number, s.action, s.expected] for s in case.steps.all()],
            case.pk in locks.played,
            case.pk in locks.cited,
        ]
        for case in cases
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def import_changes(plan, preview: ImportPreview) -> ImportChanges:
    """Compare the file's cases with the plan's, by reference (four queries)."""
    cases = list(plan.cases.order_by("position", "pk").prefetch_related("steps"))
    locks = case_locks(plan)
    by_reference = {case.reference: case for case in cases}
    labels = {
        name: str(TestCase._meta.get_field(name).verbose_name) for name in _CASE_FIELDS
    }
    added, changed, refused = [], [], []
    unchanged = 0
    for row in preview.cases:
        case = by_reference.get(row.reference)
        if case is None:
            added.append(row)
            continue
        fields = [
            labels[n] for n in _CASE_FIELDS if getattr(row, n) != getattr(case, n)
        ]
        steps = [(s.number, s.action, s.expected) for s in row.steps] != [
            (s.number, s.action, s.expected) for s in case.steps.all()
        ]
        if steps and case.pk in locks.played:
            refused.append(
                _("Ligne %(line)s : %(reason)s")
                % {
                    "line": row.first_line,
                    "reason": _played_steps_refusal(case.reference),
                }
            )
        if steps:
            fields.append(str(TestStep._meta.verbose_name_plural))
        if fields:
            changed.append(CaseChange(row, case.pk, tuple(fields), steps))
        else:
            unchanged += 1
    in_file = {row.reference for row in preview.cases}
    absent = [
        PlanCase(case.pk, case.reference, case.title)
        for case in cases
        if case.reference not in in_file
    ]
    refused_replace = [
        _("%(reason)s « %(replace)s » le supprimerait : choisissez « %(merge)s ».")
        % {
            "reason": reason,
            "replace": IMPORT_MODES[IMPORT_REPLACE],
            "merge": IMPORT_MODES[IMPORT_MERGE],
        }
        for case in absent
        if (reason := locks.kept_reason(case.pk, case.reference))
    ]
    return ImportChanges(
        added=tuple(added),
        changed=tuple(changed),
        unchanged=unchanged,
        absent=tuple(absent),
        refused=tuple(refused),
        refused_replace=tuple(refused_replace),
        state=_state(cases, locks),
    )


def _checked_preview(preview: ImportPreview) -> None:
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


def _new_case(plan, row: CaseRow, position: int) -> TestCase:
    return TestCase(
        plan=plan,
        position=position,
        reference=row.reference,
        **{name: getattr(row, name) for name in _CASE_FIELDS},
    )


def cases_import(
    *,
    pk: int,
    by,
    preview: ImportPreview,
    mode: str = IMPORT_MERGE,
    state: str | None = None,
) -> ImportChanges:
    """Save an error-free import preview: add the file's new cases and update
    those of the same reference; in IMPORT_REPLACE mode, also delete the cases
    absent from the file and order the plan as the file. `state`: the plan's
    cases as previewed (`ImportChanges.state`); refused if they have changed."""
    if mode not in IMPORT_MODES:
        raise ValidationError(_("Choisissez comment importer : ajouter ou remplacer."))
    _checked_preview(preview)
    with transaction.atomic():
        plan = _editable_plan(pk, by)
        changes = import_changes(plan, preview)
        if state is not None and state != changes.state:
            raise ActionRefused(
                _(
                    "Les cas du plan ont changé depuis l'aperçu : rien n'a été "
                    "importé. Envoyez le fichier à nouveau pour voir ce que "
                    "l'import ferait maintenant."
                )
            )
        refusals = changes.refusals(mode)
        if refusals:
            raise ValidationError(list(refusals))
        replace = mode == IMPORT_REPLACE
        if replace and changes.absent:
            TestCase.objects.filter(
                pk__in=[case.pk for case in changes.absent]
            ).delete()
        TestCase.objects.bulk_update(
            [
                TestCase(
                    pk=change.pk, **{n: getattr(change.row, n) for n in _CASE_FIELDS}
                )
                for change in changes.changed
            ],
            list(_CASE_FIELDS),
        )
        restepped = [change for change in changes.changed if change.steps]
        TestStep.objects.filter(case_id__in=[c.pk for c in restepped]).delete()
        if replace:
            order = {row.reference: n for n, row in enumerate(preview.cases, start=1)}
            kept = list(plan.cases.values_list("pk", "reference", "position"))
            TestCase.objects.bulk_update(
                [
                    TestCase(pk=case_pk, position=order[reference])
                    for case_pk, reference, position in kept
                    if order[reference] != position
                ],
                ["position"],
            )
            positions = [order[row.reference] for row in changes.added]
        else:
            last = plan.cases.aggregate(last=Max("position"))["last"] or 0
            positions = range(last + 1, last + 1 + len(changes.added))
        created = TestCase.objects.bulk_create(
            _new_case(plan, row, position)
            for row, position in zip(changes.added, positions, strict=True)
        )
        stepped = [
            *((case.pk, row) for case, row in zip(created, changes.added, strict=True)),
            *((change.pk, change.row) for change in restepped),
        ]
        TestStep.objects.bulk_create(
            TestStep(
                case_id=case_pk,
                number=step.number,
                action=step.action,
                expected=step.expected,
            )
            for case_pk, row in stepped
            for step in row.steps
        )
    return changes
