"""A merchant's connected Shopify shop, and the webhooks it delivered.

A connection holds what a delivery is checked with: the shop's ``myshopify.com`` domain, which
names the merchant a delivery is for, and the secret Shopify signs deliveries with, encrypted at
rest (``scenecart.encryption``) and never shown back; only its last characters stay readable, to
tell secrets apart. A receipt is one delivery: Shopify delivers at least once, so a repeat is
recognized by its webhook id, and the worker that applies it reads the body the shop signed.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models

from catalog.models import Merchant, currency_code

# A shop's permanent domain: Shopify's own check (shopify-api-js ``sanitizeShop``) is
# ``^[a-zA-Z0-9][a-zA-Z0-9-_]*\.myshopify\.com``; shop names are lowercase letters, digits and
# hyphens, and X-Shopify-Shop-Domain carries them lowercased.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def shop_domain_normalize(value: str) -> str:
    """A domain as the merchant may type it (" Acme.myshopify.com") as Shopify sends it."""
    return value.strip().lower()


def shop_domain_check(value: str) -> None:
    if not SHOP_DOMAIN.match(value):
        raise ValidationError(
            f"{value!r} is not a Shopify shop domain: enter the shop's permanent domain, "
            "<name>.myshopify.com (Shopify admin → Settings → Domains), e.g. "
            "acme-outdoor.myshopify.com."
        )


class ShopifyConnection(models.Model):
    """The merchant's Shopify shop, whose product webhooks keep the catalog in step."""

    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.CASCADE,
        related_name="shopify_connection",
        error_messages={"unique": "This merchant has a Shopify connection already; change it."},
    )
    shop_domain = models.CharField(
        max_length=255,
        unique=True,
        error_messages={"unique": "This shop is connected to another merchant."},
        validators=[shop_domain_check],
        help_text="The shop's permanent domain, e.g. acme-outdoor.myshopify.com.",
    )
    # Shopify's product payload has prices but never says in what currency: the shop's.
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[currency_code],
        help_text="The shop's currency (Shopify admin → Settings → Store details).",
    )
    encrypted_webhook_secret = models.TextField(editable=False)
    secret_hint = models.CharField(
        max_length=12, editable=False, help_text="The secret's last characters."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Shopify connection"

    def __str__(self) -> str:
        return f"{self.shop_domain} → {self.merchant}"


class ShopifyWebhookReceipt(models.Model):
    """One webhook delivery, stored as it came (the raw JSON body) and applied by a worker."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        APPLIED = "applied", "Applied to the catalog"
        STALE = "stale", "Skipped: a newer change was already applied"
        REFUSED = "refused", "Refused"

    webhook_id = models.CharField(max_length=255)
    topic = models.CharField(max_length=100)
    shop_domain = models.CharField(max_length=255)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="shopify_webhook_receipts"
    )
    api_version = models.CharField(max_length=20, blank=True)
    event_id = models.CharField(max_length=255, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    # The Shopify product the delivery is about, and when it changed (the payload's updated_at,
    # else X-Shopify-Triggered-At): retries bring old payloads, which must not undo newer ones.
    shopify_product_id = models.BigIntegerField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    body = models.TextField(help_text="The JSON body exactly as Shopify signed it.")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "Shopify webhook"
        ordering = ["-received_at"]
        constraints = [
            # Per shop, so one shop's deliveries can never shadow another's.
            models.UniqueConstraint(
                fields=["shop_domain", "webhook_id"], name="shopifywebhookreceipt_unique_delivery"
            )
        ]
        indexes = [
            models.Index(
                fields=["merchant", "shopify_product_id"], name="shopifyreceipt_product_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} from {self.shop_domain} ({self.get_outcome_display()})"
