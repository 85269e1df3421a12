"""Each go-live agreement keeps the PDF of the report version it was opened for; a
reopened report no longer holds the previous version's PDF, hash or figures; every
acceptance has its plan from the start."""

from django.db import migrations, models

import workflow.uploads


def forwards(apps, schema_editor):
    report_model = apps.get_model("recette", "AcceptanceReport")
    agreement_model = apps.get_model("recette", "GoLiveAgreement")
    plan_model = apps.get_model("recette", "AcceptancePlan")
    process_model = apps.get_model("recette", "RecetteProcess")
    reports = {r.change_request_id: r for r in report_model.objects.all()}
    for agreement in agreement_model.objects.all():
        report = reports.get(agreement.change_request_id)
        if report and report.document and report.document_sha256 == (
            agreement.report_sha256
        ):
            agreement.report_document = report.document.name
            agreement.save(update_fields=["report_document"])
    for report in reports.values():
        if report.status == "brouillon" and report.document:
            report.document = ""
            report.document_sha256 = ""
            report.figures = {}
            report.submitted_by = None
            report.submitted_at = None
            report.save()
    started = process_model.objects.filter(
        change_request__acceptance_plan__isnull=True
    ).select_related("change_request")
    for process in started:
        plan_model.objects.create(
            change_request=process.change_request,
            organisation_id=process.change_request.organisation_id,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("recette", "0002_signature_second_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="goliveagreement",
            name="report_document",
            field=models.FileField(
                blank=True,
                storage=workflow.uploads.private_storage,
                upload_to=workflow.uploads.private_upload_to,
                verbose_name="bilan (PDF) soumis à l'accord",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
