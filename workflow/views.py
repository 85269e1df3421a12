"""Views of the shell shared by both processes."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Value, When
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_http_methods, require_POST

from workflow import access, mytasks, reassign, roles, second_factor, throttling
from workflow.flowviews import SCOPED_FLOWS, flow_named
from workflow.forms import (
    EnrolmentPasswordForm,
    MailboxCodeForm,
    SecondFactorCodeForm,
)
from workflow.models import Heartbeat, Notification
from workflow.notifications import kind_label
from workflow.refusals import errors_onto
from workflow.responses import refused


@login_required
def home(request):
    """« Mes tâches » first: every task the user may do now; then the user's
    organisations and roles, the signing-role requests to decide, and the
    background jobs' pulse for administrators."""
    memberships = access.memberships_of(request.user)
    by_organisation: dict = {}
    for membership in memberships:
        by_organisation.setdefault(membership.organisation, []).append(
            membership.get_role_display()
        )
    heartbeat = None
    administrator = access.is_administrator(request.user)
    if administrator:
        heartbeat = Heartbeat.objects.filter(name="worker").first()
    signing = access.deals_with_signing_roles(request.user)
    tasks = mytasks.my_tasks(request.user, request.GET)
    return render(
        request,
        "workflow/home.html",
        {
            "tasks": tasks,
            "tasks_body": mytasks.rows_html(tasks.page.object_list, get_token(request)),
            "home_links": mytasks.home_links(request.user),
            "by_organisation": by_organisation,
            "is_supplier": access.is_supplier_user(request.user),
            "is_administrator": administrator,
            "heartbeat": heartbeat,
            "roles_to_decide": roles.requests_to_decide(request.user)
            if signing
            else None,
        },
    )


@require_POST
def task_open(request, flow: str, task_pk: int):
    """Open a task from « Mes tâches »: take it when it waits for one of the
    user's roles, then go to its page (POST: taking it changes who holds it)."""
    flow_class, task = mytasks.task_of(request.user, flow, task_pk)
    return redirect(mytasks.take(request.user, flow_class, task))


@require_POST
def task_give_back(request, flow: str, task_pk: int):
    """« Rendre la tâche »: the user's task waits again for its role."""
    flow_class, task = mytasks.task_of(request.user, flow, task_pk)
    mytasks.give_back(request.user, flow_class, task)
    subject = mytasks.subject_of(flow_class, task)
    messages.success(
        request,
        _(
            "Vous avez rendu la tâche « %(step)s » de %(reference)s : elle attend "
            "de nouveau d'être prise."
        )
        % {"step": mytasks.step_title(task), "reference": subject.reference},
    )
    return redirect("index")


# The French name of each kind of notification (Notification.kind), for the
# page's filter; a kind missing here is shown as it is stored.
NOTIFICATIONS_PER_PAGE = 25
# Every e-mail subject starts with it; the page, inside Tandem, does without.
SUBJECT_PREFIX = "[Tandem]"


def notification_kind_label(kind: str) -> str:
    return kind_label(kind)


class NotificationFilters(forms.Form):
    """The notifications page's filter (GET): a bad value is ignored."""

    type = forms.ChoiceField(label=gettext_lazy("Type de notification"), required=False)

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        labelled = sorted(
            ((kind, notification_kind_label(kind)) for kind in kinds),
            key=lambda choice: choice[1],
        )
        self.fields["type"].choices = [("", gettext_lazy("Tous")), *labelled]

    def kind(self) -> str:
        """The kind chosen, or "" (none, or one the user has no notification of)."""
        if not self.is_bound or not self.is_valid():
            return ""
        return self.cleaned_data["type"]


