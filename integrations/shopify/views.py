"""``POST /integrations/shopify/webhooks``: where a connected shop's product webhooks arrive.

Checked in this order, and nothing is recorded unless every check passes: the body's size
(413), the shop (``X-Shopify-Shop-Domain``, 404 for a shop no merchant connected), the signature
over the raw body (``X-Shopify-Hmac-Sha256``, 401), the topic (``X-Shopify-Topic``: one the
catalog does not follow is answered 200 and dropped), the webhook id (400 without one) and the
body (400 unless a JSON object with the product's id). A delivery that passes is recorded and
answered 200 at once; a worker applies it (``integrations.shopify.webhooks``).
"""

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .connections import TOPICS, connection_for_shop, webhook_secret
from .products import PayloadRefused
from .signatures import signature_valid
from .webhooks import Delivery, webhook_receive

logger = logging.getLogger(__name__)

# A product with Shopify's maximum of variants and images is well under this; a larger body is
# refused before it is read.
MAX_BODY_BYTES = 5 * 1024 * 1024


def _answer(code: int, **body: str) -> JsonResponse:
    return JsonResponse(body, status=code)


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> JsonResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _answer(400, error="Content-Length is not a number.")
    if length > MAX_BODY_BYTES:
        return _answer(413, error=f"The body is larger than {MAX_BODY_BYTES} bytes.")
    # Read from the stream, not request.body, whose own limit (DATA_UPLOAD_MAX_MEMORY_SIZE)
    # would answer 400 instead of saying what is wrong.
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, error=f"The body is larger than {MAX_BODY_BYTES} bytes.")

    headers = request.headers
    shop_domain = headers.get("X-Shopify-Shop-Domain", "")
    connection = connection_for_shop(shop_domain=shop_domain) if shop_domain else None
    if connection is None:
        logger.warning("Shopify webhook for a shop no merchant connected: %r", shop_domain[:255])
        return _answer(404, error="No merchant connected this shop.")
    signature = headers.get("X-Shopify-Hmac-Sha256", "")
    if not signature_valid(
        body=body, secret=webhook_secret(connection=connection), signature=signature
    ):
        logger.warning("Shopify webhook for %s with a wrong signature", connection.shop_domain)
        return _answer(401, error="The X-Shopify-Hmac-Sha256 signature does not match the body.")

    topic = headers.get("X-Shopify-Topic", "")
    if topic not in TOPICS:
        return _answer(200, status="ignored", reason=f"Scenecart does not follow {topic!r}.")
    webhook_id = headers.get("X-Shopify-Webhook-Id", "").strip()
    if not webhook_id or len(webhook_id) > 255:
        return _answer(400, error="X-Shopify-Webhook-Id is missing.")
    delivery = Delivery(
        webhook_id=webhook_id,
        topic=topic,
        body=body,
        api_version=headers.get("X-Shopify-API-Version", ""),
        event_id=headers.get("X-Shopify-Event-Id", ""),
        triggered_at=headers.get("X-Shopify-Triggered-At", ""),
    )
    try:
        receipt = webhook_receive(connection=connection, delivery=delivery)
    except PayloadRefused as error:
        return _answer(400, error=f"The {topic} body cannot be read: {error}.")
    if receipt is None:
        return _answer(200, status="duplicate")
    return _answer(200, status="queued")
