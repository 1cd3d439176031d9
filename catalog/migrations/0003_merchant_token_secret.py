import secrets

from django.db import migrations, models

import catalog.models


def give_each_merchant_its_own_secret(apps, schema_editor):
    # AddField evaluates the callable default once: every existing row would share one secret.
    Merchant = apps.get_model("catalog", "Merchant")
    for merchant in Merchant.objects.all():
        merchant.shopper_token_secret = secrets.token_urlsafe(32)
        merchant.save(update_fields=["shopper_token_secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_cutout_music_cta"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="shopper_token_secret",
            field=models.CharField(
                default=catalog.models.new_token_secret, editable=False, max_length=64
            ),
        ),
        migrations.RunPython(give_each_merchant_its_own_secret, migrations.RunPython.noop),
    ]