@dataclass
class NotificationRow:
    """One line of the page: the notification and the tasks it leads to."""

    notification: Notification
    tasks: list  # of mytasks.TaskRow: what the user may do now on its object

    @property
    def title(self) -> str:
        return self.notification.subject.removeprefix(SUBJECT_PREFIX).strip()

    @property
    def kind(self) -> str:
        return notification_kind_label(self.notification.kind)

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None

    @property
    def link(self) -> str:
        """The object's page: a path of ours, never another site."""
        link = self.notification.link
        return link if link.startswith("/") and not link.startswith("//") else ""


def _tasks_by_link(user, notifications) -> dict[str, list]:
    """The tasks the user may do now (« Mes tâches »'s rules and scoping) on the
    objects the notifications link to, by the object's page and its process's
    landing page: one query per flow, whatever the page's length."""
    links = {n.link for n in notifications if n.link}
    if not links:
        return {}
    organisations = {n.organisation_id for n in notifications if n.link}
    found: dict[str, list] = {}
    urls = mytasks.TaskLinks()
    for flow in SCOPED_FLOWS:
        tasks = (
            flow.scope_tasks(flow.to_do(user), user)
            .filter(**{f"{flow.task_organisation_path()}__in": organisations})
            .order_by("created", "pk")
        )
        for task in tasks:
            subject = mytasks.subject_of(flow, task)
            process = getattr(task.process, flow.process_class_name())
            row = mytasks.TaskRow.of(flow, task, subject, urls)
            pages = {subject.get_absolute_url(), getattr(process, "landing_url", "")}
            for url in pages & links:
                found.setdefault(url, []).append(row)
    return found


class ReassignForm(forms.Form):
    """Who the task goes to: one of the holders of its role."""

    to = forms.TypedChoiceField(label=gettext_lazy("Attribuer à"), coerce=int)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [
            ("", gettext_lazy("— Choisir —")),
            *((u.pk, u.get_full_name() or u.get_username()) for u in people),
        ]


@require_http_methods(["GET", "POST"])
def task_reassign(request, flow: str, task_pk: int):
    """A supervisor gives a task to someone else (workflow.reassign)."""
    flow_class, task = mytasks.task_of(request.user, flow, task_pk)
    if not reassign.may_reassign(request.user, task):
        raise PermissionDenied(
            gettext(
                "Seul le DSI de l'organisme (ou, à la CNAF, le point de contact "
                "évolutions) réattribue une tâche."
            )
        )
    subject = mytasks.subject_of(flow_class, task)
    people = reassign.candidates(task)
    form = ReassignForm(request.POST or None, people=people)
    if request.method == "POST" and form.is_valid():
        to_user = reassign.reassign(
            request.user, flow_class, task, form.cleaned_data["to"]
        )
        messages.success(
            request,
            gettext("La tâche « %(step)s » est attribuée à %(name)s.")
            % {
                "step": mytasks.step_title(task),
                "name": to_user.get_full_name() or to_user.get_username(),
            },
        )
        return redirect(subject.get_absolute_url())
    return render(
        request,
        "workflow/task_reassign.html",
        {
            "form": form,
            "task": task,
            "subject": subject,
            "step": mytasks.step_title(task),
        },
        status=400 if request.method == "POST" else 200,
    )


