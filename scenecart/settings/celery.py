"""Celery: the broker (Redis, or files under SCENECART_VAR_DIR for the demo), queues, routes,
time limits and the periodic sweeps."""

from pathlib import Path

from kombu import Exchange, Queue

from .env import BASE_DIR, env

# Without Redis the broker is kombu's filesystem transport: a real worker process takes tasks
# from files under SCENECART_VAR_DIR, so the demo runs with nothing but Python installed.
SCENECART_VAR_DIR = env.path("SCENECART_VAR_DIR", default=BASE_DIR / "var")
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost//")


def broker_transport_options(broker_url: str, var_dir: Path) -> dict[str, object]:
    if broker_url.startswith("filesystem://"):
        folder = Path(var_dir) / "broker"
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            # The default 1 s poll would add a second to every hop (render → assemble).
            "polling_interval": 0.2,
        }
    # Longer than the longest render, so a slow render is not redelivered to a second worker.
    return {"visibility_timeout": 2 * 60 * 60}


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL, SCENECART_VAR_DIR)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Task state lives on Segment and Video rows, which is what every caller reads.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "rendering.render_segment": {"queue": "render.local"},
    "rendering.assemble_video": {"queue": "assemble"},
    "rendering.plan_video": {"queue": "default"},
    "rendering.submit_bulk_job": {"queue": "default"},
    "rendering.submit_segment": {"queue": "render.remote"},
    "rendering.poll_segment": {"queue": "render.remote"},
    "rendering.requeue_stale_work": {"queue": "default"},
    "rendering.housekeeping_sweep": {"queue": "default"},
    "rendering.sync_publication": {"queue": "default"},
    "rendering.refresh_videos": {"queue": "default"},
    "catalog.cutout_product_image": {"queue": "default"},
    "catalog.fetch_product_image": {"queue": "default"},
    "integrations.shopify_webhook": {"queue": "default"},
    "integrations.requeue_pending_webhooks": {"queue": "default"},
    "catalog.sync_feed": {"queue": "default"},
    "catalog.sync_due_feeds": {"queue": "default"},
}
# Every queue, the one list: a worker started without -Q (`celery -A scenecart worker`, as in
# development) consumes them all; production gives each pool its own with -Q.
SCENECART_WORKER_QUEUES = ("default", "render.local", "render.remote", "assemble")
# Each queue on its own exchange and key, as Celery makes a queue a route names (a Queue without
# them would share the default exchange and key, and every queue would get every message).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in SCENECART_WORKER_QUEUES
]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False

# Run by `celery -A scenecart beat` beside the workers.
CELERY_BEAT_SCHEDULE = {
    "housekeeping": {"task": "rendering.housekeeping_sweep", "schedule": 6 * 60 * 60},
    "requeue-stale-work": {"task": "rendering.requeue_stale_work", "schedule": 60},
    # Queues a sync of each merchant's catalog feeds that is due (catalog.feeds).
    "sync-catalog-feeds": {"task": "catalog.sync_due_feeds", "schedule": 60},
    # Shopify deliveries whose task was lost are queued again (integrations.shopify.webhooks).
    "requeue-shopify-webhooks": {"task": "integrations.requeue_pending_webhooks", "schedule": 300},
}
