"""Pages of the change requests outside the flow's tasks: list, detail, draft,
submission, withdrawal and decline, roadmap."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from viewflow.workflow.models import Task

from contacts.models import Role
from evolutions import forms, services
from evolutions.links import request_links
from evolutions.models import (
    Attachment,
    ChangeRequest,
    Comment,
    Quote,
    Release,
    ReleaseAnnouncement,
    SpecificationVersion,
)
from evolutions.selectors import change_requests_visible_to, open_tasks_of
from workflow import access, deadlines, reassign, routing, statements
from workflow.labels import choice_labels
from workflow.refusals import errors_onto, refusal_about
from workflow.responses import refused
from workflow.transitions import history_list
from workflow.uploads import note_files_not_kept

PAGE_SIZE = 25


def change_request_list(request):
    filters, requests = filtered_change_requests(request)
    # What the rows print, as bare values: no instance of the request and of its
    # four related rows for each line.
    listed = requests.values_list(*_LISTED, named=True)
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "evolutions/change_request_list.html",
        {
            "filters": filters,
            "page": page,
            "rows": _list_rows(page),
            "query": query.urlencode(),
            "may_create": _client_organisation(request.user) is not None,
        },
    )


def filtered_change_requests(request):
    """The list's filter form on the request's query, and the requests it keeps of
    those the user sees, in the list's order (the list and its export)."""
    user = request.user
    visible = change_requests_visible_to(user)
    supplier = access.is_supplier_user(user)
    # Those who may own the requests the user sees, read from the roles: the
    # request owners of the organisations the user sees, the supplier's order
    # owners. (The owners of the visible requests themselves cost a scan of every
    # request on each page: 20 ms at 20,000 requests.)
    request_owners = access.memberships_visible_to(user).filter(
        role=Role.PORTEUR_DEMANDE
    )
    order_owners = access.supplier_users_with_role(Role.PORTEUR_COMMANDE)
    owners = (
        get_user_model()
        .objects.filter(
            Q(pk__in=request_owners.values("user_id"))
            | Q(pk__in=order_owners.values("pk"))
        )
        .order_by("last_name", "first_name", "pk")
    )
    filters = forms.ChangeRequestFilterForm(
        request.GET or None,
        owners=owners,
        organisations=access.organisations_visible_to(user) if supplier else None,
        conditions=access.scope_signature(user),
    )
    return filters, filters.apply(visible).order_by("-created_at", "-pk")


_LIST_ROW = (
    '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
    "<td>{}</td><td>{}</td></tr>"
)


_PLACEHOLDER_PK = 987654321987


# The columns of a line of the list (_list_rows).
_LISTED = (
    "pk",
    "reference",
    "title",
    "organisation__code",
    "kind",
    "status",
    "release__number",
)


def _list_rows(page) -> str:
    """The list's table body, escaped, printed in one pass: a template loop
    translating two labels and reversing a URL per line cost a third of the page."""
    kinds = choice_labels(ChangeRequest.Kind)
    statuses = choice_labels(ChangeRequest.Status)
    # One reverse() for the page: the URL of a placeholder request, then its pk.
    detail = reverse("evolutions:detail", args=[_PLACEHOLDER_PK])
    return format_html_join(
        "\n",
        _LIST_ROW,
        (
            (
                detail.replace(str(_PLACEHOLDER_PK), str(pk)),
                reference,
                title,
                organisation,
                kinds.get(kind, kind),
                statuses.get(status, status),
                release or "—",
            )
            for pk, reference, title, organisation, kind, status, release in page
        ),
    )