def notification_list(request):
    """The user's in-app notifications: unread first, then read, newest first in
    each; filtered by kind; each leads to its object and to the tasks the user may
    do on it. Opening the page reads nothing: « Tout marquer comme lu » does."""
    own = Notification.objects.filter(recipient_user=request.user)
    kinds = own.order_by().values_list("kind", flat=True).distinct()
    filters = NotificationFilters(request.GET or None, kinds=list(kinds))
    kind = filters.kind()
    listed = (own.filter(kind=kind) if kind else own).order_by(
        Case(When(read_at__isnull=True, then=Value(0)), default=Value(1)),
        "-created_at",
        "-pk",
    )
    page = Paginator(listed, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    notifications = list(page.object_list)
    tasks = _tasks_by_link(request.user, notifications)
    page.object_list = [
        NotificationRow(n, tasks.get(n.link, [])) for n in notifications
    ]
    return render(
        request,
        "workflow/notifications.html",
        {
            "page": page,
            "filters": filters,
            "kind": kind,
            "query": urlencode({"type": kind}) if kind else "",
        },
    )


class NotificationReadForm(forms.Form):
    """« Tout marquer comme lu », or one notification (`notification`)."""

    notification = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    # The list's filter, to go back to it.
    type = forms.CharField(required=False, max_length=60)


@require_POST
def notification_mark_read(request):
    """Mark the user's unread notifications read (all, or the one named): only
    ever the user's own, whatever number is posted."""
    form = NotificationReadForm(request.POST)
    if not form.is_valid():
        return refused(request, _("Cette demande est incorrecte."), status=400)
    unread = Notification.objects.filter(
        recipient_user=request.user, read_at__isnull=True
    )
    if form.cleaned_data["notification"] is not None:
        unread = unread.filter(pk=form.cleaned_data["notification"])
    marked = unread.update(read_at=timezone.now())
    if marked:
        messages.success(
            request,
            ngettext(
                "%(n)d notification marquée comme lue.",
                "%(n)d notifications marquées comme lues.",
                marked,
            )
            % {"n": marked},
        )
    else:
        messages.info(request, _("Aucune notification n'était à marquer comme lue."))
    target = reverse("notifications")
    if form.cleaned_data["type"]:
        target = f"{target}?{urlencode({'type': form.cleaned_data['type']})}"
    return redirect(target)


def _safe_next(request) -> str:
    """Where to go back after enrolling (the signature task), if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@never_cache  # a pending device's secret is on the page
@require_http_methods(["GET", "POST"])
def second_factor_page(request):
    """The user's own authenticator app: enrol and confirm it, replace it (with a
    code of the current one) or cancel an enrolment. No device id ever comes from
    the request: a user only reaches their own devices."""
    user, next_url = request.user, _safe_next(request)
    here = reverse("second_factor")
    if next_url:
        here = f"{here}?{urlencode({'next': next_url})}"
    forms = {
        "confirm": SecondFactorCodeForm(),
        "start": SecondFactorCodeForm(),
        "password": EnrolmentPasswordForm(),
        "mail_code": MailboxCodeForm(),
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel":
            second_factor.enrolment_cancel(user=user)
            second_factor.mailbox_forget(request.session)
            return redirect(here)
        if action not in forms:
            return refused(request, _("Action inconnue."), status=400)
        if action in ("password", "mail_code"):
            response = _first_enrolment_step(request, action, forms, here)
            if response is not None:
                return response
            return _second_factor_render(request, forms, next_url, status=400)
        if action == "start" and second_factor.confirmed_device_of(user) is None:
            # A first device: only once the mailbox code was typed.
            second_factor.enrolment_start(
                user=user,
                mailbox_proven=second_factor.mailbox_proven(request.session, user),
            )
            second_factor.mailbox_forget(request.session)
            return redirect(here)
        needs_code = action == "confirm" or (
            second_factor.confirmed_device_of(user) is not None
        )
        form = forms[action] = SecondFactorCodeForm(request.POST)
        if form.is_valid() or not needs_code:
            code = form.cleaned_data.get("code", "") if needs_code else ""
            try:
                if action == "start":
                    second_factor.enrolment_start(user=user, current_code=code)
                    return redirect(here)
                second_factor.enrolment_confirm(user=user, code=code)
            except ValidationError as error:
                errors_onto(form, error, default="code")
            else:
                messages.success(
                    request, _("Votre application d'authentification est enregistrée.")
                )
                return redirect(next_url or here)
        status = 400
    return _second_factor_render(request, forms, next_url, status=status)


def _first_enrolment_step(request, action, forms, here):
    """Before a first device: the password again (counted like a login), then the
    code e-mailed to the user. A redirect when the step passed, else None (the
    form holds the error)."""
    user = request.user
    if second_factor.confirmed_device_of(user) is not None:
        return refused(request, _("Une application est déjà enregistrée."))
    if action == "password":
        form = forms["password"] = EnrolmentPasswordForm(request.POST)
        if not form.is_valid():
            return None
        if not throttling.password_confirmed(request, form.cleaned_data["password"]):
            form.add_error(
                "password",
                _(
                    "Mot de passe incorrect. Après plusieurs erreurs, votre compte "
                    "est bloqué quelques minutes."
                ),
            )
            return None
        second_factor.mailbox_code_send(request.session, user)
        return redirect(here)
    form = forms["mail_code"] = MailboxCodeForm(request.POST)
    if not form.is_valid():
        return None
    try:
        second_factor.mailbox_code_check(
            request.session, user, form.cleaned_data["mail_code"]
        )
        second_factor.enrolment_start(user=user, mailbox_proven=True)
    except ValidationError as error:
        errors_onto(form, error, default="mail_code")
        return None
    second_factor.mailbox_forget(request.session)
    return redirect(here)


def _second_factor_render(request, forms, next_url, *, status):
    user = request.user
    confirmed = second_factor.confirmed_device_of(user)
    pending = second_factor.pending_device_of(user)
    return render(
        request,
        "workflow/second_factor.html",
        {
            "confirmed": confirmed,
            "pending": pending,
            "qr_svg": second_factor.device_qr_svg(pending) if pending else "",
            "secret": second_factor.device_secret(pending) if pending else "",
            "confirm_form": forms["confirm"],
            "replace_form": forms["start"],
            "password_form": forms["password"],
            "mail_code_form": forms["mail_code"],
            "mail_code_sent": second_factor.mailbox_code_pending(request.session, user),
            "email": _masked(user.email),
            "next_url": next_url,
        },
        status=status,
    )


def _masked(email: str) -> str:
    """a.dupont@cd23.fr → a•••••t@cd23.fr: enough to recognise one's address."""
    local, _sep, domain = (email or "").partition("@")
    if len(local) <= 2:
        return f"{local[:1]}•@{domain}" if domain else ""
    return f"{local[0]}{'•' * (len(local) - 2)}{local[-1]}@{domain}"


