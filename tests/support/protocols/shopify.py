"""Shopify's side of a webhook, as Shopify documents it: a shop that POSTs deliveries over real
HTTP to the address a merchant registered.

From shopify.dev ("Webhooks delivery structure", "Verify webhook deliveries") and the headers
Shopify's own library reads (shopify-api-js ``ShopifyHeader``): every delivery is a POST with a
JSON body (by default the full REST resource of the topic) and the headers ``X-Shopify-Topic``,
``X-Shopify-Hmac-Sha256`` (the base64 HMAC-SHA256 of the raw body, keyed with the webhook
secret), ``X-Shopify-Shop-Domain``, ``X-Shopify-Webhook-Id`` (one per delivery, the key to
ignore repeats by), ``X-Shopify-API-Version``, ``X-Shopify-Triggered-At`` and
``X-Shopify-Event-Id``. A ``products/delete`` body carries only the product's ``id``.

The signature is computed here from that description, not with the code under test.
"""

import base64
import copy
import hashlib
import hmac
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

API_VERSION = "2026-01"
_ids = itertools.count(9554194432293)


def product_payload(
    *,
    handle: str = "stormline-rain-jacket",
    title: str = "Stormline Rain Jacket",
    body_html: str = "<p>A <strong>waterproof</strong> shell for wet commutes.</p>",
    price: str = "129.00",
    compare_at_price: str | None = None,
    sku: str = "JACKET-M",
    images: list[str] | None = None,
    status: str = "active",
    tags: str = "rain, outerwear, Waterproof",
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    """A product as the REST product resource (and so a products/create or update webhook)
    carries it: two variants of one option, images with src/position/alt."""
    product_id = next(_ids)
    moment = (updated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    variant_ids = [next(_ids), next(_ids)]
    return {
        "id": product_id,
        "title": title,
        "body_html": body_html,
        "vendor": "Northfold",
        "product_type": "Apparel > Outerwear",
        "created_at": moment,
        "handle": handle,
        "updated_at": moment,
        "published_at": moment,
        "template_suffix": None,
        "published_scope": "web",
        "tags": tags,
        "status": status,
        "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "variants": [
            {
                "id": variant_id,
                "product_id": product_id,
                "title": size,
                "price": price,
                "sku": f"{sku}" if position == 1 else f"{sku}-{size}",
                "position": position,
                "inventory_policy": "deny",
                "compare_at_price": compare_at_price,
                "fulfillment_service": "manual",
                "inventory_management": "shopify",
                "option1": size,
                "option2": None,
                "option3": None,
                "created_at": moment,
                "updated_at": moment,
                "taxable": True,
                "barcode": "0840119500017" if position == 1 else "",
                "grams": 620,
                "weight": 0.62,
                "weight_unit": "kg",
                "inventory_item_id": variant_id + 1,
                "inventory_quantity": 12,
                "old_inventory_quantity": 12,
                "requires_shipping": True,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                "image_id": None,
            }
            for position, (variant_id, size) in enumerate(
                zip(variant_ids, ["M", "L"], strict=True), start=1
            )
        ],
        "options": [
            {
                "id": next(_ids),
                "product_id": product_id,
                "name": "Size",
                "position": 1,
                "values": ["M", "L"],
            }
        ],
        "images": [
            {
                "id": image_id,
                "alt": f"{title}, view {position}",
                "position": position,
                "product_id": product_id,
                "created_at": moment,
                "updated_at": moment,
                "admin_graphql_api_id": f"gid://shopify/ProductImage/{image_id}",
                "width": 64,
                "height": 48,
                "src": src,
                "variant_ids": [],
            }
            for position, (image_id, src) in enumerate(
                ((next(_ids), src) for src in images or []), start=1
            )
        ],
        "image": None,
        "media": [],
    }


def changed(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The payload after the merchant edited it in Shopify: ``price`` and ``compare_at_price``
    go to every variant, anything else to the product; ``updated_at`` moves on."""
    edited = copy.deepcopy(payload)
    for name, value in fields.items():
        if name in ("price", "compare_at_price"):
            for variant in edited["variants"]:
                variant[name] = value
        else:
            edited[name] = value
    moment = datetime.fromisoformat(payload["updated_at"]) + timedelta(seconds=1)
    edited["updated_at"] = moment.isoformat(timespec="seconds")
    return edited


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    topic: str
    body: bytes
    headers: dict[str, str]
    response: requests.Response | None = None


@dataclass
class ShopifyShop:
    """A shop whose webhooks point at ``address`` and are signed with ``secret``."""

    domain: str
    secret: str
    address: str
    api_version: str = API_VERSION
    sent: list[Delivery] = field(default_factory=list)

    def deliver(
        self,
        topic: str,
        payload: Any,
        *,
        webhook_id: str | None = None,
        tamper: bytes | None = None,
        raw: bytes | None = None,
        secret: str | None = None,
    ) -> requests.Response:
        """POST one delivery as Shopify does and return the answer. ``webhook_id`` repeats an
        earlier delivery's id (Shopify's retry of the same webhook); ``tamper`` replaces the body
        after it was signed; ``raw`` is sent (and signed) instead of the JSON of ``payload``."""
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, secret or self.secret),
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        }
        sent = tamper if tamper is not None else body
        # Shopify gives up on an answer after five seconds.
        response = requests.post(self.address, data=sent, headers=headers, timeout=5)
        self.sent.append(Delivery(topic=topic, body=sent, headers=headers, response=response))
        return response

    def product_created(self, payload: dict[str, Any], **options: Any) -> requests.Response:
        return self.deliver("products/create", payload, **options)

    def product_updated(self, payload: dict[str, Any], **options: Any) -> requests.Response:
        return self.deliver("products/update", payload, **options)

    def product_deleted(self, product_id: int, **options: Any) -> requests.Response:
        return self.deliver("products/delete", {"id": product_id}, **options)
