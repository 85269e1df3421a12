"""The authorization matrix: every URL pattern Django resolves × every kind of user.

Each pattern of the URLconf (ours, viewflow's, the Django admin's, the auth and
i18n views) must be covered by a row of TABLE or by a rule; a pattern covered by
neither fails the test by name, so that no page ships without its expectations.
URLs point at objects of client A (Conseil départemental 23); client B (57) must
get 404 there, exactly as for an object that does not exist: a 200, a redirect
other than to a login page, or a 403 that reveals the object, is a leak.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from viewflow.workflow.models import Process
from viewflow.workflow.status import STATUS

from contacts.models import Membership, SupportHours
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from incidents.flows import IncidentFlow
from recette.flows import RecetteFlow
from tests.security import dataset
from tests.security.matrix import (
    ADMIN_LOGIN,
    LOGIN,
    REDIRECT,
    Cell,
    Pattern,
    Row,
    run_matrix,
    table,
    url_patterns,
)
from workflow.models import AuditEntry, Heartbeat, StepDeadline

ANONYMOUS = "anonymous"
CLIENT_A = ("cd23.porteur", "cd23.testeur", "cd23.dsi", "cd23.incidents")
CLIENT_B = ("cd57.porteur", "cd57.testeur", "cd57.dsi", "cd57.incidents")
SUPPLIER = (
    "cnaf.contact",
    "cnaf.commande",
    "cnaf.moe",
    "cnaf.dsi",
    "cnaf.admin",
    "cnaf.gsi",
    "cnaf.support2",
    "cnaf.support3",
    "cnaf.crise",
)
USERS = (ANONYMOUS, *CLIENT_A, *CLIENT_B, *SUPPLIER)
LOGGED_IN = USERS[1:]

A_PORTEUR, A_TESTEUR, A_DSI, A_INCIDENTS = CLIENT_A
# The administrator is staff; the last four work the incidents.
CONTACT, COMMANDE, MOE, SUPPLIER_DSI, ADMINISTRATOR, GSI, N2, N3, CRISIS = SUPPLIER
SUPPORT = (GSI, N2, N3, CRISIS)
# Supplier users with a business role see every client's data; the administrator
# reads every organisation's reference data (the directory) and no business data.
SEES_A = (*CLIENT_A, CONTACT, COMMANDE, MOE, SUPPLIER_DSI, *SUPPORT)
DSIS = (A_DSI, "cd57.dsi", SUPPLIER_DSI)


# --- Shapes of expectations ------------------------------------------------------


def everyone(outcome=200, *, anonymous=LOGIN):
    """A page without object: the same for every logged-in user."""
    return {ANONYMOUS: anonymous, **dict.fromkeys(LOGGED_IN, outcome)}


def only(allowed, ok=200, *, refused=403):
    """A page without object, for some users only."""
    return {ANONYMOUS: LOGIN} | {u: ok if u in allowed else refused for u in LOGGED_IN}


def on_a(ok=200, *, allowed=SEES_A, refused=403, hidden=(), reference=False):
    """A page about an object of client A: `allowed` users get `ok`, the other users
    who see client A's data get `refused`, `hidden` users and client B get 404, and
    so does the administrator unless the object is `reference` data (he gets `ok`)."""
    expect = {ANONYMOUS: LOGIN} | dict.fromkeys(CLIENT_B, 404)
    expect[ADMINISTRATOR] = ok if reference else 404
    for user in SEES_A:
        if user in hidden:
            expect[user] = 404
        else:
            expect[user] = ok if user in allowed else refused
    return expect


# --- The table: one row per named pattern of our own pages -------------------------


def _pk(attribute):
    return lambda a: {"pk": getattr(a, attribute).pk}


def _incident(stop):
    return lambda a: {"pk": a.incidents[stop].pk}


TABLE: dict[str, Row] = {
    # Authentication (viewflow's AuthViewset over django.contrib.auth).
    "login": Row(everyone(200, anonymous=200)),
    "logout": Row(everyone(405)),  # POST only; a POST would end the session
    "password_change": Row(everyone(200)),
    "password_change_done": Row(everyone(200)),
    "password_reset": Row(everyone(200, anonymous=200)),
    "password_reset_done": Row(everyone(200, anonymous=200)),
    "password_reset_confirm": Row(
        everyone(200, anonymous=200),  # a wrong token: "invalid link" page
        kwargs=lambda a: {
            "uidb64": urlsafe_base64_encode(
                force_bytes(get_user_model().objects.get(username=A_PORTEUR).pk)
            ),
            "token": "lien-invalide",
        },
        of_client_a=False,
    ),
    "password_reset_complete": Row(everyone(200, anonymous=200)),
    "set_language": Row(everyone(REDIRECT)),
    "javascript-catalog": Row(everyone(200, anonymous=200)),
    # Health for the load balancer and the supervision: no login, no data; in the
    # tests no worker has ever beaten, so it says 503 to everyone alike.
    "health": Row(everyone(503, anonymous=503)),
    # Task links e-mailed before the task pages moved: to the new address.
    "former_task_address": Row(
        everyone(REDIRECT),
        kwargs=lambda a: {"flow": "evolution", "rest": "inbox/"},
        of_client_a=False,
    ),
    # The shell. "Mes tâches" is the home page: each user's own tasks, scoped.
    "index": Row(everyone(200)),
    # Taking a task from "Mes tâches" and giving it back (POST only): a task of
    # client A waiting for its porteur, then assigned to him; 403 to whoever sees
    # client A without the role.
    "task_open": Row(
        on_a(405, allowed={A_PORTEUR}),
        kwargs=lambda a: _my_task(a),
        post_only=True,
        prepare=lambda a: _put(_review_quote, None)(a),
    ),
    "task_give_back": Row(
        on_a(405, allowed={A_PORTEUR}),
        kwargs=lambda a: _my_task(a),
        post_only=True,
        prepare=lambda a: _put(_review_quote, A_PORTEUR)(a),
    ),
    # A supervisor (client A's DSI for its porteur's task) reassigns it.
    "task_reassign": Row(
        on_a(200, allowed={A_DSI}),
        kwargs=lambda a: _my_task(a),
        prepare=lambda a: _put(_review_quote, None)(a),
    ),
    # A process's chart in the shell: scoped like its request.
    "process_chart": Row(
        on_a(),
        kwargs=lambda a: {
            "flow": "taches-evolutions",
            "process_pk": a.in_study.process.pk,
        },
    ),
    "notifications": Row(everyone(200)),
    # The header's search: each user's results, scoped by the apps' selectors.
    "search": Row(everyone(200)),
    # « Tout marquer comme lu » (POST only): each user's own notifications.
    "notifications_mark_read": Row(everyone(405), post_only=True),
    # Enrolment of one's own authenticator app (TOTP): every account, its own.
    "second_factor": Row(everyone(200)),
    # Incidents: the list is each user's own (scoped); client A's DSI and
    # correspondent, client B's, and the GSI declare; the actions that are not
    # steps are the writers', the level's, the support's, the GSI's.
    "incidents:index": Row(everyone(200)),
    "incidents:declare": Row(
        only({A_DSI, A_INCIDENTS, "cd57.dsi", "cd57.incidents", GSI})
    ),
    "incidents:detail": Row(on_a(), kwargs=_incident("handle_gsi")),
    "incidents:message": Row(
        on_a(405, allowed={A_DSI, A_INCIDENTS, *SUPPORT}),
        kwargs=_incident("handle_gsi"),
        post_only=True,
    ),
    "incidents:workaround": Row(
        on_a(405, allowed={GSI}), kwargs=_incident("handle_gsi"), post_only=True
    ),
    "incidents:interruption": Row(
        on_a(405, allowed=set(SUPPORT)),
        kwargs=_incident("handle_gsi"),
        post_only=True,
    ),
    "incidents:recurring": Row(
        on_a(405, allowed={GSI}), kwargs=_incident("handle_gsi"), post_only=True
    ),
    # Change requests.
    "evolutions:index": Row(everyone(200)),
    # The list's exports: the requests each user sees (client B's CSV is read too).
    "evolutions:export_csv": Row(everyone(200)),
    "evolutions:export_xlsx": Row(everyone(200)),
    "evolutions:create": Row(only({A_PORTEUR, "cd57.porteur"})),
    "evolutions:detail": Row(on_a(), kwargs=_pk("in_study")),
    "evolutions:edit": Row(on_a(allowed={A_PORTEUR}), kwargs=_pk("info_requested")),
    "evolutions:submit": Row(
        on_a(405, allowed={A_PORTEUR}, hidden=SUPPLIER),  # a draft: client's only
        kwargs=_pk("draft"),
        post_only=True,
    ),
    "evolutions:withdraw": Row(on_a(allowed={A_PORTEUR}), kwargs=_pk("in_study")),
    "evolutions:decline": Row(
        on_a(allowed={CONTACT, COMMANDE}), kwargs=_pk("in_study")
    ),
    "evolutions:roadmap": Row(everyone(200)),
    "evolutions:announcement_new": Row(only({CONTACT, COMMANDE})),
    "evolutions:announcement_publish": Row(
        only({CONTACT, COMMANDE}, 405),
        kwargs=lambda a: {"pk": a.announcement_pk},
        post_only=True,
        of_client_a=False,  # announcements go to every client
    ),
    "evolutions:comment": Row(on_a(405), kwargs=_pk("in_study"), post_only=True),
    "evolutions:attach": Row(
        on_a(405, allowed={A_PORTEUR, CONTACT, COMMANDE, MOE}),
        kwargs=_pk("in_study"),
        post_only=True,
    ),
    "evolutions:attachment": Row(
        on_a(),
        kwargs=lambda a: {"pk": a.in_study.pk, "attachment_pk": a.attachment_pk},
    ),
    "evolutions:specification_document": Row(
        on_a(), kwargs=lambda a: {"pk": a.signed.pk, "version": 1}
    ),
    "evolutions:quote_document": Row(
        on_a(), kwargs=lambda a: {"pk": a.signed.pk, "version": 1}
    ),
    "evolutions:needs_expression_pdf": Row(on_a(), kwargs=_pk("in_study")),
    "evolutions:quote_pdf": Row(
        on_a(), kwargs=lambda a: {"pk": a.signed.pk, "version": 1}
    ),
    # Acceptance.
    "recettes:index": Row(everyone(200)),
    # The defects of every acceptance the user sees (client B: its own, none of A).
    "recettes:defects": Row(everyone(200)),
    "recettes:detail": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:plan_pdf": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:report_pdf": Row(on_a(), kwargs=_pk("signed")),
    "recettes:agreement_pdf": Row(on_a(), kwargs=_pk("signed")),
    "recettes:cases_import": Row(
        on_a(allowed={COMMANDE, MOE}), kwargs=_pk("plan_in_preparation")
    ),
    "recettes:case_new": Row(
        on_a(allowed={COMMANDE, MOE}), kwargs=_pk("plan_in_preparation")
    ),
    # A case of that plan: changed, deleted (a page saying what goes, then a POST),
    # moved (POST only).
    "recettes:case_edit": Row(
        on_a(allowed={COMMANDE, MOE}), kwargs=lambda a: _case_in_preparation(a)
    ),
    "recettes:case_delete": Row(
        on_a(allowed={COMMANDE, MOE}), kwargs=lambda a: _case_in_preparation(a)
    ),
    "recettes:case_move": Row(
        on_a(405, allowed={COMMANDE, MOE}),
        kwargs=lambda a: _case_in_preparation(a),
        post_only=True,
    ),
    "recettes:plan_reopen": Row(
        on_a(405, allowed={COMMANDE, MOE}),
        kwargs=_pk("in_acceptance"),  # its plan is validated
        post_only=True,
    ),
    "recettes:grid": Row(on_a(), kwargs=_pk("campaign")),
    "recettes:case": Row(
        on_a(), kwargs=lambda a: {"pk": a.campaign.pk, "case_pk": a.case.pk}
    ),
    "recettes:record": Row(
        on_a(405, allowed={A_PORTEUR, A_TESTEUR}),
        kwargs=_pk("campaign"),
        post_only=True,
    ),
    "recettes:assignment": Row(on_a(allowed={A_PORTEUR}), kwargs=_pk("campaign")),
    "recettes:dashboard": Row(on_a(), kwargs=_pk("campaign")),
    # Exports, as the pages they come from: the grid, the acceptance's page.
    "recettes:campaign_export_csv": Row(on_a(), kwargs=_pk("campaign")),
    "recettes:campaign_export_xlsx": Row(on_a(), kwargs=_pk("campaign")),
    "recettes:executions_export_csv": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:executions_export_xlsx": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:defects_export_csv": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:defects_export_xlsx": Row(on_a(), kwargs=_pk("in_acceptance")),
    "recettes:evidence": Row(on_a(), kwargs=lambda a: {"pk": a.evidence_pk}),
    "recettes:evidence_upload": Row(
        on_a(405, allowed={A_PORTEUR, A_TESTEUR}),
        kwargs=_pk("execution"),
        post_only=True,
    ),
    "recettes:defect_new": Row(
        on_a(allowed={A_PORTEUR, A_TESTEUR}), kwargs=_pk("in_acceptance")
    ),
    # The defect page; each move is a page saying what it means, then a POST.
    "recettes:defect": Row(on_a(), kwargs=lambda a: {"pk": a.defect.pk}),
    "recettes:defect_action": Row(
        on_a(allowed={COMMANDE, MOE}),
        kwargs=lambda a: {"pk": a.defect.pk, "action": "rejeter"},
    ),
    "recettes:defect_comment": Row(
        on_a(405, allowed={A_PORTEUR, A_TESTEUR, COMMANDE, MOE}),
        kwargs=lambda a: {"pk": a.defect.pk},
        post_only=True,
    ),
    "recettes:defect_files": Row(
        on_a(405, allowed={A_PORTEUR, A_TESTEUR, COMMANDE, MOE}),
        kwargs=lambda a: {"pk": a.defect.pk},
        post_only=True,
    ),
    "recettes:defect_attachment": Row(
        on_a(), kwargs=lambda a: {"pk": a.defect_attachment_pk}
    ),
    # Directory.
    "annuaire:index": Row(everyone(200)),
    "annuaire:organisation": Row(
        on_a(reference=True), kwargs=lambda a: {"code": dataset.CODE}
    ),
    "annuaire:person": Row(on_a(reference=True), kwargs=_pk("person")),
    "annuaire:contact_point": Row(on_a(reference=True), kwargs=_pk("contact_point")),
    # Signing roles under four eyes: administrators ask, another person decides.
    "annuaire:role_requests": Row(only({*DSIS, ADMINISTRATOR})),
    "annuaire:role_request_decide": Row(
        # Only the administrators and client A's DSI see a request for client A.
        {
            **dict.fromkeys(LOGGED_IN, 404),
            ANONYMOUS: LOGIN,
            ADMINISTRATOR: 405,
            A_DSI: 405,
        },
        kwargs=lambda a: {"pk": _role_request(a).pk, "decision": "approuver"},
        post_only=True,
    ),
}


def _case_in_preparation(a):
    """The case typed in client A's plan being prepared."""
    plan = a.plan_in_preparation.acceptance_plan
    return {"pk": a.plan_in_preparation.pk, "case_pk": plan.cases.get().pk}


