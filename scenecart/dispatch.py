"""Queue a Celery task by its name once the current transaction commits.

Apps below ``rendering`` (``catalog``, ``personalization``) may not import its tasks, yet a
change they make (a product archived, a policy changed) has consequences there: they name the
task instead. Nothing is queued for a transaction that rolls back, and a worker never reads the
rows before they are committed. (Zulip's ``queue_event_on_commit``.)
"""

from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction


def queue_on_commit(task_name: str, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(partial(current_app.send_task, task_name, args=args, kwargs=kwargs))
