"""Signed shopper tokens: how a merchant's backend tells Scenecart which shopper is watching.

A token is ``<payload>.<signature>``: the payload is base64url (no padding) of the compact JSON
``{"m": "<merchant slug>", "s": "<the merchant's shopper id>", "exp": <unix seconds>}``; the
signature is base64url of HMAC-SHA256 over the payload text, keyed with the merchant's
``shopper_token_secret``. A merchant's server can make tokens itself with the few lines in the
README (no call to Scenecart per page view), or ask ``POST /api/v1/shopper-tokens``.

The secret is per merchant, so a token from one shop is worthless at another, and rotating one
shop's secret revokes only that shop's tokens.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings

from catalog.models import Merchant

MAX_TOKEN_LENGTH = 2048


class ShopperTokenError(ValueError):
    """A token was forged, expired, or belongs to another merchant; the message says which."""


@dataclass(frozen=True, slots=True)
class ShopperToken:
    merchant_slug: str
    external_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode("ascii"), hashlib.sha256).digest())


def shopper_token_issue(
    *, merchant: Merchant, external_id: str, ttl: int | None = None, now: float | None = None
) -> str:
    """A token naming ``external_id`` at ``merchant``, valid for ``ttl`` seconds
    (``SCENECART_SHOPPER_TOKEN_TTL`` by default)."""
    if not external_id:
        raise ValueError("A shopper token needs the merchant's shopper id.")
    lifetime = settings.SCENECART_SHOPPER_TOKEN_TTL if ttl is None else ttl
    expires = int((time.time() if now is None else now) + lifetime)
    body = json.dumps(
        {"m": merchant.slug, "s": external_id, "exp": expires},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    payload = _b64(body.encode())
    return f"{payload}.{_signature(merchant.shopper_token_secret, payload)}"


def shopper_token_read(*, merchant: Merchant, token: str, now: float | None = None) -> ShopperToken:
    """The shopper a token names, if ``merchant`` signed it and it has not expired."""
    payload, dot, signature = token.strip().partition(".")
    # Tokens are base64url: anything else (non-ASCII included) is not one of ours.
    if not dot or not payload or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise ShopperTokenError("The shopper token is malformed: expected <payload>.<signature>.")
    expected = _signature(merchant.shopper_token_secret, payload)
    if not hmac.compare_digest(expected, signature):
        raise ShopperTokenError(
            f"The shopper token is not one {merchant.slug!r} signed "
            "(forged, altered, another shop's, or signed with a rotated secret)."
        )
    try:
        claims = json.loads(_unb64(payload))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ShopperTokenError("The shopper token's payload is not valid JSON.") from exc
    if not isinstance(claims, dict) or claims.get("m") != merchant.slug:
        raise ShopperTokenError(f"The shopper token was not issued for {merchant.slug!r}.")
    shopper, expires = claims.get("s"), claims.get("exp")
    if not isinstance(shopper, str) or not shopper or not isinstance(expires, int):
        raise ShopperTokenError("The shopper token lacks its shopper id or expiry.")
    if expires <= (time.time() if now is None else now):
        raise ShopperTokenError("The shopper token has expired.")
    return ShopperToken(merchant_slug=merchant.slug, external_id=shopper, expires_at=expires)