def _review_quote(a):
    """Client A's open task waiting for (or assigned to) its porteur."""
    return _task(EvolutionFlow, "review_quote", open_=True)(a)


def _my_task(a):
    return {"flow": EvolutionFlow.url_name, "task_pk": _review_quote(a).pk}


def _role_request(a):
    """A pending request to make client A's tester its DSI."""
    from contacts.models import Role, RoleRequest

    users = get_user_model().objects
    role_request = RoleRequest.objects.filter(organisation=a.organisation).first()
    return role_request or RoleRequest.objects.create(
        user=users.get(username=A_TESTEUR),
        organisation=a.organisation,
        role=Role.DSI_CLIENT,
        reason="matrice",
        requested_by=users.get(username=ADMINISTRATOR),
    )


# --- Rule: viewflow's pages of both flows -----------------------------------------

FLOWS = {
    "taches-evolutions": EvolutionFlow,
    "taches-recettes": RecetteFlow,
    "taches-incidents": IncidentFlow,
}

# Who acts on each human task of client A (one demo account per role).
NODE_OWNERS = {
    "taches-evolutions": {
        "review_submission": CONTACT,
        "complete_information": A_PORTEUR,
        "write_specification": COMMANDE,
        "review_specification": A_PORTEUR,
        "write_quote": COMMANDE,
        "review_quote": A_PORTEUR,
        "propose_release": COMMANDE,
        "confirm_release": A_PORTEUR,
        "start_manufacture": MOE,
        "finish_manufacture": MOE,
    },
    "taches-recettes": {
        "prepare_plan": COMMANDE,
        "review_plan": A_PORTEUR,
        "qualify": MOE,
        "deliver": MOE,
        "run_campaign": A_PORTEUR,
        "write_report": A_PORTEUR,
        "sign_client": A_DSI,
        "sign_supplier": SUPPLIER_DSI,
    },
    "taches-incidents": {
        "take_in": GSI,
        "handle_gsi": GSI,
        "handle_second": N2,
        "handle_third": N3,
        "handle_crisis": CRISIS,
        "confirm": A_INCIDENTS,
    },
}
# Nodes nobody acts on: their pages show them, nobody rewinds or cancels them.
SYSTEM_NODES = {
    "taches-evolutions": {
        "start",
        "after_review_submission",
        "after_review_specification",
        "after_review_quote",
        "after_confirm_release",
        "end",
    },
    "taches-recettes": {
        "start",
        "after_review_plan",
        "after_qualify",
        "after_campaign",
        "signatures",
        "signed",
        "after_signatures",
        "end",
    },
    "taches-incidents": {"start", "after_handling", "after_confirm", "end"},
}
FLOW_PAGES = {
    # viewflow's lists lead to « Mes tâches » (workflow.flowviews); its chart stays.
    **dict.fromkeys(
        ("index", "process_list", "task_list", "inbox", "queue", "archive"),
        everyone(REDIRECT),
    ),
    "chart": everyone(200),
    # Bulk assignment: without tasks chosen (POST), back to the list.
    "tasks_assign": everyone(REDIRECT),
    "tasks_unassign": everyone(REDIRECT),
    # A process's page leads to its object's page.
    "process_detail": on_a(REDIRECT),
    "process_chart": on_a(),
    "process_cancel": on_a(403, allowed=()),  # actions go through the services
}


