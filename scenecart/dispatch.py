"""Queue a Celery task by its name once the current transaction commits.

The one way work is queued: each app has a small ``dispatch`` module naming its tasks, and
services call it; tasks import services, services never import tasks, so the two never form
an import circle. Nothing is queued for a transaction that rolls back, a worker never reads
rows before they are committed, and outside a transaction the task is queued at once.
(Zulip's ``queue_event_on_commit``; HackSoft's rule that services enqueue on commit.)
"""

from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction


def queue_on_commit(
    task_name: str, *args: Any, countdown: float | None = None, **kwargs: Any
) -> None:
    options = {"countdown": countdown} if countdown is not None else {}
    transaction.on_commit(partial(send, task_name, args=args, kwargs=kwargs, options=options))


def send(
    task_name: str, *, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
) -> None:
    """Send the task to the broker; with ``task_always_eager`` (tests that want the work done
    in-process) run the registered task here instead, as ``delay`` would."""
    app = current_app
    if app.conf.task_always_eager:
        if task_name not in app.tasks:
            # Outside a worker the apps' task modules load on demand (Celery's autodiscovery
            # runs on the loader's import_modules signal, which a worker sends at start).
            app.loader.import_default_modules()
        app.tasks[task_name].apply(args=args, kwargs=kwargs)
        return
    app.send_task(task_name, args=args, kwargs=kwargs, **options)
