import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import CatalogLookupError, merchant_get
from integrations.shopify.connections import (
    TOPICS,
    shopify_connection_set,
    webhook_path,
    webhook_url,
)

# The argument each of the service's fields comes from, to name it in an error.
ARGUMENTS = {
    "shop_domain": "--shop-domain",
    "webhook_secret": "--webhook-secret",
    "currency": "--currency",
}


class Command(BaseCommand):
    help = (
        "Connect a merchant's Shopify shop (or change its connection) and print the webhook "
        "address to register in Shopify for products/create, products/update and "
        "products/delete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="The merchant's slug.")
        parser.add_argument(
            "--shop-domain", required=True, help="The shop's <name>.myshopify.com domain."
        )
        parser.add_argument(
            "--webhook-secret",
            required=True,
            help="The secret Shopify signs the webhooks with (stored encrypted).",
        )
        parser.add_argument(
            "--currency",
            help="The shop's currency, e.g. EUR (Shopify's payloads never name it); USD for a "
            "new connection when omitted.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: object, **options: Any) -> None:
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
        except CatalogLookupError as exc:
            raise CommandError(f"--merchant: {exc}") from exc
        try:
            connection = shopify_connection_set(
                merchant=merchant,
                shop_domain=str(options["shop_domain"]),
                webhook_secret=str(options["webhook_secret"]),
                currency=options["currency"],
            )
        except ValidationError as exc:
            raise CommandError(_named(exc)) from exc
        url = webhook_url()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "merchant": merchant.slug,
                        "shop_domain": connection.shop_domain,
                        "currency": connection.currency,
                        "webhook_url": url or None,
                        "webhook_path": webhook_path(),
                        "topics": list(TOPICS),
                        "format": "json",
                    }
                )
            )
            return
        self.stdout.write(f"{connection.shop_domain} is connected to {merchant.slug}.")
        if url:
            self.stdout.write(f"Register this webhook URL in Shopify: {url}")
            if not url.startswith("https://"):
                self.stderr.write("  Shopify delivers webhooks only to https:// addresses.")
        else:
            self.stdout.write(
                "Register this webhook URL in Shopify: https://<this installation's public "
                f"host>{webhook_path()}\n  (SCENECART_PUBLIC_URL is not set; set it to this "
                "installation's public address to print the URL in full)."
            )
        self.stdout.write(
            "Topics, one webhook each, format JSON: "
            + ", ".join(TOPICS)
            + "\n(Shopify admin → Settings → Notifications → Webhooks → Create webhook.)"
        )


def _named(error: ValidationError) -> str:
    """The service's errors, each with the argument it is about."""
    if not hasattr(error, "error_dict"):
        return "; ".join(error.messages)
    return "; ".join(
        f"{ARGUMENTS.get(field, '--' + field.replace('_', '-'))}: {message}"
        for field, errors in error.message_dict.items()
        for message in errors
    )
