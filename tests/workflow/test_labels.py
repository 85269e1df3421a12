"""Labels translated once per language (workflow/labels.py, the main menu):
each language still reads its own."""

from django.utils import translation

from recette.models import Execution
from workflow.context_processors import _entries
from workflow.labels import choice_labels


def test_choice_labels_follow_the_active_language():
    with translation.override("fr"):
        french = choice_labels(Execution.Result)
    with translation.override("en"):
        english = choice_labels(Execution.Result)
    with translation.override("fr"):
        again = choice_labels(Execution.Result)

    assert french[Execution.Result.BLOCKED] == "Bloqué"
    assert english[Execution.Result.BLOCKED] == "Blocked"
    assert again is french  # translated once per language
    assert set(french) == set(Execution.Result.values)


def test_the_menu_labels_follow_the_active_language():
    registered = ("evolutions:index",)
    with translation.override("fr"):
        french = [label for label, _name, _key in _entries("fr", True, registered)]
    with translation.override("en"):
        english = [label for label, _name, _key in _entries("en", True, registered)]

    assert french == ["Mes tâches", "Demandes d'évolution", "Annuaire", "Notifications"]
    assert english[:2] == ["My tasks", "Change requests"]
