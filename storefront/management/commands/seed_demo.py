import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog.demo import DEMO_SLUG
from storefront.demo import demo_shop_seed


class Command(BaseCommand):
    help = (
        "Create the demo merchant, its brand kit, products (with drawn photos), shoppers and "
        "bucket policy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--staff-password",
            help="Also create the merchant staff user 'demo' with this password (admin login).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: object, **options: Any) -> None:
        report, policy_created = demo_shop_seed(staff_password=options["staff_password"] or None)
        summary = {
            "merchant": DEMO_SLUG,
            "merchant_created": report.merchant_created,
            "products_created": report.products_created,
            "images_created": report.images_created,
            "shoppers_created": report.shoppers_created,
            "staff_created": report.staff_created,
            "policy_created": policy_created,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        if not any([report.merchant_created, report.products_created, report.images_created,
                    report.shoppers_created, report.staff_created, policy_created]):  # fmt: skip
            self.stdout.write(f"Demo merchant '{DEMO_SLUG}' is already complete; nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(
            f"Demo merchant '{DEMO_SLUG}': {report.products_created} products, "
            f"{report.images_created} images and {report.shoppers_created} shoppers created."
        ))  # fmt: skip
