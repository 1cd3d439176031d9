"""Connecting a merchant's Shopify shop: its domain, the secret its webhooks are signed with,
and the address to register them at.

The secret is what Shopify shows beside the webhooks it signs (Shopify admin → Settings →
Notifications → Webhooks: "Your webhooks will be signed with …"), or the app's client secret for
webhooks an app subscribes to. It is stored encrypted and never shown back.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from catalog.models import Merchant
from scenecart.encryption import decrypt, encrypt

from ..models import ShopifyConnection, shop_domain_normalize

# The topics the catalog follows; the merchant registers a webhook for each, in JSON.
TOPICS = ("products/create", "products/update", "products/delete")
MIN_SECRET_LENGTH = 8


def shopify_connection_set(
    *,
    merchant: Merchant,
    shop_domain: str,
    webhook_secret: str | None,
    currency: str | None = None,
) -> ShopifyConnection:
    """Connect the merchant's shop, or change its connection. ``webhook_secret=None`` keeps the
    stored secret (the admin's empty field); a new connection needs one. Raises
    ``ValidationError`` keyed by the field at fault."""
    domain = shop_domain_normalize(shop_domain)
    connection = ShopifyConnection.objects.filter(merchant=merchant).first()
    if connection is None:
        connection = ShopifyConnection(merchant=merchant)
    if ShopifyConnection.objects.filter(shop_domain=domain).exclude(merchant=merchant).exists():
        raise ValidationError({"shop_domain": f"{domain} is connected to another merchant."})
    connection.shop_domain = domain
    if currency is not None:
        connection.currency = currency.strip().upper()
    if webhook_secret is not None:
        secret = webhook_secret.strip()
        if not secret:
            raise ValidationError(
                {"webhook_secret": "Enter the secret the webhooks are signed with."}
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValidationError({"webhook_secret": "That is too short to be a webhook secret."})
        connection.encrypted_webhook_secret = encrypt(secret)
        connection.secret_hint = secret[-4:]
    elif not connection.encrypted_webhook_secret:
        raise ValidationError({"webhook_secret": "Enter the secret the webhooks are signed with."})
    connection.full_clean()
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        # Connected by another merchant between the check above and this save.
        raise ValidationError(
            {"shop_domain": f"{domain} is connected to another merchant."}
        ) from None
    return connection


def connection_for_shop(*, shop_domain: str) -> ShopifyConnection | None:
    return (
        ShopifyConnection.objects.select_related("merchant")
        .filter(shop_domain=shop_domain_normalize(shop_domain))
        .first()
    )


def webhook_secret(*, connection: ShopifyConnection) -> str:
    return decrypt(connection.encrypted_webhook_secret)


def webhook_path() -> str:
    return reverse("integrations:shopify-webhooks")


def webhook_url() -> str:
    """The absolute address to register in Shopify, from SCENECART_PUBLIC_URL; empty when it is
    not set (then the merchant registers ``webhook_path()`` on the installation's public host)."""
    base = settings.SCENECART_PUBLIC_URL.rstrip("/")
    return f"{base}{webhook_path()}" if base else ""