def _task(flow_class, node: str, *, open_: bool):
    def pick(a):
        task = a.tasks(flow_class, node).first()
        assert task is not None, f"pas de tâche {node} pour le client A"
        if open_:
            assert task.status in (STATUS.NEW, STATUS.ASSIGNED), (node, task.status)
        return task

    return pick


def _put(pick, owner: str | None):
    """prepare: the task is assigned to `owner` (None: waiting to be taken)."""
    return lambda a: dataset.put_task(
        pick(a), get_user_model().objects.get(username=owner) if owner else None
    )


def flow_rule(pattern: Pattern) -> Row | None:
    parts = (pattern.name or "").split(":")
    flow_class = FLOWS.get(parts[0])
    if flow_class is None:
        return None
    if len(parts) == 2:
        expect = FLOW_PAGES.get(parts[1])
        if expect is None:
            return None
        process = "process_pk" in pattern.route
        return Row(
            expect,
            kwargs=(lambda a: {"process_pk": a.process(flow_class).pk})
            if process
            else None,
        )
    if len(parts) != 3:
        return None
    flow, node, action = parts
    owner = NODE_OWNERS[flow].get(node)
    if owner is None and node not in SYSTEM_NODES[flow]:
        return None
    pick = _task(flow_class, node, open_=owner is not None)

    def kwargs(a):
        task = pick(a)
        return {"process_pk": task.process_id, "task_pk": task.pk}

    # A task's pages lead to its object's page (a GET of assign/unassign too: only
    # « Mes tâches » takes a task, by a POST).
    if action in ("index", "detail"):
        return Row(on_a(REDIRECT), kwargs=kwargs)
    if owner is not None and action in ("assign", "unassign"):
        return Row(on_a(REDIRECT), kwargs=kwargs)
    if action in ("undo", "cancel", "revive"):
        return Row(on_a(403, allowed=()), kwargs=kwargs)
    if owner is not None and action == "execute":
        return Row(on_a(allowed={owner}), kwargs=kwargs, prepare=_put(pick, owner))
    return None


