"""The inventory of the form endpoints (`ENDPOINTS`, 79) and what each is sent, and
the pages declared without input.

The pages of the three processes, the execute page of every human task of
EvolutionFlow, RecetteFlow and IncidentFlow (24, found from the flows' nodes and
posted by the user the task is assigned to), the JSON endpoint of the campaign
grid, the CSV/XLSX import, and the shell's forms (login, password change and
reset, language, second factor, marking notifications read, viewflow's bulk task
actions). What is posted comes from the
forms themselves: each field of the form class a view uses gets values built from
its type (text, choices, model choices with ids of other organisations' objects,
dates, numbers, files), so a new field is fuzzed without touching this file. Only
the views reading `request.POST` by hand (campaign case page, language switch,
import confirmation) declare their fields here.
`test_every_form_endpoint_is_in_the_inventory` fails on a page or task that is
neither fuzzed nor declared without input.
"""

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
)
from django.urls import reverse
from hypothesis import strategies as st
from viewflow.views.base import BulkActionForm
from viewflow.workflow import flow
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from contacts.models import Organisation
from evolutions import forms as evolution_forms
from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest
from incidents import forms as incident_forms
from incidents.flows import IncidentFlow
from recette import forms as recette_forms
from recette import lists as recette_lists
from recette.flows import RecetteFlow
from recette.models import Execution
from tests.security.hostile.stage import CLIENT, Stage, _client, _of_client
from tests.security.hostile.strategies import (
    MISSING,
    Context,
    _fields_of,
    _forged,
    hostile_number,
    hostile_text,
)
from workflow import roles, roleviews
from workflow.flowviews import SCOPED_FLOWS
from workflow.forms import (
    EnrolmentPasswordForm,
    MailboxCodeForm,
    SecondFactorCodeForm,
)
from workflow.mytasks import MyTasksFilters
from workflow.views import NotificationReadForm, ReassignForm

S = ChangeRequest.Status
RESULT = Execution.Result
FLOWS = (EvolutionFlow, RecetteFlow, IncidentFlow)


@dataclass
class Target:
    """One endpoint: where to send (one of `routes`: url and user), what to send."""

    routes: tuple[tuple[str, str | None], ...]
    forms: tuple = ()
    extra: dict[str, st.SearchStrategy] = field(default_factory=dict)
    body: str = "form"  # "form": POST; "query": GET; "json": POST of `raw` bytes
    raw: st.SearchStrategy[bytes] | None = None

    def payload(self, context: Context) -> st.SearchStrategy:
        if self.body == "json":
            return self.raw
        # Half the examples are calm (every field of its type: the hostile text
        # gets saved and shown again), half are wild (anything, or nothing).
        sent = []
        for calm in (True, False):
            fields = {}
            for form in self.forms:
                fields.update(_fields_of(form, context, calm=calm))
            fields.update(self.extra)
            sent.append(st.tuples(st.fixed_dictionaries(fields), _forged()))
        return st.one_of(sent).map(_merged)


def _merged(drawn: tuple[dict, dict]) -> dict:
    declared, forged = drawn
    sent = {**forged, **declared}
    return {name: value for name, value in sent.items() if value is not MISSING}


def _one(url: str, username: str | None) -> tuple[tuple[str, str | None], ...]:
    return ((url, username),)


