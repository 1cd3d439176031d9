"""The integrations' tasks, queued by name after commit (``scenecart.dispatch``); the names are
the contract with ``integrations.tasks``."""

from scenecart.dispatch import queue_on_commit

APPLY_SHOPIFY_WEBHOOK = "integrations.shopify_webhook"


def apply_shopify_webhook(receipt_id: int) -> None:
    queue_on_commit(APPLY_SHOPIFY_WEBHOOK, receipt_id)
