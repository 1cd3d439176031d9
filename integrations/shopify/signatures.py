"""Shopify's webhook signature: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw
request body, keyed with the shop's webhook secret (shopify.dev, "Verify webhook deliveries").

It is checked on the bytes as they arrived, before the body is parsed: a parsed and re-encoded
body would differ in spacing and key order, and nothing from an unverified body may be trusted.
"""

import base64
import binascii
import hashlib
import hmac


def signature_valid(*, body: bytes, secret: str, signature: str) -> bool:
    """Whether ``signature`` (the header's value) signs ``body`` with ``secret``; compared in
    constant time, so the answer's timing tells a forger nothing about the right digest."""
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)
