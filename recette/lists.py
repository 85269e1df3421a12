"""The lists of acceptance testing, with their filters: the acceptances, and the
defects of every acceptance the user sees.

Filters are GET parameters, kept in the page's address (and in its pagination
links); a value that is not among the choices offered is ignored and said so, the
rest of the filters still apply. The choices come from the scoped selectors: an
organisation or a request the user may not see is not a choice, so naming one
filters nothing in. Only the supplier, who sees every client, is offered the
organisation filter.
"""

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from contacts.models import Organisation
from evolutions.models import ChangeRequest
from evolutions.selectors import change_requests_search
from recette.models import AcceptancePlan, Defect
from recette.search import defect_number
from recette.selectors import acceptances_visible_to, defects_visible_to
from workflow import access
from workflow.forms import QuickSelect

PAGE_SIZE = 25
UNRESOLVED = "non-resolues"  # the « non résolues » choice of the defects' state
# An acceptance's request is in acceptance, then in production.
ACCEPTANCE_STATUSES = (
    ChangeRequest.Status.IN_ACCEPTANCE,
    ChangeRequest.Status.IN_PRODUCTION,
)


class _Filters(forms.Form):
    """Filters of a list (GET): each valid one applies, the others are ignored."""

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, **kwargs)
        if access.is_supplier_user(user):
            self.fields["organisation"].queryset = access.organisations_visible_to(
                user
            ).filter(kind=Organisation.Kind.CLIENT)
        else:
            del self.fields["organisation"]

    def valid(self) -> dict:
        """The filters given with a value the list accepts."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


def _organisation_field():
    return forms.ModelChoiceField(
        label=_("Organisme"), required=False, queryset=Organisation.objects.none(),
        empty_label=_("Tous"), widget=QuickSelect,
    )  # fmt: skip


class AcceptanceFilterForm(_Filters):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("État de la demande"),
        required=False,
        choices=[("", _("Tous")), *((s.value, s.label) for s in ACCEPTANCE_STATUSES)],
        widget=QuickSelect,
    )
    plan_status = forms.ChoiceField(
        label=_("État du plan"),
        required=False,
        choices=[("", _("Tous")), *AcceptancePlan.Status.choices],
        widget=QuickSelect,
    )
    organisation = _organisation_field()

    def apply(self, queryset):
        """`queryset` (acceptances) narrowed by the valid filters."""
        data = self.valid()
        queryset = change_requests_search(queryset, data.get("q", ""))
        if "status" in data:
            queryset = queryset.filter(status=data["status"])
        if "plan_status" in data:
            queryset = queryset.filter(acceptance_plan__status=data["plan_status"])
        if "organisation" in data:
            queryset = queryset.filter(organisation=data["organisation"])
        return queryset


class DefectFilterForm(_Filters):
    q = forms.CharField(label=_("Recherche"), required=False, max_length=200)
    severity = forms.ChoiceField(
        label=_("Gravité"),
        required=False,
        choices=[("", _("Toutes")), *Defect.Severity.choices],
        widget=QuickSelect,
    )
    status = forms.ChoiceField(
        label=_("État"),
        required=False,
        choices=[
            ("", _("Tous")),
            (UNRESOLVED, _("Non résolues")),
            *Defect.Status.choices,
        ],
        widget=QuickSelect,
    )
    organisation = _organisation_field()
    change_request = forms.ModelChoiceField(
        label=_("Demande"), required=False, queryset=ChangeRequest.objects.none(),
        empty_label=_("Toutes"), widget=QuickSelect,
    )  # fmt: skip

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        # The acceptances with defects, only what the labels print.
        with_defects = Exists(Defect.objects.filter(change_request=OuterRef("pk")))
        self.fields["change_request"].queryset = (
            acceptances_visible_to(user)
            .filter(with_defects)
            .select_related(None)
            .only("pk", "reference", "title")
            .order_by("-pk")
        )

    def apply(self, queryset):
        """`queryset` (defects) narrowed by the valid filters."""
        data = self.valid()
        text = data.get("q", "").strip()
        if text:
            found = Q(title__icontains=text) | Q(
                change_request__reference__icontains=text
            )
            number = defect_number(text)
            if number is not None:
                found |= Q(number=number)
            queryset = queryset.filter(found)
        if "severity" in data:
            queryset = queryset.filter(severity=data["severity"])
        if data.get("status") == UNRESOLVED:
            queryset = queryset.filter(status__in=Defect.UNRESOLVED)
        elif "status" in data:
            queryset = queryset.filter(status=data["status"])
        for name in ("organisation", "change_request"):
            if name in data:
                queryset = queryset.filter(**{name: data[name]})
        return queryset


def _listed(request, filters, rows, template: str, **context):
    """The page of `rows` asked for, with the filters kept in its links."""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        template,
        {"filters": filters, "page": page, "query": query.urlencode(), **context},
    )


def acceptance_list(request):
    """The acceptances the user sees, newest first, filtered."""
    filters = AcceptanceFilterForm(request.GET or None, user=request.user)
    rows = (
        filters.apply(acceptances_visible_to(request.user))
        .select_related("acceptance_plan")
        .annotate(campaign_count=Count("campaigns", distinct=True))
        .order_by("-pk")
    )
    return _listed(request, filters, rows, "recette/acceptance_list.html")


def defect_list(request):
    """The defects of every acceptance the user sees, newest first, filtered."""
    filters = DefectFilterForm(request.GET or None, user=request.user)
    rows = (
        filters.apply(defects_visible_to(request.user))
        .select_related("change_request", "organisation")
        .order_by("-opened_at", "-pk")
    )
    return _listed(request, filters, rows, "recette/defect_list.html")
