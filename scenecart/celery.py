"""The Celery application. Workers: ``celery -A scenecart worker`` (every queue, as in
development) or ``-Q <queues>`` per pool in production.

Like ``manage.py`` it defaults to the development settings, so a worker started by hand beside
``runserver`` works; production sets ``DJANGO_SETTINGS_MODULE=scenecart.settings.production``
for every process (the README's deployment section).
"""

import os
import sys
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_init
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scenecart.settings.dev")
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


@worker_init.connect
def _check_settings(**kwargs: Any) -> None:
    """A worker runs Django's system checks before taking work, as ``manage.py`` commands do:
    a bad setting stops it at once with the variable named, not at the first task."""
    try:
        call_command("check", tags=["scenecart"], fail_level="ERROR")
    except SystemCheckError as exc:
        # Celery logs and swallows exceptions from signal handlers; exiting is what stops it.
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(1) from exc