def change_request_detail(request, pk: int):
    user = request.user
    # The page's statements are compiled once (workflow.statements.shaped):
    # compiling them cost a third of the page.
    found = statements.shaped(
        ("evolutions.detail", access.scope_signature(user)),
        ChangeRequest,
        # The proposed version and the process are on the page: read with it.
        lambda stand_in: (
            change_requests_visible_to(user)
            .select_related("proposed_release", "process")
            .filter(pk=stand_in)
        ),
        pk,
    )
    if not found:
        raise Http404
    change_request = found[0]
    context = {
        "change_request": change_request,
        "process": getattr(change_request, "process", None),
        "related": request_links(change_request, request.user),
        "tasks": _with_deadlines(
            statements.shaped(
                "evolutions.detail.tasks", Task, open_tasks_of, change_request.pk
            ),
            request.user,
        ),
        "history": history_list(change_request),
        "specifications": statements.children(
            SpecificationVersion, "change_request", pk, "author"
        ),
        "quotes": statements.children(Quote, "change_request", pk, "author"),
        "comments": statements.children(Comment, "change_request", pk, "author"),
        "attachments": statements.children(
            Attachment, "change_request", pk, "uploaded_by"
        ),
        "attachment_form": forms.AttachmentForm(),
        "message_form": forms.MessageForm(),
        "actions": services.allowed_actions(request.user, change_request),
    }
    return render(request, "evolutions/change_request_detail.html", context)


def _with_deadlines(tasks, user):
    """(task, its form if the user holds it, due date, overdue?, the reassignment
    page if the user supervises it) for each open task, of either flow."""
    configured = deadlines.configured_days()
    rows = []
    for task in tasks:
        due = deadlines.task_due_date(task, configured)
        page = None
        if task.owner_id == user.pk:
            page = task.flow_task.reverse("execute", args=[task.process_id, task.pk])
        reassign_page = None
        if reassign.may_reassign(user, task):
            flow = task.flow_task.flow_class.url_name
            reassign_page = reverse("task_reassign", args=[flow, task.pk])
        rows.append((task, page, due, deadlines.is_overdue(due), reassign_page))
    return rows


def _client_organisation(user):
    """The client organisation the user writes needs expressions for, if any."""
    organisations = access.organisations_for_role(user, Role.PORTEUR_DEMANDE)
    return organisations[0] if organisations else None


def change_request_create(request):
    organisation = _client_organisation(request.user)
    if organisation is None:
        raise PermissionDenied(
            _("Seul un porteur de la demande d'un Conseil départemental peut créer "
              "une demande d'évolution.")
        )  # fmt: skip
    form = forms.NewNeedsExpressionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            change_request = services.change_request_create(
                by=request.user, organisation=organisation, **form.cleaned_data
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, _("Brouillon enregistré."))
            return redirect("evolutions:detail", pk=change_request.pk)
    if request.method == "POST":
        note_files_not_kept(form, "attachments")
    return render(
        request,
        "evolutions/needs_expression_form.html",
        {"form": form, "organisation": organisation, "change_request": None},
    )


