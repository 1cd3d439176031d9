"""The Celery application. Workers: ``celery -A scenecart worker -Q <queues>``."""

import os
from pathlib import Path

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scenecart.settings.production")
# filesystem:// (the embedded broker) with atomic publishing: see scenecart.broker.
TRANSPORT_ALIASES["filesystem"] = "scenecart.broker:Transport"

app = Celery("scenecart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport expects its folders to exist (it makes only the last level).
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if key in options:
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)