def _optional(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(values, hostile_text(), st.just(MISSING))


def _task_target(node) -> Callable[[Stage], Target]:
    """The execute page of the open task of client 23 at `node`, posted by the
    user it is assigned to, with the fields of the task view's form."""

    def target(stage: Stage) -> Target:
        task = (
            _of_client(Task.objects.filter(flow_task=node), _client())
            .filter(status__in=[STATUS.NEW, STATUS.ASSIGNED])
            .select_related("owner")
            .first()
        )
        assert task is not None and task.owner is not None, node
        process = task.process.coerced
        form_class = node.view.view_class.form_class
        incident = getattr(process, "incident", None)
        kwargs = {
            "change_request": getattr(process, "change_request", None),
            "current_level": incident.level if incident else "",
        }
        form = form_class(**_accepted(form_class, kwargs))
        url = node.reverse("execute", args=[task.process_id, task.pk])
        return Target(_one(url, task.owner.username), (form,))

    return target


def _accepted(form_class, kwargs: dict) -> dict:
    """The keyword arguments the form's constructor takes."""
    parameters = inspect.signature(form_class.__init__).parameters
    return {name: value for name, value in kwargs.items() if name in parameters}


def _foreign_cases(stage: Stage) -> list[int]:
    """Cases outside the demo campaign: other requests', the other client's."""
    campaign = stage.campaign()
    return list(
        Execution.objects.exclude(campaign=campaign)
        .order_by("-pk")
        .values_list("case_id", flat=True)[:4]
    )


def _grid_json(stage: Stage) -> st.SearchStrategy[bytes]:
    """Bodies for the campaign grid: well-formed results with hostile values,
    JSON of any shape, and bytes that are no JSON at all."""
    cases = list(stage.campaign().campaign_cases.values_list("case_id", flat=True))
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(),
        st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0]),
        hostile_text(),
    )
    case_ids = st.one_of(
        st.sampled_from(cases),
        st.sampled_from(_foreign_cases(stage) or cases),
        st.sampled_from(cases).map(str),
        scalars,
        st.lists(st.sampled_from(cases), max_size=2),
    )
    results = st.one_of(st.sampled_from(list(RESULT.values)), scalars)
    entry = st.fixed_dictionaries(
        {"case": case_ids, "result": results},
        optional={
            "comment": st.one_of(hostile_text(), scalars),
            "step_results": st.dictionaries(hostile_text(), results, max_size=2),
        },
    )
    anything = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.one_of(st.sampled_from(["results", "case", "result"]), st.text()),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=8,
    )
    documents = st.one_of(
        st.lists(entry, max_size=3).map(lambda entries: {"results": entries}),
        st.lists(entry, max_size=3).map(lambda entries: {"results": entries}),
        anything,
    )
    return st.one_of(
        documents.map(lambda document: json.dumps(document).encode()),
        st.binary(max_size=64),
        st.sampled_from(
            [b"", b"{", b"[]", b"null", b'{"results": {"case": 1}}', b"\xff\xfe"]
        ),
    )


def _request_url(stage: Stage, name: str, key: str) -> str:
    return reverse(name, args=[stage.requests[key]])