# --- Rule: the Django admin, the administrator's only ------------------------------


def _first_or(model, **create):
    def get(a):
        row = model._default_manager.order_by("pk").first()
        return row or model._default_manager.create(**create)

    return get


def _axes(model_name):
    def get(a):
        from axes import models

        model = getattr(models, model_name)
        fields = {
            "user_agent": "matrice",
            "ip_address": "127.0.0.1",
            "username": A_PORTEUR,
            "http_accept": "*/*",
            "path_info": "/accounts/login/",
        }
        if model_name == "AccessAttempt":
            fields |= {"get_data": "", "post_data": "", "failures_since_start": 1}
        return _first_or(model, **fields)(a)

    return get


def _totp_device(a):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(username=A_DSI)
    return _first_or(TOTPDevice, user=user, name="matrice", confirmed=True)(a)


def _anonymous_refusal(a):
    from workflow.models import AnonymousRefusal

    row = AnonymousRefusal.objects.order_by("pk").first()
    if row is None:
        Client().get("/inexistant-pour-la-matrice/")
        row = AnonymousRefusal.objects.order_by("pk").first()
    return row


MAINTAINED = frozenset({"view", "add", "change", "delete"})  # reference data
UNTOUCHED = frozenset()
# A lost phone: the administrator sees and removes a device, never adds or changes
# one (with its key they could confirm a signature in a DSI's name).
DEVICES = frozenset({"view", "delete"})

