"""Signed shopper tokens: how a merchant's backend tells Scenecart which shopper is watching.

The merchant's server calls ``shopper_token_issue`` (or the documented endpoint built on it) for
a shopper it knows, and puts the token in the page (``st=`` on the video lookup). A token names
the merchant's own shopper id, expires, and is signed with Django's ``SECRET_KEY`` salted with
the merchant's ``shopper_token_secret``: a token from one shop is worthless at another, and
rotating one shop's secret revokes only its tokens.
"""

from dataclasses import dataclass

from django.core import signing

from catalog.models import Merchant

DEFAULT_MAX_AGE = 24 * 60 * 60


class ShopperTokenError(ValueError):
    """A token was forged, expired, or belongs to another merchant; the message says which."""


@dataclass(frozen=True, slots=True)
class ShopperToken:
    merchant_slug: str
    external_id: str


def _salt(merchant: Merchant) -> str:
    return f"scenecart.shopper:{merchant.pk}:{merchant.shopper_token_secret}"


def shopper_token_issue(*, merchant: Merchant, external_id: str) -> str:
    if not external_id:
        raise ValueError("A shopper token needs the merchant's shopper id.")
    return signing.dumps(
        {"m": merchant.slug, "s": external_id}, salt=_salt(merchant), compress=True
    )


def shopper_token_read(
    *, merchant: Merchant, token: str, max_age: int = DEFAULT_MAX_AGE
) -> ShopperToken:
    """The shopper a token names, if ``merchant`` signed it less than ``max_age`` seconds ago."""
    try:
        payload = signing.loads(token, salt=_salt(merchant), max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ShopperTokenError("The shopper token has expired.") from exc
    except signing.BadSignature as exc:
        raise ShopperTokenError(
            f"The shopper token is not one {merchant.slug!r} signed (forged, altered or another shop's)."
        ) from exc
    if payload.get("m") != merchant.slug or not payload.get("s"):
        raise ShopperTokenError(f"The shopper token was not issued for {merchant.slug!r}.")
    return ShopperToken(merchant_slug=payload["m"], external_id=str(payload["s"]))
