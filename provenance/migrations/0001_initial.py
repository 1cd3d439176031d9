"""SigningCertificate, moved here from rendering: the table stays as it is
(``rendering_signingcertificate``); only Django's record of which app owns it changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("catalog", "0007_brand_assets_by_content"),
        ("rendering", "0007_video_public_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SigningCertificate",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("certificate_chain", models.TextField(editable=False, help_text="PEM: the signing certificate, then the CAs that issued it.")),
                        ("encrypted_private_key", models.TextField(editable=False)),
                        ("subject", models.CharField(editable=False, help_text="The signing certificate's subject.", max_length=500)),
                        ("not_after", models.DateTimeField(editable=False, help_text="The signing certificate's expiry.", verbose_name="expires")),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("merchant", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="signing_certificate", to="catalog.merchant")),
                    ],
                    options={"db_table": "rendering_signingcertificate"},
                ),
            ],
            database_operations=[],
        ),
    ]