# app.model -> (the administrator's permissions on it, an object of it)
ADMIN_MODELS = {
    "contacts.organisation": (MAINTAINED, lambda a: a.organisation),
    "contacts.person": (MAINTAINED, lambda a: a.person),
    "contacts.membership": (
        MAINTAINED,
        lambda a: Membership.objects.filter(organisation=a.organisation).first(),
    ),
    "contacts.contactpoint": (MAINTAINED, lambda a: a.contact_point),
    "contacts.supporthours": (
        MAINTAINED,
        lambda a: SupportHours.objects.filter(organisation=a.organisation).first(),
    ),
    "evolutions.release": (MAINTAINED, lambda a: Release.objects.first()),
    "workflow.stepdeadline": (
        MAINTAINED,
        _first_or(StepDeadline, step="evolution.review_submission", working_days=5),
    ),
    "auth.user": (MAINTAINED, lambda a: a.person.user),
    # Listed only: filed and decided on the page "Rôles de signature".
    "contacts.rolerequest": (frozenset({"view"}), _role_request),
    "auth.group": (UNTOUCHED, _first_or(Group, name="matrice")),
    "viewflow.process": (
        UNTOUCHED,
        lambda a: Process.objects.get(pk=a.process(RecetteFlow).pk),
    ),
    "viewflow.task": (
        UNTOUCHED,
        lambda a: a.tasks(RecetteFlow, "write_report").first(),
    ),
    "workflow.heartbeat": (
        UNTOUCHED,
        _first_or(Heartbeat, name="worker", seen_at=timezone.now()),
    ),
    "workflow.auditentry": (UNTOUCHED, lambda a: AuditEntry.objects.first()),
    # Anonymous refusals, counted per day, path, address and status.
    "workflow.anonymousrefusal": (frozenset({"view"}), _anonymous_refusal),
    "axes.accessattempt": (UNTOUCHED, _axes("AccessAttempt")),
    "axes.accesslog": (UNTOUCHED, _axes("AccessLog")),
    "axes.accessfailurelog": (UNTOUCHED, _axes("AccessFailureLog")),
    "otp_totp.totpdevice": (DEVICES, _totp_device),
}
# The route of a model's admin page after "admin/<app>/<model>/" -> the permissions
# that open it (any of them); None: a redirect to the change page, for anyone.
ADMIN_MODEL_PAGES = {
    "": {"view", "change"},  # the list
    "add/": {"add"},
    "<path:object_id>/change/": {"view", "change"},  # read-only with "view"
    "<path:object_id>/delete/": {"delete"},
    "<path:object_id>/history/": {"view", "change"},
    "<path:object_id>/": None,  # old-style URL
    # auth.user: nobody sets another person's password (resets go by e-mail).
    "<id>/password/": set(),
    # A device's key and QR code are never shown (OTP_ADMIN_HIDE_SENSITIVE_DATA).
    "<int:pk>/config/": set(),
    "<int:pk>/qrcode/": set(),
}


