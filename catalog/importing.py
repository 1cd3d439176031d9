"""Catalog imports: a merchant's export in, products upserted, images queued for workers.

Parsing (``catalog.importers``) is pure and reports refused rows by line. Here each parsed
product is written in its own transaction, matched on its SKU (a Shopify handle when the
export has no variant SKUs), so a re-import updates in place and an unchanged product is not
touched at all. Image URLs become ``ProductImageSource`` rows fetched by the
``catalog.fetch_product_image`` task; the request that imports never waits on the network.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TypedDict
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from . import dispatch
from .fetch import FetchRefused, image_fetch
from .importers import (
    ImportedProduct,
    ImportFormatError,
    ParseResult,
    RefusedRow,
    parse_google_feed,
    parse_shopify_csv,
)
from .models import Merchant, Product, ProductImageSource
from .services import product_create, product_image_add, product_update

FORMATS = ("shopify", "google")


@dataclass
class ImportReport:
    format: str
    created: list[str] = field(default_factory=list)  # SKUs
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    images_queued: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "images_queued": self.images_queued,
            "refused": [{"line": r.line, "reason": r.reason} for r in self.refused],
        }


def catalog_parse(*, content: bytes, filename: str, format: str | None = None) -> ParseResult:
    """Parse an export as ``format`` ("shopify" or "google"), guessing from the content when
    it is not given. Raises ``ImportFormatError`` for a file that is neither."""
    if format is None:
        head = content[:4096].lstrip(b"\xef\xbb\xbf").lower()
        format = "shopify" if b"handle" in head.split(b"\n", 1)[0] else "google"
    if format == "shopify":
        return parse_shopify_csv(content)
    if format == "google":
        return parse_google_feed(content, filename=filename)
    raise ImportFormatError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")


def catalog_import(
    *, merchant: Merchant, content: bytes, filename: str, format: str | None = None
) -> ImportReport:
    """Import an export into ``merchant``'s catalog; returns what happened, row by row."""
    parsed = catalog_parse(content=content, filename=filename, format=format)
    report = ImportReport(format=parsed.format, refused=list(parsed.refused))
    for item in parsed.products:
        try:
            with transaction.atomic():
                outcome, queued = _upsert(merchant=merchant, item=item)
        except (ValidationError, IntegrityError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            report.refused.append(RefusedRow(line=item.lines[0], reason="; ".join(messages)))
            continue
        getattr(report, outcome).append(item.sku)
        report.images_queued += queued
    report.refused.sort(key=lambda row: row.line)
    return report


class _ProductFields(TypedDict):
    """What an import sets on a product besides its SKU and attributes."""

    title: str
    description: str
    price: Decimal
    currency: str
    category: str
    tags: list[str]
    status: str


def _upsert(*, merchant: Merchant, item: ImportedProduct) -> tuple[str, int]:
    attributes = {
        **item.attributes,
        "import_key": item.key,
        "variants": [
            {"sku": v.sku, "price": str(v.price), "options": v.options} for v in item.variants
        ],
        **({"link": item.link} if item.link else {}),
    }
    fields: _ProductFields = {
        "title": item.title,
        "description": item.description,
        "price": item.price,
        "currency": item.currency,
        "category": item.category,
        "tags": list(item.tags),
        "status": item.status,
    }
    product = Product.objects.filter(merchant=merchant, sku=item.sku).first()
    if product is None:
        product = product_create(merchant=merchant, sku=item.sku, attributes=attributes, **fields)
        outcome = "created"
    else:
        wanted = {**fields, "attributes": {**product.attributes, **attributes}}
        changed = {
            name: value for name, value in wanted.items() if _differs(getattr(product, name), value)
        }
        if changed:
            product_update(product=product, **changed)
        outcome = "updated" if changed else "unchanged"
    queued = _image_sources(product=product, item=item)
    if queued and outcome == "unchanged":
        outcome = "updated"
    return outcome, queued


def _differs(current: object, wanted: object) -> bool:
    if isinstance(wanted, Decimal):
        return Decimal(str(current)) != wanted
    return current != wanted


def _image_sources(*, product: Product, item: ImportedProduct) -> int:
    """Record the product's image URLs; queue a fetch for each one not seen before."""
    queued: list[int] = []
    for image in item.images:
        source, created = ProductImageSource.objects.get_or_create(
            product=product,
            url=image.src,
            defaults={"position": image.position, "alt": image.alt},
        )
        if created:
            queued.append(source.pk)
    dispatch.fetch_product_images(queued)
    return len(queued)


def product_image_source_fetch(*, source: ProductImageSource) -> ProductImageSource:
    """Fetch one imported image and add it to its product (checked and normalized like any
    upload); a failure is recorded as the reason the image is missing. Idempotent."""
    if source.status == ProductImageSource.Status.FETCHED:
        return source
    try:
        fetched = image_fetch(source.url)
        name = PurePosixPath(urlsplit(fetched.url).path).name or "image"
        image = product_image_add(
            product=source.product,
            filename=name,
            content=fetched.content,
            alt=source.alt,
        )
    except (FetchRefused, ValidationError) as exc:
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        source.status, source.error = ProductImageSource.Status.FAILED, reason[:2000]
        source.save(update_fields=["status", "error", "updated_at"])
        return source
    source.status, source.error, source.image = ProductImageSource.Status.FETCHED, "", image
    source.save(update_fields=["status", "error", "image", "updated_at"])
    return source
