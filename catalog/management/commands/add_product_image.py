from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import CatalogLookupError, merchant_get, product_get
from catalog.services import product_image_add


class Command(BaseCommand):
    help = "Add a photo to a product (validated, content-hashed; the same file twice is kept once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        parser.add_argument("--sku", required=True)
        parser.add_argument("--alt", default="")
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["file"]
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
            product = product_get(merchant=merchant, sku=str(options["sku"]))
            content = path.read_bytes()
            image = product_image_add(
                product=product, filename=path.name, content=content, alt=str(options["alt"])
            )
        except (CatalogLookupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"{product.sku}: image {image.position} ({image.width}×{image.height}, "
            f"sha256 {image.content_hash[:12]})"
        )