def staff(outcome, *, anonymous=LOGIN):
    """A Django admin page: the administrator gets `outcome`, everyone else is sent
    to the admin's login page (anonymous users: to `anonymous`)."""
    return {**everyone(ADMIN_LOGIN, anonymous=anonymous), ADMINISTRATOR: outcome}


# The admin site's own views send anonymous users to the admin's login page; its
# model pages leave them to LoginRequiredMiddleware (the site's login page).
ADMIN_SITE_PAGES = {
    "admin:index": Row(staff(200, anonymous=ADMIN_LOGIN)),
    "admin:login": Row({**everyone(200, anonymous=200), ADMINISTRATOR: REDIRECT}),
    # Django's admin logout sends non-staff users to the admin index; GET is 405.
    "admin:logout": Row(
        {**everyone(REDIRECT, anonymous=ADMIN_LOGIN), ADMINISTRATOR: 405}
    ),
    "admin:password_change": Row(staff(200, anonymous=ADMIN_LOGIN)),
    "admin:password_change_done": Row(staff(200, anonymous=ADMIN_LOGIN)),
    "admin:autocomplete": Row(staff(403, anonymous=ADMIN_LOGIN)),  # no parameters
    "admin:jsi18n": Row(staff(200, anonymous=ADMIN_LOGIN)),
    "admin:app_list": Row(
        staff(200, anonymous=ADMIN_LOGIN),
        kwargs=lambda a: {"app_label": "contacts"},
        of_client_a=False,
    ),
    "admin:view_on_site": Row(
        staff(REDIRECT, anonymous=ADMIN_LOGIN),
        kwargs=lambda a: {
            "content_type_id": ContentType.objects.get_for_model(ChangeRequest).pk,
            "object_id": a.in_study.pk,
        },
    ),
}


