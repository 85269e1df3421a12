from django.db import migrations, models


def keep_signed_in(apps, schema_editor):
    """The sessions open at the upgrade, copied: nobody is signed out. Their
    user's id is written at their next save; until then the user is read
    apart, as before."""
    old = apps.get_model("sessions", "Session")
    new = apps.get_model("workflow", "UserSession")
    database = schema_editor.connection.alias
    batch = []
    for session in old.objects.using(database).iterator(chunk_size=2000):
        batch.append(
            new(
                session_key=session.session_key,
                session_data=session.session_data,
                expire_date=session.expire_date,
            )
        )
        if len(batch) == 2000:
            new.objects.using(database).bulk_create(batch)
            batch = []
    new.objects.using(database).bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("sessions", "0001_initial"),
        ("workflow", "0006_refusal_entries"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserSession",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40,
                        primary_key=True,
                        serialize=False,
                        verbose_name="session key",
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                (
                    "expire_date",
                    models.DateTimeField(db_index=True, verbose_name="expire date"),
                ),
                (
                    "user_id",
                    models.BigIntegerField(
                        db_index=True, null=True, verbose_name="id utilisateur"
                    ),
                ),
            ],
            options={"verbose_name": "session", "verbose_name_plural": "sessions"},
        ),
        migrations.RunPython(keep_signed_in, migrations.RunPython.noop),
    ]
