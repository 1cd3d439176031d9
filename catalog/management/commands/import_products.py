import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.importers import ImportFormatError
from catalog.importing import FORMATS, catalog_import
from catalog.selectors import CatalogLookupError, merchant_get


class Command(BaseCommand):
    help = (
        "Import a Shopify product CSV or a Google Merchant Center feed (TSV, RSS or Atom): "
        "products are created or updated in place by SKU, refused rows are listed by line, and "
        "images named by URL are fetched by the workers. A partial file changes only what it "
        "carries: a Shopify column left out keeps its value, an empty cell clears it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        parser.add_argument("--format", choices=FORMATS, help="Guessed from the file if omitted.")
        parser.add_argument(
            "--supplemental",
            action="store_true",
            help=(
                "The file is a Google Merchant Center supplemental feed: it only updates "
                "products already imported (matched by id; an unknown id is refused), only the "
                "attributes it sets, and a blank value leaves the product's value. Not for "
                "Shopify CSV."
            ),
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["file"]
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
            report = catalog_import(
                merchant=merchant,
                content=path.read_bytes(),
                filename=path.name,
                format=options["format"] or None,
                supplemental=bool(options["supplemental"]),
            )
        except (CatalogLookupError, OSError, ImportFormatError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict()))
            return
        self.stdout.write(
            f"{path.name} ({report.format}): {len(report.created)} created, "
            f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.refused)} rows refused, {report.images_queued} images queued for the "
            "workers."
        )
        for sku, names in report.changes.items():
            self.stdout.write(f"  {sku}: {', '.join(names)} changed")
        for row in report.refused:
            self.stderr.write(f"  line {row.line}: {row.reason}")