def admin_rule(pattern: Pattern) -> Row | None:
    if not pattern.route.startswith("admin/"):
        return None
    if pattern.name in ADMIN_SITE_PAGES:
        return ADMIN_SITE_PAGES[pattern.name]
    if pattern.route == "admin/(?P<url>.*)$":  # anything else under /admin/
        return Row(
            staff(404, anonymous=ADMIN_LOGIN),
            kwargs=lambda a: {"url": "inexistant/"},
            of_client_a=False,
        )
    parts = pattern.route.split("/", 3)
    if len(parts) != 4 or f"{parts[1]}.{parts[2]}" not in ADMIN_MODELS:
        return None
    granted, instance = ADMIN_MODELS[f"{parts[1]}.{parts[2]}"]
    if parts[3] not in ADMIN_MODEL_PAGES:
        return None
    opening = ADMIN_MODEL_PAGES[parts[3]]
    allowed = REDIRECT if opening is None else 200 if opening & granted else 403
    kwargs = None
    if "<" in parts[3]:

        def kwargs(a):
            pk = instance(a).pk
            return {"object_id": pk, "id": pk, "pk": pk}

    return Row(staff(allowed), kwargs=kwargs)


RULES = (flow_rule, admin_rule)


def row_for(pattern: Pattern) -> Row | None:
    """The expectations of a pattern: its row of TABLE, else the first rule's."""
    if pattern.name in TABLE:
        return TABLE[pattern.name]
    for rule in RULES:
        row = rule(pattern)
        if row is not None:
            return row
    return None


def _rows() -> dict[Pattern, Row]:
    patterns = url_patterns()
    missing = [p.label for p in patterns if row_for(p) is None]
    assert not missing, "motifs d'URL sans ligne ni règle d'autorisation :\n" + (
        "\n".join(missing)
    )
    named = [p.name for p in patterns if p.name]
    stale = sorted(set(TABLE) - set(named))
    assert not stale, f"lignes de TABLE sans motif d'URL : {stale}"
    duplicated = sorted({n for n in named if named.count(n) > 1} & set(TABLE))
    assert not duplicated, f"noms portés par plusieurs motifs : {duplicated}"
    return {pattern: row_for(pattern) for pattern in patterns}


def test_every_url_pattern_has_a_row_or_a_rule():
    rows = _rows()

    for pattern, row in rows.items():
        assert set(row.expect) == set(USERS), pattern.label
        if row.names_client_a_object:  # the table itself never lets B in
            shown = {u: row.expect[u] for u in CLIENT_B}
            assert set(shown.values()) <= {404, LOGIN, ADMIN_LOGIN}, (pattern, shown)


CLIENT_A_REFERENCE = f"EVO-{dataset.CODE}-".encode()


def _client_a_shown(cell: Cell, content: bytes) -> str:
    if CLIENT_A_REFERENCE in content:
        return "la page montre une demande du client A"
    return ""