def _pages() -> dict[str, Callable[[Stage], Target]]:
    User = get_user_model()

    def create(stage):
        url = reverse("evolutions:create")
        return Target(
            _one(url, "cd23.porteur"), (evolution_forms.NewNeedsExpressionForm(),)
        )

    def edit(stage):
        url = _request_url(stage, "evolutions:edit", S.DRAFT)
        return Target(
            _one(url, "cd23.porteur"), (evolution_forms.NeedsExpressionForm(),)
        )

    def submit(stage):
        return Target(
            _one(_request_url(stage, "evolutions:submit", S.DRAFT), "cd23.porteur")
        )

    def withdraw(stage):
        url = _request_url(stage, "evolutions:withdraw", S.IN_STUDY)
        return Target(_one(url, "cd23.porteur"), (evolution_forms.ReasonForm(),))

    def decline(stage):
        url = _request_url(stage, "evolutions:decline", S.SUBMITTED)
        return Target(_one(url, "cnaf.contact"), (evolution_forms.ReasonForm(),))

    def comment(stage):
        url = _request_url(stage, "evolutions:comment", S.IN_STUDY)
        return Target(
            ((url, "cd23.porteur"), (url, "cnaf.commande")),
            (evolution_forms.MessageForm(),),
        )

    def attach(stage):
        url = _request_url(stage, "evolutions:attach", S.IN_STUDY)
        return Target(_one(url, "cd23.porteur"), (evolution_forms.AttachmentForm(),))

    def announce(stage):
        url = reverse("evolutions:announcement_new")
        return Target(_one(url, "cnaf.contact"), (evolution_forms.AnnouncementForm(),))

    def publish(stage):
        url = reverse("evolutions:announcement_publish", args=[stage.announcement_pk])
        return Target(_one(url, "cnaf.commande"))

    def search(stage):
        filters = evolution_forms.ChangeRequestFilterForm(
            owners=User.objects.all(), organisations=Organisation.objects.all()
        )
        url = reverse("evolutions:index")
        return Target(
            ((url, "cnaf.contact"), (url, "cd23.porteur")),
            (filters,),
            {"page": _optional(hostile_number())},
            body="query",
        )

    def site_search(stage):
        url = reverse("search")
        return Target(
            ((url, "cnaf.contact"), (url, "cd23.porteur")),
            extra={"q": _optional(hostile_text())},
            body="query",
        )

    def recette_list(name: str, form_class):
        """A list of recette/lists.py: its filters as the supplier has them
        (every organisation and acceptance a choice), sent by him and a client."""

        def target(stage):
            filters = form_class(None, user=stage.user("cnaf.contact"))
            url = reverse(name)
            return Target(
                ((url, "cnaf.contact"), (url, "cd23.porteur")),
                (filters,),
                {"page": _optional(hostile_number())},
                body="query",
            )

        return target

    def defect_new(stage):
        change_request = stage.request("run_campaign")
        form = recette_forms.DefectForm(change_request=change_request)
        url = reverse("recettes:defect_new", args=[change_request.pk])
        return Target(_one(url, "cd23.testeur"), (form,))

    def defect_action(stage):
        defect = stage.request("run_campaign").defects.order_by("number").first()
        other = stage.request("write_report").defects.get()
        routes = [
            (reverse("recettes:defect_action", args=[d.pk, action]), user)
            for d in (defect, other)
            for action, user in (
                ("rejeter", "cnaf.commande"),
                ("rouvrir", "cd23.testeur"),
                ("verifier", "cd23.testeur"),
                ("accepter-le-rejet", "cd23.porteur"),
                ("n-importe-quoi", "cd23.testeur"),
            )
        ]
        return Target(tuple(routes), (recette_forms.ReasonForm(),))

    def defect_comment(stage):
        defect = stage.request("run_campaign").defects.order_by("number").first()
        url = reverse("recettes:defect_comment", args=[defect.pk])
        return Target(
            ((url, "cd23.testeur"), (url, "cnaf.moe")),
            (recette_forms.DefectCommentForm(),),
        )

    def defect_files(stage):
        defect = stage.request("run_campaign").defects.order_by("number").first()
        url = reverse("recettes:defect_files", args=[defect.pk])
        return Target(_one(url, "cnaf.moe"), (recette_forms.DefectFilesForm(),))

    def evidence(stage):
        execution = Execution.objects.filter(campaign=stage.campaign()).first()
        url = reverse("recettes:evidence_upload", args=[execution.pk])
        return Target(_one(url, "cd23.testeur"), (recette_forms.EvidenceForm(),))

    def cases_import(stage):
        url = _request_url(stage, "recettes:cases_import", "prepare_plan")
        confirm = st.one_of(st.just(MISSING), st.just(MISSING), hostile_text())
        mode = st.one_of(st.sampled_from(["ajouter", "remplacer"]), hostile_text())
        return Target(
            _one(url, "cnaf.commande"),
            (recette_forms.ImportForm(),),
            {"confirm": confirm, "mode": _optional(mode)},
        )

    def case_new(stage):
        url = _request_url(stage, "recettes:case_new", "prepare_plan")
        steps = recette_forms.StepFormSet(prefix="etapes")
        return Target(_one(url, "cnaf.commande"), (recette_forms.CaseForm(), steps))

    def _case(stage, name):
        change_request = stage.request("typed_case")
        case = change_request.acceptance_plan.cases.get()
        return reverse(name, args=[change_request.pk, case.pk])

    def case_edit(stage):
        steps = recette_forms.StepFormSet(prefix="etapes")
        return Target(
            _one(_case(stage, "recettes:case_edit"), "cnaf.commande"),
            (recette_forms.CaseForm(), steps),
            {
                "add_step": st.one_of(st.just(MISSING), st.just("1"), hostile_text()),
                "etat_du_cas": _optional(st.just("0" * 32)),
            },
        )

    def case_move(stage):
        sens = st.one_of(st.sampled_from(["haut", "bas"]), hostile_text())
        return Target(
            _one(_case(stage, "recettes:case_move"), "cnaf.commande"),
            extra={"sens": _optional(sens)},
        )

    def plan_reopen(stage):
        url = _request_url(stage, "recettes:plan_reopen", "qualify")
        return Target(_one(url, "cnaf.commande"), (recette_forms.ReasonForm(),))

    def campaign_case(stage):
        campaign = stage.campaign()
        row = campaign.campaign_cases.order_by("case__position").first()
        url = reverse("recettes:case", args=[campaign.pk, row.case_id])
        result = st.one_of(st.sampled_from(list(RESULT.values)), hostile_text())
        # The page reads these by hand (no Form): result, comment, etape-<n>.
        steps = {f"etape-{n}": _optional(result) for n in (1, 2, 3)}
        return Target(
            _one(url, "cd23.testeur"),
            extra={
                "result": _optional(result),
                "comment": _optional(hostile_text()),
                **steps,
            },
        )

    def record(stage):
        url = reverse("recettes:record", args=[stage.campaign().pk])
        return Target(
            ((url, "cd23.testeur"), (url, "cd23.porteur")),
            body="json",
            raw=_grid_json(stage),
        )

    def assignment(stage):
        campaign = stage.campaign()
        form = recette_forms.AssignmentForm(campaign=campaign)
        url = reverse("recettes:assignment", args=[campaign.pk])
        return Target(_one(url, "cd23.porteur"), (form,))

    def grid(stage):
        url = reverse("recettes:grid", args=[stage.campaign().pk])
        shown = st.sampled_from(["mes-cas", "a-executer", "echoues"])
        return Target(
            _one(url, "cd23.testeur"),
            extra={"filtre": _optional(shown)},
            body="query",
        )

    def exported(name: str, page: Callable[[Stage], Target], *args):
        """An export (workflow/exports.py): what its page takes, sent to it (its
        URL's arguments from the stage), by the page's users."""

        def target(stage):
            sent = page(stage)
            url = reverse(name, args=[arg(stage).pk for arg in args])
            routes = tuple((url, username) for _url, username in sent.routes)
            return Target(routes, sent.forms, sent.extra, body="query")

        return target

    def login(stage):
        username = st.sampled_from(["cd23.porteur", "cnaf.dsi", "inconnu"])
        return Target(
            _one(reverse("login"), None),
            (AuthenticationForm(),),
            {
                "username": st.one_of(username, hostile_text()),
                "next": _optional(hostile_text()),
            },
        )

    def set_language(stage):
        url = reverse("set_language")
        language = st.sampled_from(["fr", "en", "de", ""])
        return Target(
            ((url, "cd23.porteur"), (url, None)),
            extra={
                "language": _optional(language),
                "next": _optional(st.sampled_from(["/", "//evil.example", "/x?y"])),
            },
        )

    def password_change(stage):
        form = PasswordChangeForm(stage.user("cd23.porteur"))
        return Target(_one(reverse("password_change"), "cd23.porteur"), (form,))

    def password_reset(stage):
        return Target(_one(reverse("password_reset"), None), (PasswordResetForm(),))

    def second_factor(stage):
        url = reverse("second_factor")
        action = st.sampled_from(
            ["start", "confirm", "cancel", "password", "mail_code"]
        )
        return Target(
            ((url, "cd23.dsi"), (url, "cd23.porteur")),
            (SecondFactorCodeForm(), EnrolmentPasswordForm(), MailboxCodeForm()),
            {"action": _optional(action), "next": _optional(hostile_text())},
        )

    def role_requests(stage):
        url = reverse("annuaire:role_requests")
        return Target(
            ((url, "cnaf.admin"), (url, "cd23.dsi")), (roleviews.RoleRequestForm(),)
        )

    def role_request_decide(stage):
        role_request = roles.role_request_create(
            by=stage.user("cnaf.admin"),
            user=stage.user("cd23.testeur"),
            organisation=Organisation.objects.get(code="23"),
            role="dsi_client",
            reason="Intérim",
        )
        routes = [
            (
                reverse("annuaire:role_request_decide", args=[role_request.pk, what]),
                user,
            )
            for what, user in (
                ("refuser", "cd23.dsi"),
                ("approuver", "cnaf.admin"),
                ("annuler", "cd23.dsi"),
                ("n-importe-quoi", "cd23.dsi"),
            )
        ]
        return Target(tuple(routes), (roleviews.DecisionForm(),))

    def my_tasks(stage):
        organisations = Organisation.objects.all()
        filters = MyTasksFilters(flows=SCOPED_FLOWS, organisations=organisations)
        url = reverse("index")
        return Target(
            ((url, "cnaf.contact"), (url, "cd23.porteur"), (url, "cnaf.admin")),
            (filters,),
            {"page": _optional(hostile_number())},
            body="query",
        )

    def notifications_mark_read(stage):
        """« Tout marquer comme lu », or one notification (any number: only the
        user's own is ever read); then the list, filtered by the posted kind."""
        url = reverse("notifications_mark_read")
        return Target(
            ((url, "cnaf.contact"), (url, "cd23.porteur")), (NotificationReadForm(),)
        )

    def my_task(name: str):
        """Open or give back a task of client 23 (each is assigned to a user who
        may act): as its owner, and as the other client's porteur (404)."""

        def target(stage):
            task = (
                _of_client(Task.objects.filter(status=STATUS.ASSIGNED), _client())
                .filter(flow_task_type="HUMAN")
                .select_related("owner")
                .order_by("pk")
                .first()
            )
            flow = task.flow_task.flow_class.url_name
            url = reverse(name, args=[flow, task.pk])
            return Target(((url, task.owner.username), (url, "cd57.porteur")))

        return target

    def reassign_task(stage):
        """A supervisor gives a waiting task of client 23 to someone: as its DSI,
        and as the other client's DSI (404)."""
        task = (
            _of_client(
                Task.objects.filter(status__in=[STATUS.NEW, STATUS.ASSIGNED]), _client()
            )
            # A task of the client's own roles: its DSI supervises it.
            .filter(flow_task_type="HUMAN", owner_permission__endswith=f"_{CLIENT}")
            .order_by("pk")
            .first()
        )
        flow = task.flow_task.flow_class.url_name
        url = reverse("task_reassign", args=[flow, task.pk])
        return Target(
            ((url, "cd23.dsi"), (url, "cd57.dsi")), (ReassignForm(people=[]),)
        )

    def incident_url(stage, name, stop="handle_gsi"):
        return reverse(name, args=[stage.incidents[stop]])

    def incident_declare(stage):
        url = reverse("incidents:declare")
        return Target(
            ((url, "cd23.incidents"), (url, "cnaf.gsi")),
            (incident_forms.GsiDeclarationForm(),),
        )

    def incident_list(stage):
        url = reverse("incidents:index")
        return Target(
            ((url, "cnaf.gsi"), (url, "cd23.incidents")),
            (incident_forms.IncidentFilterForm(),),
            {"page": _optional(hostile_number())},
            body="query",
        )

    def incident_action(name, form, *users):
        def target(stage):
            url = incident_url(stage, name)
            return Target(tuple((url, user) for user in users), (form,))

        return target

    def bulk(name: str, username: str):
        def target(stage):
            return Target(_one(reverse(name), username), (BulkActionForm(model=Task),))

        return target

    return {
        "evolutions:create": create,
        "evolutions:edit": edit,
        "evolutions:submit": submit,
        "evolutions:withdraw": withdraw,
        "evolutions:decline": decline,
        "evolutions:comment": comment,
        "evolutions:attach": attach,
        "evolutions:announcement_new": announce,
        "evolutions:announcement_publish": publish,
        "evolutions:index": search,
        "search": site_search,
        "recettes:index": recette_list(
            "recettes:index", recette_lists.AcceptanceFilterForm
        ),
        "recettes:defects": recette_list(
            "recettes:defects", recette_lists.DefectFilterForm
        ),
        "recettes:defect_new": defect_new,
        "recettes:defect_action": defect_action,
        "recettes:defect_comment": defect_comment,
        "recettes:defect_files": defect_files,
        "recettes:evidence_upload": evidence,
        "recettes:cases_import": cases_import,
        "recettes:case_new": case_new,
        "recettes:case_edit": case_edit,
        "recettes:case_move": case_move,
        "recettes:plan_reopen": plan_reopen,
        "recettes:case": campaign_case,
        "recettes:record": record,
        "recettes:assignment": assignment,
        "recettes:grid": grid,
        **{
            f"evolutions:export_{fmt}": exported(f"evolutions:export_{fmt}", search)
            for fmt in ("csv", "xlsx")
        },
        **{
            f"recettes:campaign_export_{fmt}": exported(
                f"recettes:campaign_export_{fmt}", grid, Stage.campaign
            )
            for fmt in ("csv", "xlsx")
        },
        "login": login,
        "set_language": set_language,
        "password_change": password_change,
        "password_reset": password_reset,
        "second_factor": second_factor,
        "annuaire:role_requests": role_requests,
        "annuaire:role_request_decide": role_request_decide,
        "index": my_tasks,
        "task_open": my_task("task_open"),
        "task_give_back": my_task("task_give_back"),
        "task_reassign": reassign_task,
        "notifications_mark_read": notifications_mark_read,
        "incidents:declare": incident_declare,
        "incidents:index": incident_list,
        "incidents:message": incident_action(
            "incidents:message",
            incident_forms.MessageForm(),
            "cd23.incidents",
            "cnaf.gsi",
        ),
        "incidents:workaround": incident_action(
            "incidents:workaround", incident_forms.WorkaroundForm(), "cnaf.gsi"
        ),
        "incidents:interruption": incident_action(
            "incidents:interruption",
            incident_forms.InterruptionForm(),
            "cnaf.support2",
        ),
        "incidents:recurring": incident_action(
            "incidents:recurring", incident_forms.RecurringForm(), "cnaf.gsi"
        ),
        "taches-incidents:tasks_assign": bulk(
            "taches-incidents:tasks_assign", "cnaf.gsi"
        ),
        "taches-incidents:tasks_unassign": bulk(
            "taches-incidents:tasks_unassign", "cnaf.support2"
        ),
        "taches-evolutions:tasks_assign": bulk(
            "taches-evolutions:tasks_assign", "cnaf.contact"
        ),
        "taches-evolutions:tasks_unassign": bulk(
            "taches-evolutions:tasks_unassign", "cnaf.commande"
        ),
        "taches-recettes:tasks_assign": bulk(
            "taches-recettes:tasks_assign", "cd23.porteur"
        ),
        "taches-recettes:tasks_unassign": bulk(
            "taches-recettes:tasks_unassign", "cnaf.moe"
        ),
    }


