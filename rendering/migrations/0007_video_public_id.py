"""Video.public_id: the unguessable id public URLs name a video by.

In three steps, because a unique column cannot be added to a table that has rows with one
default: AddField computes a callable default once and writes that one value into every
existing row. So the column arrives nullable and without its unique index, every existing
row gets its own uuid4, and only then does it become unique and non-null.
(https://docs.djangoproject.com/en/5.2/howto/writing-migrations/#migrations-that-add-unique-fields)
"""

import uuid

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

BATCH = 1000


def give_each_video_a_public_id(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Video = apps.get_model("rendering", "Video")
    videos = Video.objects.using(schema_editor.connection.alias).filter(public_id__isnull=True)
    while True:
        batch = list(videos.only("pk")[:BATCH])
        if not batch:
            return
        for video in batch:
            video.public_id = uuid.uuid4()
        Video.objects.using(schema_editor.connection.alias).bulk_update(batch, ["public_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("rendering", "0006_signing_certificates"),
    ]

    operations = [
        migrations.AddField(
            model_name="video",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_each_video_a_public_id, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="video",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