@pytest.fixture
def client_a(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return dataset.build()


def test_authorization_matrix(client_a):
    rows = _rows()
    users = {ANONYMOUS: None} | {
        user.username: user
        for user in get_user_model().objects.filter(username__in=LOGGED_IN)
    }
    users = {label: users[label] for label in USERS}
    tasks_before = dataset.task_states()

    run = run_matrix(
        rows,
        users,
        client_a,
        frozenset(CLIENT_B),
        content_leak=_client_a_shown,
        content_checked=frozenset({*CLIENT_B, ADMINISTRATOR}),
    )

    mismatches, leaks = run.mismatches, run.leaks
    if mismatches or leaks:
        print(f"\n{len(mismatches)} cellule(s) en écart, {len(leaks)} fuite(s) :")
        print(
            table(sorted({id(c): c for c in mismatches + leaks}.values(), key=_order))
        )
    print(
        f"\nauthorization matrix: {len(rows)} url patterns, {len(USERS)} roles, "
        f"{len(run.cells)} cells, {len(leaks)} leaks"
    )
    assert len(run.cells) == len(rows) * len(USERS)
    assert not leaks, f"{len(leaks)} fuite(s) : voir le tableau ci-dessus"
    assert not mismatches, f"{len(mismatches)} écart(s) : voir le tableau ci-dessus"
    assert dataset.task_states() == tasks_before  # no request changed a task


def _order(cell: Cell):
    return (cell.pattern.route, USERS.index(cell.user))


def test_publishing_an_unknown_announcement_is_a_404_not_a_500(world, client):
    url = reverse("evolutions:announcement_publish", args=[999])

    client.force_login(world.user(CONTACT))
    allowed = client.post(url)
    client.force_login(world.user(A_PORTEUR))
    refused = client.post(url)

    assert (allowed.status_code, refused.status_code) == (404, 403)


# --- The administrator's every admin form: no path to more power ----------------------

# What an administrator could slip into any admin form to raise himself: superuser
# status, permissions and groups, a signing role (for himself or anyone), a device
# with a key of his choice for a signer, a password of his choice.
_RAISING = {
    "is_superuser": "on",
    "is_staff": "on",
    "is_active": "on",
    "role": "dsi_client",
    "key": "00" * 20,
    "confirmed": "on",
    "name": "clef-de-l-administrateur",
    "password": "Choisi-par-l-admin-42",
    "password1": "Choisi-par-l-admin-42",
    "password2": "Choisi-par-l-admin-42",
    "post": "yes",
    # What Django's stock user form also needs to be valid.
    "date_joined_0": "01/01/2026",
    "date_joined_1": "10:00:00",
}


def _admin_form_urls(a) -> list[str]:
    """Every add, change and password page of the admin's models, for an object
    of client A where the page names one."""
    urls = []
    for pattern in url_patterns():
        parts = pattern.route.split("/", 3)
        if len(parts) != 4 or parts[0] != "admin":
            continue
        model = f"{parts[1]}.{parts[2]}"
        if model not in ADMIN_MODELS or parts[3] not in (
            "add/",
            "<path:object_id>/change/",
            "<id>/password/",
        ):
            continue
        _granted, instance = ADMIN_MODELS[model]
        kwargs = {}
        if "<" in parts[3]:
            pk = instance(a).pk
            kwargs = {"object_id": pk, "id": pk}
        urls.append(pattern.url(kwargs))
    return urls


def _powers() -> dict:
    """What must not change whatever the administrator posts."""
    from django.contrib.auth.models import Permission
    from django_otp.plugins.otp_totp.models import TOTPDevice

    users = get_user_model().objects
    return {
        "superusers": sorted(users.filter(is_superuser=True).values_list("pk")),
        "user_permissions": Permission.objects.filter(user__isnull=False).count(),
        "groups": Group.objects.count(),
        "signers": sorted(
            Membership.objects.filter(
                role__in=("dsi_client", "dsi_fournisseur")
            ).values_list("user_id", "organisation_id", "role")
        ),
        "administrator_roles": sorted(
            Membership.objects.filter(user__username=ADMINISTRATOR).values_list(
                "organisation_id", "role"
            )
        ),
        "devices": sorted(TOTPDevice.objects.values_list("pk", "user_id", "key")),
        "passwords": sorted(users.values_list("pk", "password")),
    }


def test_no_admin_form_raises_the_administrator(client_a):
    """The administrator posts to every admin form of the matrix, with his own
    account, a client DSI's and a tester's as the user concerned: nobody becomes a
    superuser, gets a permission, a group, a signing role, a device or a password
    the administrator chose, and the administrator gets no new role."""
    from contacts.models import Organisation

    users = get_user_model().objects
    administrator = users.get(username=ADMINISTRATOR)
    client = Client()
    client.force_login(administrator)
    urls = _admin_form_urls(client_a)  # creates the objects its pages name
    before = _powers()
    assert len(urls) >= 20, urls
    targets = [administrator, users.get(username=A_DSI), users.get(username=A_TESTEUR)]
    organisation = Organisation.objects.get(code=dataset.CODE)
    answered = set()
    for url in urls:
        for target in targets:
            payload = {
                **_RAISING,
                "user": target.pk,
                "username": target.username,
                "email": target.email,
                "organisation": organisation.pk,
                "user_permissions": list(range(1, 200)),
                "groups": ["1"],
            }
            response = client.post(url, payload)
            answered.add(response.status_code)
            assert response.status_code < 500, url
            now = _powers()
            changed = [power for power in now if now[power] != before[power]]
            assert not changed, f"{url} ({target.username}) : {changed}"
    assert answered <= {200, 302, 403, 404}