def change_request_edit(request, pk: int):
    change_request = get_object_or_404(change_requests_visible_to(request.user), pk=pk)
    access.require_role(request.user, Role.PORTEUR_DEMANDE, change_request.organisation)
    initial = {name: getattr(change_request, name) for name in services.DRAFT_FIELDS}
    form = forms.NeedsExpressionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_request_update(
                pk=change_request.pk, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(request, _("Expression de besoin enregistrée."))
            return redirect("evolutions:detail", pk=change_request.pk)
    return render(
        request,
        "evolutions/needs_expression_form.html",
        {
            "form": form,
            "organisation": change_request.organisation,
            "change_request": change_request,
        },
    )


@require_POST
def change_request_submit(request, pk: int):
    change_request = get_object_or_404(change_requests_visible_to(request.user), pk=pk)
    try:
        with refusal_about(change_request):
            services.change_request_submit(pk=change_request.pk, by=request.user)
    except ValidationError as error:
        return refused(
            request, " ".join(error.messages), subject=change_request, status=400
        )
    messages.success(request, _("Demande soumise au point de contact de la CNAF."))
    return redirect("evolutions:detail", pk=change_request.pk)


def _closing_view(service, title: str, done: str, roles):
    """A page asking for the mandatory reason of a withdrawal or a decline."""

    def view(request, pk: int):
        change_request = get_object_or_404(
            change_requests_visible_to(request.user), pk=pk
        )
        # The form is for the roles the service accepts: the others are refused
        # at once, not shown a form whose submission the service would refuse.
        access.require_any_role(request.user, roles, change_request.organisation)
        form = forms.ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                with refusal_about(change_request):
                    service(
                        pk=change_request.pk,
                        by=request.user,
                        reason=form.cleaned_data["reason"],
                    )
            except ValidationError as error:
                errors_onto(form, error, default="reason")
            else:
                messages.success(request, done)
                return redirect("evolutions:detail", pk=change_request.pk)
        return render(
            request,
            "evolutions/reason_form.html",
            {"form": form, "change_request": change_request, "title": title},
        )

    return view


change_request_withdraw = _closing_view(
    services.change_request_withdraw,
    title=_("Retirer la demande"),
    done=_("La demande a été retirée."),
    roles=(Role.PORTEUR_DEMANDE,),
)
change_request_decline = _closing_view(
    services.change_request_decline,
    title=_("Décliner la demande"),
    done=_("La demande a été déclinée ; le client en est informé."),
    roles=services.DECLINING_ROLES,
)


@require_POST
def attachment_upload(request, pk: int):
    change_request = get_object_or_404(change_requests_visible_to(request.user), pk=pk)
    access.require_any_role(
        request.user, services.ATTACHING_ROLES, change_request.organisation
    )
    form = forms.AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        reason = " ".join(form.errors.get("file", [_("Choisissez un fichier.")]))
        return refused(request, reason, subject=change_request, status=400)
    try:
        with refusal_about(change_request):
            attachments = services.attachments_add(
                pk=change_request.pk,
                by=request.user,
                files=form.cleaned_data["file"],
            )
    except ValidationError as error:
        return refused(
            request, " ".join(error.messages), subject=change_request, status=400
        )
    messages.success(
        request,
        ngettext(
            "%(count)s fichier joint à la demande.",
            "%(count)s fichiers joints à la demande.",
            len(attachments),
        )
        % {"count": len(attachments)},
    )
    return redirect("evolutions:detail", pk=change_request.pk)


@require_POST
def comment_post(request, pk: int):
    change_request = get_object_or_404(change_requests_visible_to(request.user), pk=pk)
    form = forms.MessageForm(request.POST)
    if not form.is_valid():
        reason = " ".join(form.errors.get("body", []))
        return refused(request, reason, subject=change_request, status=400)
    services.comment_add(
        pk=change_request.pk, by=request.user, body=form.cleaned_data["body"]
    )
    messages.success(request, _("Message publié."))
    return redirect("evolutions:detail", pk=change_request.pk)


def roadmap(request):
    """Each release with its dates, its published announcements and the visible
    requests planned in it."""
    planned = change_requests_visible_to(request.user).order_by("reference")
    may_announce = access.may_act_any(
        request.user, services.ANNOUNCING_ROLES, routing.supplier()
    )
    announcements = ReleaseAnnouncement.objects.order_by("-published_at", "-pk")
    if not may_announce:
        announcements = announcements.filter(published_at__isnull=False)
    releases = Release.objects.prefetch_related(
        Prefetch("change_requests", queryset=planned, to_attr="visible_requests"),
        Prefetch(
            "announcements", queryset=announcements, to_attr="shown_announcements"
        ),
    )
    return render(
        request,
        "evolutions/roadmap.html",
        {"releases": releases, "may_announce": may_announce},
    )


def announcement_create(request):
    # Whatever the method: an invalid POST must not answer a refused user with a form.
    access.require_any_role(request.user, services.ANNOUNCING_ROLES, routing.supplier())
    form = forms.AnnouncementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.announcement_create(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            errors_onto(form, error)
        else:
            messages.success(
                request, _("Annonce enregistrée : relisez-la puis publiez-la.")
            )
            return redirect("evolutions:roadmap")
    return render(request, "evolutions/announcement_form.html", {"form": form})


@require_POST
def announcement_publish(request, pk: int):
    try:
        written = services.announcement_publish(pk=pk, by=request.user)
    except ReleaseAnnouncement.DoesNotExist:
        raise Http404 from None  # the role is checked first: a 403 stays a 403
    messages.success(
        request, _("Annonce publiée : %(n)s message(s) envoyé(s).") % {"n": written}
    )
    return redirect("evolutions:roadmap")
