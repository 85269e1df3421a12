"""Scale out on the engines Tandem already uses (issue 14): two application servers,
two Celery workers and one beat sharing one PostgreSQL database and one Redis.

One change request and its acceptance are driven to go-live over real HTTP, each
request to the other gunicorn process in turn (the session and CSRF cookies are the
browser's, as behind a load balancer). Then a batch of needs expressions fills the
outbox, one worker is SIGKILLed while it holds a message, and the other worker,
with beat's relay, sends what it left. Every task is done once, every message is
sent once, the journal verifies, `check_consistency` agrees.
"""

import os
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from evolutions.flows import EvolutionFlow
from evolutions.models import ChangeRequest, Release
from recette.flows import RecetteFlow
from recette.models import Campaign
from tests.integration import live
from workflow.models import DeliveryAttempt, Notification

pytestmark = pytest.mark.integration

ALIAS = "scale_out"
PASSWORD = "tandem-demo"
REDIS_DB = 7
BATCH = 20  # needs expressions submitted while a worker dies: two messages each
LEASE_SECONDS = 15  # longer than any send on a loaded machine

CASES_CSV = "\n".join(
    [
        "référence;titre;priorité;action;résultat attendu",
        "CT-1;Saisie;haute;Saisir une déclaration;Déclaration enregistrée",
        "CT-2;Export;moyenne;Exporter;Fichier produit",
        "CT-3;Droits;haute;Se connecter sans droit;Accès refusé",
    ]
).encode("cp1252")


class Installation:
    """The live processes and where they keep their state."""

    def __init__(self, root: Path):
        self.root = root
        self.var = root / "var"
        self.mail = self.var / "mail"
        self.gate = root / "gate"
        self.logs = root / "logs"
        for folder in (self.var, self.mail, self.gate, self.logs):
            folder.mkdir(parents=True)
        self.database = live.FreshDatabase(os.environ["DATABASE_URL"])
        broker = urlsplit(os.environ["CELERY_BROKER_URL"])
        self.broker_url = urlunsplit(broker._replace(path=f"/{REDIS_DB}"))
        self.env = {
            **os.environ,
            "PYTHONPATH": str(live.ROOT),
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "DEBUG": "1",
            "DATABASE_URL": self.database.url,
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_RESULT_BACKEND": self.broker_url,
            "TANDEM_VAR_DIR": str(self.var),
            "EMAIL_BACKEND": "tests.integration.live.GatedFileBackend",
            "LOG_LEVEL": "WARNING",
            # A dead worker's message comes back after the lease; beat's relay runs
            # every second; a failed send is retried after 1 s.
            "TANDEM_NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
            "TANDEM_NOTIFICATION_RELAY_SECONDS": "1",
            "TANDEM_NOTIFICATION_RETRY_SECONDS": "1",
        }
        self.services: dict[str, live.Service] = {}
        self.servers: list[str] = []

    def prepare(self):
        """Migrate the fresh database, load the demo, empty the broker's database."""
        for args in (("migrate", "--noinput"), ("setup_demo",)):
            done = live.manage(self.env, *args)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        _flush(self.broker_url)

    def start(self):
        for name in ("web-1", "web-2"):
            port = live.free_port()
            self._start(
                name,
                [
                    str(live.VENV_BIN / "gunicorn"), "tandem.wsgi",
                    "--bind", f"127.0.0.1:{port}", "--workers", "1",
                    "--timeout", "120",
                ],
            )  # fmt: skip
            self.servers.append(f"http://127.0.0.1:{port}")
        # Worker A runs one message at a time and is the one the gate can stop.
        self._start(
            "worker-a",
            self._worker("worker-a", concurrency=1),
            extra={live.GATE_VARIABLE: str(self.gate)},
        )
        self._start("worker-b", self._worker("worker-b", concurrency=2))
        self._start(
            "beat",
            [
                str(live.VENV_BIN / "celery"), "-A", "tandem", "beat",
                "--loglevel=WARNING", "-s", str(self.root / "celerybeat-schedule"),
            ],
        )  # fmt: skip
        for server in self.servers:
            live.poll(
                lambda server=server: self._answers(server),
                timeout=60,
                what=f"démarrage de {server}",
                detail=self.logs_tail,
            )

    def _worker(self, name: str, *, concurrency: int) -> list[str]:
        return [
            str(live.VENV_BIN / "celery"), "-A", "tandem", "worker",
            "--pool=prefork", f"--concurrency={concurrency}", "--loglevel=WARNING",
            "--without-mingle", "--without-gossip", "-n", f"{name}@%h",
        ]  # fmt: skip

    def _start(self, name, command, extra=None):
        self.services[name] = live.Service(
            name, command, {**self.env, **(extra or {})}, self.logs
        )

    def _answers(self, server: str) -> bool:
        for service in self.services.values():
            assert service.alive(), f"{service.name} est mort :\n{service.tail()}"
        try:
            live.LiveClient([server]).get("/sante/")
        except OSError:
            return False
        return True

    def logs_tail(self) -> str:
        return "\n".join(
            f"--- {name}\n{service.tail(1500)}"
            for name, service in self.services.items()
        )

    def stop(self):
        for service in self.services.values():
            service.stop()

    def destroy(self):
        self.stop()
        try:
            self.database.drop()
            _flush(self.broker_url)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _flush(broker_url: str):
    """Empty the broker's dedicated Redis database (queues, results)."""
    import redis

    with redis.Redis.from_url(broker_url) as broker:
        broker.flushdb()


