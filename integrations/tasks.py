"""Celery tasks: thin and id-taking. The work is in ``integrations.shopify.webhooks``."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from .shopify.webhooks import webhook_apply, webhooks_requeue_pending


@shared_task(
    name="integrations.shopify_webhook",
    acks_late=True,
    reject_on_worker_lost=True,
    # Applying is idempotent (the receipt records it); a database that went away is worth a
    # few more tries, a payload the catalog refuses is recorded on the receipt and final.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def shopify_webhook(receipt_id: int) -> None:
    """Apply one recorded Shopify webhook delivery to the merchant's catalog."""
    webhook_apply(receipt_id=receipt_id)


@shared_task(name="integrations.requeue_pending_webhooks")
def requeue_pending_webhooks() -> None:
    """Periodic: deliveries whose task was lost are queued again."""
    webhooks_requeue_pending()
