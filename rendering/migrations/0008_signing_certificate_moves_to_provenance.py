"""SigningCertificate now belongs to the provenance app (its migration 0001 takes the table
over as it is); nothing changes in the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rendering", "0007_video_public_id"),
        ("provenance", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SigningCertificate")],
            database_operations=[],
        ),
    ]
