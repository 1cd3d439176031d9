"""Brand assets stored under an uploader's name (before issue 13) move to content-derived names.

The content does not change, so the hashes segment keys are built from stay as they are and
nothing re-renders. A file whose format cannot be recognised, or that is missing, is left where
it is and logged: it is served only to the shop's staff, as an attachment, whatever its name.
"""

import hashlib
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import migrations

from catalog.brand_assets import BrandAssetRefused, font_upload_check, music_upload_check
from catalog.models import BRAND_ASSET_NAME

logger = logging.getLogger(__name__)

FIELDS = ("logo", "font", "music")


def _rename(apps, schema_editor):  # type: ignore[no-untyped-def]
    suffixes = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}
    BrandKit = apps.get_model("catalog", "BrandKit")
    for kit in BrandKit.objects.select_related("merchant"):
        changed = []
        for field in FIELDS:
            name = getattr(kit, field).name
            if not name or BRAND_ASSET_NAME.match(name.rsplit("/", 1)[-1]):
                continue
            try:
                with default_storage.open(name, "rb") as handle:
                    content = handle.read()
            except OSError:
                logger.warning("Brand asset %s is missing; left as it is", name)
                continue
            try:
                if field == "font":
                    suffix = font_upload_check(content, filename=name).suffix
                elif field == "music":
                    suffix = music_upload_check(content, filename=name).suffix
                else:
                    # Logos were stored normalized (PNG or JPEG) already, under the upload's stem.
                    suffix = suffixes[name.rsplit(".", 1)[-1].lower()]
            except (BrandAssetRefused, KeyError):
                logger.warning("Brand asset %s is not a recognised format; left as it is", name)
                continue
            new_name = f"brand/{kit.merchant.slug}/{hashlib.sha256(content).hexdigest()}.{suffix}"
            if not default_storage.exists(new_name):
                default_storage.save(new_name, ContentFile(content))
            default_storage.delete(name)
            setattr(kit, field, new_name)
            changed.append(field)
        if changed:
            kit.save(update_fields=changed)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_merchant_monthly_budget")]

    operations = [migrations.RunPython(_rename, migrations.RunPython.noop)]