# The packages whose refusals are worded for users (in French); viewflow's say
# things like 'Start :: no transition from "DONE"', which no user should read.
_OWN_PACKAGES = ("workflow.", "evolutions.", "recette.", "contacts.", "tandem.")


def _raised_by_us(exception) -> bool:
    frame = exception.__traceback__
    last = None
    while frame is not None:
        last = frame
        frame = frame.tb_next
    if last is None:
        return False
    module = last.tb_frame.f_globals.get("__name__", "")
    return module.startswith(_OWN_PACKAGES)


@requires_csrf_token
def permission_denied(request, exception=None):
    """The 403 page: the refusal's reason when it is ours (French), never
    viewflow's internals."""
    reason = str(exception) if exception and _raised_by_us(exception) else ""
    return render(request, "403.html", {"reason": reason}, status=403)


def process_chart(request, flow: str, process_pk: int):
    """A process's chart inside the shell: the picture viewflow draws, and the
    same steps as a table (its text alternative), with the way back."""
    flow_class = flow_named(flow)
    if flow_class is None:
        raise Http404
    processes = flow_class.process_class.objects.filter(flow_class=flow_class)
    process = get_object_or_404(
        flow_class.scope_processes(processes, request.user), pk=process_pk
    )
    subject = getattr(process, flow_class.subject_lookup)
    steps = (
        process.task_set.filter(flow_task_type="HUMAN")
        .select_related("owner")
        .order_by("created", "pk")
    )
    return render(
        request,
        "workflow/process_chart.html",
        {
            "subject": subject,
            "chart_url": reverse(f"{flow}:process_chart", args=[process.pk]),
            "steps": steps,
            "finished": process.finished is not None,
        },
    )
