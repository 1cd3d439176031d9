import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import CatalogLookupError, merchant_get, product_get
from rendering.contact_sheet import DEFAULT_CELL_WIDTH, contact_sheet_ensure
from rendering.profiles import UnknownAspect, profile_for


class Command(BaseCommand):
    help = (
        "Write a product's contact sheet: its personalized scene for every climate (rows) and "
        "aesthetic (columns) as one PNG, drawn once and then reused from storage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        parser.add_argument("--sku", required=True)
        parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
        parser.add_argument("--aspect", default="16:9", help="16:9, 9:16 or 1:1")
        parser.add_argument(
            "--cell-width", type=int, default=DEFAULT_CELL_WIDTH, help="pixels per cell"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **options: Any) -> None:
        out: Path = options["out"]
        started = time.perf_counter()
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
            product = product_get(merchant=merchant, sku=str(options["sku"]))
            aspect = profile_for(str(options["aspect"])).aspect
            sheet = contact_sheet_ensure(
                product=product,
                aspect=aspect,
                cell_width=int(options["cell_width"]),
            )
        except (CatalogLookupError, UnknownAspect, ValueError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        partial = out.with_name(f".{out.name}.part")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(sheet.png)
            partial.replace(out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        elapsed = time.perf_counter() - started
        width, height = sheet.size
        summary = {
            "merchant": merchant.slug,
            "sku": product.sku,
            "aspect": aspect,
            "rows": sheet.rows,
            "columns": sheet.columns,
            "width": width,
            "height": height,
            "bytes": len(sheet.png),
            "stored_as": sheet.name,
            "reused": sheet.reused,
            "elapsed_seconds": round(elapsed, 3),
            "out": str(out),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        verb = "Reused" if sheet.reused else "Drew"
        self.stdout.write(
            f"{verb} contact sheet of {product.sku} ({aspect}): {sheet.rows}×{sheet.columns} "
            f"cells, {width}×{height} px, {len(sheet.png) / 1024:.0f} KiB in {elapsed:.2f} s "
            f"→ {out}"
        )
