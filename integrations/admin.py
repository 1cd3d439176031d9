"""The merchant's Shopify connection and the webhooks it delivered, in the admin, scoped to the
merchants the user belongs to (``catalog.admin.MerchantScopedAdmin``)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from catalog.admin import MerchantScopedAdmin

from .models import ShopifyConnection, ShopifyWebhookReceipt, shop_domain_normalize
from .shopify.connections import (
    MIN_SECRET_LENGTH,
    TOPICS,
    shopify_connection_set,
    webhook_path,
    webhook_url,
)


class ShopifyConnectionForm(forms.ModelForm):
    webhook_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "The secret Shopify signs the webhooks with (Shopify admin → Settings → "
            "Notifications → Webhooks), or your app's client secret. Stored encrypted; never "
            "shown again (only its last 4 characters). Leave empty to keep the stored secret."
        ),
    )

    class Meta:
        model = ShopifyConnection
        fields = ["merchant", "shop_domain", "currency"]

    def clean_shop_domain(self) -> str:
        return shop_domain_normalize(self.cleaned_data.get("shop_domain", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        secret = data.get("webhook_secret", "")
        if not secret and not self.instance.pk:
            self.add_error("webhook_secret", "Enter the secret the webhooks are signed with.")
        elif secret and len(secret) < MIN_SECRET_LENGTH:
            self.add_error("webhook_secret", "That is too short to be a webhook secret.")
        return data


@admin.register(ShopifyConnection)
class ShopifyConnectionAdmin(MerchantScopedAdmin):
    form = ShopifyConnectionForm
    list_display = ["shop_domain", "merchant", "currency", "shown_secret", "updated_at"]
    search_fields = ["shop_domain"]
    readonly_fields = ["shown_secret", "register", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A connection stays with its merchant: connect the shop again for another one.
        fields = list(super().get_readonly_fields(request, obj))
        return ["merchant", *fields] if obj is not None else fields

    @admin.display(description="Webhook secret")
    def shown_secret(self, obj: ShopifyConnection) -> str:
        return f"…{obj.secret_hint}" if obj.secret_hint else "—"

    @admin.display(description="Register in Shopify")
    def register(self, obj: ShopifyConnection) -> str:
        url = webhook_url()
        address = (
            format_html("<code>{}</code>", url)
            if url
            else format_html(
                "<code>https://&lt;this installation's public host&gt;{}</code> (set "
                "SCENECART_PUBLIC_URL to see the full address here)",
                webhook_path(),
            )
        )
        topics = format_html_join(", ", "<code>{}</code>", ((topic,) for topic in TOPICS))
        return format_html(
            "{}<br>as a JSON webhook for each of {} (Shopify admin → Settings → Notifications "
            "→ Webhooks → Create webhook).",
            address,
            topics,
        )

    def save_model(
        self, request: HttpRequest, obj: ShopifyConnection, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        saved = shopify_connection_set(
            merchant=obj.merchant if change else data["merchant"],
            shop_domain=data["shop_domain"],
            webhook_secret=data.get("webhook_secret") or None,
            currency=data["currency"],
        )
        obj.pk = saved.pk


@admin.register(ShopifyWebhookReceipt)
class ShopifyWebhookReceiptAdmin(MerchantScopedAdmin):
    """What the shop's webhooks did, read-only: a refused product says why."""

    list_display = ["received_at", "topic", "shopify_product_id", "outcome", "error"]
    list_filter = ["outcome", "topic"]
    search_fields = ["webhook_id", "=shopify_product_id"]
    readonly_fields = (
        "merchant", "shop_domain", "topic", "webhook_id", "event_id", "api_version",
        "triggered_at", "shopify_product_id", "changed_at", "received_at", "processed_at",
        "outcome", "error", "body",
    )  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
