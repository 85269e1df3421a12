"""Pages of the incidents outside the flow's tasks: the list, the declaration, an
incident's page with its thread, and the actions that are not steps (message,
workaround, interruption, recurring group)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts.models import Role
from incidents import forms, services
from incidents.models import Incident, IncidentProcess
from incidents.selectors import clocks_of, incidents_visible_to
from workflow import access
from workflow.consistency import open_tasks
from workflow.refusals import errors_onto, refusal_about
from workflow.transitions import history_list

PAGE_SIZE = 25


def _declaring_organisation(user):
    """The client the user declares for (its DSI or incident correspondent)."""
    for role in services.DECLARING_ROLES:
        organisations = access.organisations_for_role(user, role)
        clients = [o for o in organisations if not o.is_supplier]
        if clients:
            return clients[0]
    return None


def _is_gsi(user) -> bool:
    return bool(access.organisations_for_role(user, Role.GSI))


def incident_list(request):
    user = request.user
    filters = forms.IncidentFilterForm(request.GET or None)
    incidents = filters.apply(incidents_visible_to(user)).order_by(
        "-registered_at", "-pk"
    )
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/incident_list.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "may_declare": _is_gsi(user) or _declaring_organisation(user) is not None,
        },
    )


def incident_declare(request):
    user = request.user
    gsi = _is_gsi(user)
    organisation = None if gsi else _declaring_organisation(user)
    if not gsi and organisation is None:
        raise PermissionDenied(
            _(
                "Seuls le DSI d'un Conseil départemental, son correspondant incidents "
                "et le GSI de la CNAF déclarent un incident."
            )
        )
    form_class = forms.GsiDeclarationForm if gsi else forms.DeclarationForm
    initial = {}
    if not gsi:
        initial = {
            "reporter_name": user.get_full_name(),
            "reporter_email": user.email,
            "reporter_user_code": user.get_username(),
        }
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        organisation = data.pop("organisation", organisation)
        channel = data.pop("channel", "")
        try:
            incident = services.incident_register(
                by=user, organisation=organisation, channel=channel, **data
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(
                request,
                _(
                    "Incident enregistré sous le numéro de dossier %(number)s. "
                    "Le GSI de la CNAF le prend en compte."
                )
                % {"number": incident.number},
            )
            return redirect("incidents:detail", pk=incident.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "incidents/incident_declare.html",
        {"form": form, "organisation": organisation, "gsi": gsi},
        status=status,
    )


def _visible(request, pk: int) -> Incident:
    return get_object_or_404(
        incidents_visible_to(request.user).select_related(
            "registered_by", "taken_in_by", "recurring_of"
        ),
        pk=pk,
    )


def incident_detail(request, pk: int, forms_given=None):
    incident = _visible(request, pk)
    user = request.user
    supplier = access.is_supplier_user(user)
    support = access.may_act_any(user, services.SUPPORT_ROLES, incident.organisation)
    writer = access.may_act_any(user, services.WRITING_ROLES, incident.organisation)
    open_ = incident.status != Incident.Status.CLOSED
    level_holder = open_ and access.may_act_any(
        user, services.level_roles(incident), incident.organisation
    )
    given = forms_given or {}
    process = IncidentProcess.objects.filter(incident=incident).first()
    tasks = list(open_tasks(process)) if process is not None else []
    context = {
        "incident": incident,
        "clocks": clocks_of(incident),
        "updates": incident.updates.select_related("author"),
        "escalations": incident.escalations.select_related("by"),
        "history": history_list(incident),
        "recurrences": incidents_visible_to(user).filter(recurring_of=incident),
        "tasks": tasks,
        "supplier": supplier,
        "message_form": given.get("message")
        or (forms.MessageForm() if open_ and writer else None),
        "workaround_form": given.get("workaround")
        or (
            forms.WorkaroundForm(
                initial={
                    "workaround_scope": incident.workaround_scope,
                    "workaround": incident.workaround,
                }
            )
            if level_holder
            and incident.status
            in (Incident.Status.TAKEN_IN, Incident.Status.WORKAROUND)
            else None
        ),
        "interruption_form": given.get("interruption")
        or (
            forms.InterruptionForm(
                initial={
                    "interruption_start": incident.interruption_start,
                    "interruption_end": incident.interruption_end,
                }
            )
            if support
            else None
        ),
        "recurring_form": given.get("recurring")
        or (
            forms.RecurringForm(
                initial={
                    "recurring_of": incident.recurring_of.number
                    if incident.recurring_of
                    else ""
                }
            )
            if access.may_act(user, Role.GSI, incident.organisation)
            else None
        ),
    }
    status = 400 if forms_given else 200
    return render(request, "incidents/incident_detail.html", context, status=status)


def _act(request, pk, name, form_class, perform, done, *, roles):
    """A page action: who may (`roles`, refused before the form is read), the
    form, one service, back to the incident's page (its form again with the
    errors, a 400, when something is wrong)."""
    incident = _visible(request, pk)
    access.require_any_role(request.user, roles(incident), incident.organisation)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            with refusal_about(incident):
                perform(incident, form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, done)
            return redirect("incidents:detail", pk=incident.pk)
    return incident_detail(request, pk, forms_given={name: form})


@require_POST
def incident_message(request, pk: int):
    return _act(
        request,
        pk,
        "message",
        forms.MessageForm,
        lambda incident, data: services.incident_inform(
            pk=incident.pk, by=request.user, body=data["body"]
        ),
        _("Message envoyé."),
        roles=lambda incident: services.WRITING_ROLES,
    )


@require_POST
def incident_workaround(request, pk: int):
    return _act(
        request,
        pk,
        "workaround",
        forms.WorkaroundForm,
        lambda incident, data: services.incident_work_around(
            pk=incident.pk,
            by=request.user,
            scope=data["workaround_scope"],
            workaround=data["workaround"],
        ),
        _("Contournement enregistré."),
        roles=services.level_roles,
    )


@require_POST
def incident_interruption(request, pk: int):
    return _act(
        request,
        pk,
        "interruption",
        forms.InterruptionForm,
        lambda incident, data: services.incident_flag_interruption(
            pk=incident.pk,
            by=request.user,
            start=data["interruption_start"],
            end=data["interruption_end"],
        ),
        _("Interruption de service enregistrée."),
        roles=lambda incident: services.SUPPORT_ROLES,
    )


@require_POST
def incident_recurring(request, pk: int):
    return _act(
        request,
        pk,
        "recurring",
        forms.RecurringForm,
        lambda incident, data: services.incident_mark_recurring(
            pk=incident.pk, by=request.user, of_number=data["recurring_of"]
        ),
        _("Incident rattaché à son groupe récurrent."),
        roles=lambda incident: (Role.GSI,),
    )
