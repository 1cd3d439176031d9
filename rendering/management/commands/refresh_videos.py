import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import CatalogLookupError, merchant_get
from rendering.freshness import videos_refresh


class Command(BaseCommand):
    help = (
        "Re-plan a shop's videos against its catalog and brand kit as they are now: only the "
        "segments whose inputs changed are rendered (by the workers), and each new video "
        "replaces its file when ready. Changes made in Scenecart do this by themselves; run it "
        "once after upgrading, or after editing the database by hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="the merchant's slug")
        parser.add_argument(
            "--sku", action="append", default=[], help="only this product (repeatable)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON summary")

    def handle(self, *args: object, **options: Any) -> None:
        try:
            merchant = merchant_get(slug=options["merchant"])
        except CatalogLookupError as exc:
            raise CommandError(f"--merchant: {exc}") from exc
        products = merchant.products.order_by("pk")
        if options["sku"]:
            products = products.filter(sku__in=options["sku"])
            missing = sorted(set(options["sku"]) - set(products.values_list("sku", flat=True)))
            if missing:
                raise CommandError(
                    f"--sku: {merchant.slug!r} has no product with SKU {', '.join(missing)}."
                )
        report = videos_refresh(
            merchant_id=merchant.pk,
            product_ids=list(products.values_list("pk", flat=True)),
            reason="re-planned by refresh_videos",
        )
        summary = {
            "merchant": merchant.slug,
            "videos": report.videos,
            "refreshing": report.refreshing,
            "unchanged": report.unchanged,
            "refused": report.refused,
            "segments_queued": len(report.segments_queued),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"{report.videos} video(s) of {merchant.slug} re-planned: "
                f"{report.refreshing} being re-made ({len(report.segments_queued)} segment(s) "
                f"queued for the workers), {report.unchanged} unchanged, "
                f"{report.refused} refused by the content policy."
            )
