"""{% load recette_formats %}: {{ figures|run_summary }} → « 3 cas exécutés sur 4. »"""

from django import template

from recette import selectors

register = template.Library()


@register.filter
def run_summary(figures) -> str:
    return selectors.run_summary(figures)
