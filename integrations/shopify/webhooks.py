"""Shopify webhook deliveries: recorded at once, applied by a worker.

Shopify waits five seconds for an answer, delivers at least once, and retries a failed delivery
with the payload of the moment it was triggered (8 times over 4 hours). So the endpoint only
records the delivery, unique per shop and ``X-Shopify-Webhook-Id`` (a repeat is answered 200
and nothing is done twice), and queues its id; a worker applies it:

* ``products/create``, ``products/update``: the product goes through the catalog import
  (``catalog_import_parsed``) as a CSV export's would: matched by SKU, created or updated in
  place, its images queued for the safe fetcher;
* ``products/delete``: the products recorded with that Shopify id are deleted with everything
  they published (``rendering.publication.products_delete``).

A retry can arrive after a newer change of the same product: a change older than one already
applied, or a change of a product deleted since, is skipped as stale. The shop's connection row
is locked while a delivery is applied, so one shop's deliveries are applied one at a time.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.importers import ParseResult
from catalog.importing import catalog_import_parsed
from catalog.models import Product
from catalog.selectors import product_forget
from rendering.publication import products_delete

from .. import dispatch
from ..models import ShopifyConnection, ShopifyWebhookReceipt
from .connections import TOPICS
from .products import PayloadRefused, changed_at, product_from_payload, product_id

logger = logging.getLogger(__name__)

PRODUCTS_DELETE = "products/delete"
IMPORT_FORMAT = "shopify_webhook"
Outcome = ShopifyWebhookReceipt.Outcome


@dataclass(frozen=True)
class Delivery:
    """One POST as Shopify sent it: its headers and its raw, verified body."""

    webhook_id: str
    topic: str
    body: bytes
    api_version: str = ""
    event_id: str = ""
    triggered_at: str = ""


def webhook_receive(
    *, connection: ShopifyConnection, delivery: Delivery
) -> ShopifyWebhookReceipt | None:
    """Record a verified delivery of one of ``TOPICS`` and queue it for a worker; ``None`` when
    the shop sent this webhook id before. Raises ``PayloadRefused`` for a body that is not a
    product (not JSON, not an object, no id): nothing is recorded then."""
    if delivery.topic not in TOPICS:
        raise ValueError(f"Scenecart does not follow the topic {delivery.topic!r}.")
    try:
        text = delivery.body.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise PayloadRefused("the body is not JSON") from None
    shopify_id = product_id(payload)
    triggered_at = _moment(delivery.triggered_at)
    try:
        with transaction.atomic():
            receipt = ShopifyWebhookReceipt.objects.create(
                webhook_id=delivery.webhook_id,
                topic=delivery.topic,
                shop_domain=connection.shop_domain,
                merchant_id=connection.merchant_id,
                api_version=delivery.api_version[:20],
                event_id=delivery.event_id[:255],
                triggered_at=triggered_at,
                shopify_product_id=shopify_id,
                changed_at=changed_at(payload) or triggered_at,
                body=text,
            )
            dispatch.apply_shopify_webhook(receipt.pk)
    except IntegrityError:
        # The unique delivery constraint: this webhook id was recorded before, perhaps by a
        # request running beside this one.
        return None
    return receipt


# A delivery still pending this long after it was recorded lost its task (a broker restarted,
# a worker killed before it acknowledged): the sweep queues it again. After a day it is left
# for a person to look at (it is listed as pending in the admin).
REQUEUE_AFTER = timedelta(minutes=5)
REQUEUE_UNTIL = timedelta(days=1)


def webhooks_requeue_pending(*, now: datetime | None = None) -> int:
    """Queue again the deliveries whose task was lost; returns how many. Applying is
    idempotent, so a delivery queued twice is applied once."""
    now = now or timezone.now()
    pending = ShopifyWebhookReceipt.objects.filter(
        outcome=ShopifyWebhookReceipt.Outcome.PENDING,
        received_at__lte=now - REQUEUE_AFTER,
        received_at__gte=now - REQUEUE_UNTIL,
    ).values_list("pk", flat=True)
    ids = list(pending)
    for pk in ids:
        dispatch.apply_shopify_webhook(pk)
    return len(ids)


def webhook_apply(*, receipt_id: int) -> ShopifyWebhookReceipt | None:
    """Apply a recorded delivery to the catalog. Idempotent: a delivery applied (or skipped)
    once is returned as it is."""
    with transaction.atomic():
        receipt = (
            ShopifyWebhookReceipt.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .filter(pk=receipt_id)
            .first()
        )
        if receipt is None or receipt.outcome != Outcome.PENDING:
            return receipt
        connection = (
            ShopifyConnection.objects.select_for_update()
            .filter(merchant_id=receipt.merchant_id, shop_domain=receipt.shop_domain)
            .first()
        )
        outcome: str
        if connection is None:
            outcome, error = Outcome.REFUSED, "the shop is no longer connected to this merchant"
        else:
            outcome, error = _apply(receipt, connection)
        receipt.outcome, receipt.error = outcome, error[:4000]
        receipt.processed_at = timezone.now()
        receipt.save(update_fields=["outcome", "error", "processed_at"])
    logger.info(
        "Shopify %s of product %s from %s: %s %s",
        receipt.topic,
        receipt.shopify_product_id,
        receipt.shop_domain,
        outcome,
        error,
    )
    return receipt


def _apply(receipt: ShopifyWebhookReceipt, connection: ShopifyConnection) -> tuple[str, str]:
    if receipt.topic == PRODUCTS_DELETE:
        return _delete(receipt)
    stale = _stale(receipt)
    if stale:
        return Outcome.STALE, stale
    # What the catalog calls this product, for a payload cut down by include_fields.
    known = _products(receipt).values_list("sku", "attributes__import_key").first()
    known_sku, known_key = known if known else (None, None)
    try:
        item = product_from_payload(
            json.loads(receipt.body),
            currency=connection.currency,
            known_sku=known_sku,
            known_key=known_key if isinstance(known_key, str) else None,
        )
    except PayloadRefused as error:
        return Outcome.REFUSED, str(error)
    report = catalog_import_parsed(
        merchant=receipt.merchant,
        parsed=ParseResult(products=[item], refused=[], format=IMPORT_FORMAT),
    )
    if report.refused:
        return Outcome.REFUSED, "; ".join(row.reason for row in report.refused)
    return Outcome.APPLIED, ""


def _products(receipt: ShopifyWebhookReceipt) -> QuerySet[Product]:
    """The merchant's products a create or update recorded with this Shopify product id."""
    return Product.objects.filter(
        merchant_id=receipt.merchant_id, attributes__shopify_id=str(receipt.shopify_product_id)
    )


def _stale(receipt: ShopifyWebhookReceipt) -> str:
    applied = ShopifyWebhookReceipt.objects.filter(
        merchant_id=receipt.merchant_id,
        shopify_product_id=receipt.shopify_product_id,
        outcome=Outcome.APPLIED,
    ).exclude(pk=receipt.pk)
    if applied.filter(topic=PRODUCTS_DELETE).exists():
        return "the product was deleted in Shopify after this change"
    if receipt.changed_at and applied.filter(changed_at__gt=receipt.changed_at).exists():
        return "a newer change of the product was applied already"
    return ""


def _delete(receipt: ShopifyWebhookReceipt) -> tuple[str, str]:
    found = list(_products(receipt).values_list("pk", "sku"))
    if found:
        products_delete(product_ids=[pk for pk, _ in found])
        for _, sku in found:
            # Again once this transaction commits: a storefront request in between would
            # have cached the product as it still was.
            transaction.on_commit(partial(product_forget, merchant_id=receipt.merchant_id, sku=sku))
    return Outcome.APPLIED, ""


def _moment(raw: str) -> datetime | None:
    """An ISO 8601 header value (X-Shopify-Triggered-At) as an aware datetime, if it is one."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
