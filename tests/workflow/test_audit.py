"""The audit journal: every transition, document, download and refusal, hash-chained."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse

from contacts.models import Role
from evolutions import services
from evolutions.demo import evolutions_demo_load
from evolutions.models import Attachment, ChangeRequest
from workflow import audit
from workflow.models import AuditEntry

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def demo(world, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    return world


def _draft(world):
    return services.change_request_create(
        by=world.client_user(world.creuse, Role.PORTEUR_DEMANDE),
        organisation=world.creuse,
        title="Besoin",
        kind="technique",
        data_flows=["DSG"],
        description="Détail",
    )


def test_a_transition_is_journalled_with_who_what_from_and_to(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    cr = _draft(world)
    before = AuditEntry.objects.count()

    services.change_request_submit(pk=cr.pk, by=porteur)

    entry = AuditEntry.objects.filter(action="transition").latest("seq")
    assert AuditEntry.objects.count() == before + 1
    assert (entry.actor, entry.actor_id, entry.organisation) == (
        porteur.username,
        porteur.pk,
        "23",
    )
    assert (entry.subject_type, entry.subject_id) == (
        "evolutions.changerequest",
        str(cr.pk),
    )
    assert entry.detail["source"] == ChangeRequest.Status.DRAFT
    assert entry.detail["target"] == ChangeRequest.Status.SUBMITTED


def test_the_entry_and_the_transition_commit_or_roll_back_together(world):
    porteur = world.client_user(world.creuse, Role.PORTEUR_DEMANDE)
    cr = _draft(world)
    before = AuditEntry.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.change_request_submit(pk=cr.pk, by=porteur)
        raise RuntimeError("annulé après coup")

    assert AuditEntry.objects.count() == before
    assert ChangeRequest.objects.get(pk=cr.pk).status == ChangeRequest.Status.DRAFT
    assert audit.verify().intact


def test_documents_downloads_and_refusals_are_journalled(demo, client):
    cr = ChangeRequest.objects.get(
        organisation__code="23", status=ChangeRequest.Status.IN_STUDY
    )
    porteur = demo.client_user(demo.creuse, Role.PORTEUR_DEMANDE)
    client.force_login(porteur)
    pdf = client.get(reverse("evolutions:needs_expression_pdf", args=[cr.pk]))
    client.post(
        reverse("evolutions:attach", args=[cr.pk]),
        {"file": SimpleUploadedFile("note.pdf", PDF_BYTES)},
    )
    attachment = Attachment.objects.get(change_request=cr)
    url = reverse("evolutions:attachment", args=[cr.pk, attachment.pk])
    assert b"".join(client.get(url).streaming_content) == PDF_BYTES
    intruder = demo.client_user(demo.moselle, Role.PORTEUR_DEMANDE)
    client.force_login(intruder)
    assert client.get(url).status_code == 404

    document = AuditEntry.objects.get(action="document")
    assert (document.actor, document.subject_id) == (porteur.username, str(cr.pk))
    assert document.detail["sha256"] == hashlib.sha256(pdf.content).hexdigest()
    download = AuditEntry.objects.get(action="telechargement")
    assert download.detail["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert download.organisation == "23"
    audit.fold_refusals()
    refusal = AuditEntry.objects.filter(action="refus").latest("seq")
    assert (refusal.actor, refusal.detail["status"], refusal.detail["path"]) == (
        intruder.username,
        404,
        url,
    )
    assert audit.verify() == audit.Verdict(AuditEntry.objects.count())


@pytest.fixture
def tamper():
    """Let the test edit the journal by hand, as the table's owner could: on
    PostgreSQL the append-only trigger is switched off (inside the test's
    transaction, rolled back with it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE workflow_auditentry DISABLE TRIGGER ALL")


def _chain(world, length=5):
    for number in range(length):
        audit.record("refus", by=world.user("cd23.porteur"), path=f"/x/{number}")


def test_verify_audit_reports_the_first_row_edited_by_hand(world, capsys, tamper):
    _chain(world)
    call_command("verify_audit")
    assert "intègre : 5 entrée(s)" in capsys.readouterr().out

    entry = AuditEntry.objects.get(seq=3)
    AuditEntry.objects.filter(pk=entry.pk).update(detail={"path": "/autre"})

    with pytest.raises(CommandError, match=r"entrée n° 3 \(contenu modifié"):
        call_command("verify_audit")


def test_verify_audit_reports_a_removed_or_resealed_row(world, tamper):
    _chain(world)
    # Someone rewrites a row and recomputes its hash without the key: wrong hash.
    row = AuditEntry.objects.get(seq=2)
    row.actor = "quelquun"
    row.hash = hashlib.sha256(row.actor.encode()).hexdigest()
    AuditEntry.objects.filter(pk=row.pk).update(actor=row.actor, hash=row.hash)
    assert audit.verify().broken_at == 2

    # With the key, the row is consistent again but the next link is broken.
    row.hash = audit.seal(row)
    AuditEntry.objects.filter(pk=row.pk).update(hash=row.hash)
    assert audit.verify() == audit.Verdict(
        2, 3, "chaînage rompu avec l'entrée précédente"
    )

    AuditEntry.objects.filter(seq__gte=2).delete()
    _chain(world, 1)
    AuditEntry.objects.filter(seq=1).delete()
    assert audit.verify() == audit.Verdict(0, 1, "entrée manquante")


def test_another_key_does_not_verify(world, settings):
    _chain(world, 2)
    settings.TANDEM_AUDIT_KEY = "une autre clé"
    assert audit.verify().broken_at == 1