@pytest.fixture
def installation(tmp_path_factory, django_db_blocker):
    """A fresh database and its five processes, all gone at the end, test passed
    or not; the test process reads the same database through its own alias."""
    with django_db_blocker.unblock():
        built = Installation(tmp_path_factory.mktemp("scale-out"))
        try:
            built.prepare()
            built.start()
            connections.settings[ALIAS] = {
                **connections.settings["default"],
                "NAME": built.database.name,
                "CONN_MAX_AGE": 0,
            }
            yield built
        finally:
            print(built.logs_tail())  # shown by pytest when the test failed
            if ALIAS in connections.settings:
                connections[ALIAS].close()
                del connections[ALIAS]
                del connections.settings[ALIAS]
            built.destroy()


# --- the steps of the processes, over HTTP --------------------------------------


def _open_task(cr_pk: int, node, link: str) -> Task:
    return Task.objects.using(ALIAS).get(
        **{f"process__{link}__change_request_id": cr_pk},
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def _act(client, username, cr_pk, node, data, *, link, files=None):
    """Log in as the actor, take the task if it is in the queue, submit its form."""
    task = _open_task(cr_pk, node, link)
    client.login(username, PASSWORD)
    args = [task.process_id, task.pk]
    if task.owner_id is None:
        taken = client.post(node.reverse("assign", args=args))
        assert taken.status_code == 302, taken.text()[:2000]
    response = client.post(node.reverse("execute", args=args), data, files=files)
    assert response.status_code == 302, (node, response.text()[:3000])


def _evolution(client, *args, **kwargs):
    _act(client, *args, link="evolutionprocess", **kwargs)


def _recette(client, *args, **kwargs):
    _act(client, *args, link="recetteprocess", **kwargs)


def _status(cr_pk: int) -> str:
    return ChangeRequest.objects.using(ALIAS).get(pk=cr_pk).status


def _submit_needs_expression(client, title: str) -> int:
    created = client.post(
        reverse("evolutions:create"),
        {
            "title": title,
            "kind": "reglementaire",
            "data_flows": ["DSG"],
            "description": "Ajouter le motif de la déclaration.",
        },
    )
    assert created.status_code == 302, created.text()[:3000]
    pk = int(created.url.rstrip("/").rsplit("/", 1)[-1])
    submitted = client.post(reverse("evolutions:submit", args=[pk]))
    assert submitted.status_code == 302, submitted.text()[:3000]
    return pk


def _drive_change_request(client) -> int:
    """From the needs expression to the end of manufacture (EvolutionFlow done)."""
    E = EvolutionFlow
    commande = get_user_model().objects.using(ALIAS).get(username="cnaf.commande")
    today = timezone.localdate()
    release = (
        Release.objects.using(ALIAS)
        .filter(production_date__gte=today)
        .order_by("production_date")
        .first()
    )
    valid_until = (today + timedelta(days=30)).isoformat()

    client.login("cd23.porteur", PASSWORD)
    cr = _submit_needs_expression(client, "Motif de la déclaration (scale-out)")
    assert _status(cr) == ChangeRequest.Status.SUBMITTED

    _evolution(
        client,
        "cnaf.contact",
        cr,
        E.review_submission,
        {"decision": "acknowledge", "order_owner": commande.pk},
    )
    _evolution(client, "cnaf.commande", cr, E.write_specification, {"summary": "v1"})
    _evolution(client, "cd23.porteur", cr, E.review_specification, {"decision": "yes"})
    _evolution(
        client,
        "cnaf.commande",
        cr,
        E.write_quote,
        {"man_days": "12.5", "amount": "8750.00", "valid_until": valid_until},
    )
    _evolution(client, "cd23.porteur", cr, E.review_quote, {"decision": "yes"})
    _evolution(client, "cnaf.commande", cr, E.propose_release, {"release": release.pk})
    _evolution(client, "cd23.porteur", cr, E.confirm_release, {"decision": "yes"})
    _evolution(client, "cnaf.moe", cr, E.start_manufacture, {"comment": "Parti."})
    _evolution(client, "cnaf.moe", cr, E.finish_manufacture, {"comment": ""})
    assert _status(cr) == ChangeRequest.Status.IN_ACCEPTANCE
    return cr


def _totp(env, username: str) -> str:
    done = live.manage(env, "demo_totp", username, "--verbosity", "0")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _drive_acceptance(client, env, cr: int):
    """From the acceptance plan to both go-live signatures (RecetteFlow done)."""
    R = RecetteFlow
    today = timezone.localdate().isoformat()

    _recette(
        client,
        "cnaf.commande",
        cr,
        R.prepare_plan,
        {"workload": "2", "start": today, "end": today},
        files={"cases_file": ("cas.csv", CASES_CSV)},
    )
    _recette(client, "cd23.porteur", cr, R.review_plan, {"decision": "yes"})
    _recette(client, "cnaf.moe", cr, R.qualify, {"passed": "yes", "on": today})
    _recette(client, "cnaf.moe", cr, R.deliver, {"on": today, "environment": "REC"})

    campaign = Campaign.objects.using(ALIAS).get(change_request_id=cr, number=1)
    cases = list(
        campaign.change_request.acceptance_plan.cases.values_list("pk", flat=True)
    )
    assert len(cases) == 3
    client.login("cd23.testeur", PASSWORD)
    for case in cases:  # one request per result, as the grid's script sends them
        recorded = client.post(
            reverse("recettes:record", args=[campaign.pk]),
            json_body={"results": [{"case": case, "result": "reussi"}]},
        )
        assert recorded.status_code == 200, recorded.text()[:2000]
    _recette(client, "cd23.porteur", cr, R.run_campaign, {"outcome": "bilan"})
    _recette(client, "cd23.porteur", cr, R.write_report, {"verdict": "favorable"})
    for username, node in (("cnaf.dsi", R.sign_supplier), ("cd23.dsi", R.sign_client)):
        signature = {
            "decision": "sign",
            "password": PASSWORD,
            "otp_token": _totp(env, username),
        }
        _recette(client, username, cr, node, signature)
    assert _status(cr) == ChangeRequest.Status.IN_PRODUCTION


# --- the test ---------------------------------------------------------------------


def _all_sent() -> bool:
    rows = Notification.objects.using(ALIAS)
    return rows.exists() and not rows.exclude(state=Notification.State.SENT).exists()


def test_two_servers_two_workers_one_beat_do_each_task_and_send_each_message_once(
    installation,
):
    site = installation
    client = live.LiveClient(site.servers)

    cr = _drive_change_request(client)
    _drive_acceptance(client, site.env, cr)
    assert set(client.served) == set(site.servers)
    assert abs(client.served[site.servers[0]] - client.served[site.servers[1]]) <= 1

    # The batch: worker A stops at its first message once ten more are written;
    # it is killed there, holding that message's lease.
    already = sum(1 for _ in site.mail.iterdir())
    (site.gate / "armed").write_text(str(already + 10))
    client.login("cd23.porteur", PASSWORD)
    held = site.gate / "held"
    for number in range(BATCH):
        _submit_needs_expression(client, f"Besoin {number}")
        if held.exists() and site.services["worker-a"].alive():
            site.services["worker-a"].kill()
    live.poll(
        held.exists,
        timeout=60,
        what="le worker A ne s'est arrêté sur aucun message du lot",
        detail=site.logs_tail,
    )
    site.services["worker-a"].kill()
    lost = Notification.objects.using(ALIAS).get(
        pk=int(held.read_text().split("-")[1])  # <tandem-{pk}-{event}@…>
    )
    assert lost.message_id == held.read_text()
    assert (
        Notification.objects.using(ALIAS)
        .exclude(state=Notification.State.SENT)
        .exists()
    ), "le lot était déjà entièrement envoyé au moment du SIGKILL"

    live.poll(
        _all_sent,
        timeout=120,
        what="envoi de tous les messages après le SIGKILL",
        detail=site.logs_tail,
    )
    site.services["worker-b"].stop()  # warm: whatever it runs is finished
    site.services["beat"].stop()

    # Every message sent once, to its recipient; the one the dead worker held was
    # claimed again after its lease and sent by the other.
    rows = list(Notification.objects.using(ALIAS).all())
    assert len(rows) > 2 * BATCH
    assert live.mailbox(site.mail) == Counter(
        {(row.message_id, row.recipient_email): 1 for row in rows}
    )
    succeeded = Counter(
        DeliveryAttempt.objects.using(ALIAS)
        .filter(succeeded=True)
        .values_list("notification_id", flat=True)
    )
    assert succeeded == Counter({row.pk: 1 for row in rows})
    lost.refresh_from_db()
    assert (lost.state, lost.attempts) == (Notification.State.SENT, 2)

    # Every task done once: both processes finished, each human step once, and no
    # node of any process with two open tasks.
    tasks = Task.objects.using(ALIAS)
    for link in ("evolutionprocess", "recetteprocess"):
        process_tasks = tasks.filter(**{f"process__{link}__change_request_id": cr})
        assert {t.process.status for t in process_tasks} == {"DONE"}
        human = process_tasks.filter(flow_task_type="HUMAN")
        assert not human.exclude(status=STATUS.DONE).exists()
        done = Counter(str(t.flow_task) for t in human)
        assert set(done.values()) == {1}, done
    open_tasks = Counter(
        tasks.filter(status__in=[STATUS.NEW, STATUS.ASSIGNED]).values_list(
            "process_id", "flow_task"
        )
    )
    assert [key for key, count in open_tasks.items() if count > 1] == []

    for command in ("check_consistency", "verify_audit"):
        done = live.manage(site.env, command)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