def _task_views() -> dict[str, Callable[[Stage], Target]]:
    """Every human task of the flows, by `<namespace>:<node>:execute`."""
    found = {}
    for flow_class in FLOWS:
        namespace = flow_class.url_name  # viewflow resets app_name once mounted
        for node in flow_class.instance.nodes():
            if isinstance(node, flow.View):
                found[f"{namespace}:{node.name}:execute"] = _task_target(node)
    return found


ENDPOINTS = {**_pages(), **_task_views()}

# Pages and downloads of our applications that take no input but their URL.
WITHOUT_INPUT = {
    "former_task_address",  # a redirect to the same path under the new prefix
    "notifications",
    "process_chart",
    "evolutions:detail",
    "evolutions:roadmap",
    "evolutions:attachment",
    "evolutions:specification_document",
    "evolutions:quote_document",
    "evolutions:needs_expression_pdf",
    "evolutions:quote_pdf",
    "recettes:detail",
    "recettes:plan_pdf",
    # A page saying what goes, then a POST without fields that deletes the case.
    "recettes:case_delete",
    "recettes:report_pdf",
    "recettes:agreement_pdf",
    "recettes:dashboard",
    "recettes:executions_export_csv",
    "recettes:executions_export_xlsx",
    "recettes:defects_export_csv",
    "recettes:defects_export_xlsx",
    "recettes:evidence",
    "recettes:defect",
    "recettes:defect_attachment",
    "annuaire:index",
    "annuaire:organisation",
    "annuaire:person",
    "annuaire:contact_point",
    "incidents:detail",
}


# The shell's pages without a form to fuzz (or one that needs an e-mailed token).
SHELL_WITHOUT_FORM = {
    "logout",
    "password_change_done",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "javascript-catalog",
    "health",  # GET only, no input
}
# viewflow's own pages: lists, charts, and the task actions without fields
# (assign, unassign) or refused to everyone (undo, cancel, revive).
VIEWFLOW_ACTIONS = re.compile(
    r"^taches-(evolutions|recettes|incidents):([a-z_]+:(index|detail|assign|unassign|undo|cancel|"
    r"revive)|index|process_list|process_detail|process_cancel|task_list|chart|"
    r"process_chart|inbox|queue|archive)$"
)
