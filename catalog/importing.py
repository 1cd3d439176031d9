"""Catalog imports: a merchant's export in, products upserted, images queued for workers.

Parsing (``catalog.importers``) is pure and reports refused rows by line. Here each parsed
product is written in its own transaction, matched on its SKU (a Shopify handle when the
export has no variant SKUs, or the handle it was imported under when the file has no SKU
column), so a re-import updates in place and an unchanged product is not touched at all. Image
URLs become ``ProductImageSource`` rows fetched by the ``catalog.fetch_product_image`` task;
the request that imports never waits on the network.

Partial re-imports change only what they carry. Each record names the fields its file carried
(``ImportedProduct.fields``; attributes by key), and an existing product gets those and nothing
else, by the platform's own rule:

- Shopify CSV: a column missing from the file leaves the field as it is; an empty cell in a
  present column clears it (help.shopify.com/en/manual/products/import-export/using-csv).
- Google primary feed: the item is the whole product, so what it lacks is cleared (a primary
  upload "deletes all existing product data and replaces it with the fields you send"); tags
  and status are no Google attributes, so a feed never touches them.
- Google supplemental feed (``supplemental=True``): "You can only use supplemental feeds to
  update existing products", matched by id, so an unknown id is refused and nothing is
  created; it overrides only the attributes it sets, and a blank value is "not set", leaving
  the product's value. Google keeps the two feeds apart; Scenecart keeps one product, so a
  later primary import overwrites what a supplemental one set (import both, primary first).

Images are only ever added (never removed) and only when the file has image columns.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import dispatch
from .fetch import FetchRefused, image_fetch
from .importers import (
    ImportedProduct,
    ImportedVariant,
    ImportFormatError,
    ParseResult,
    RefusedRow,
    parse_google_feed,
    parse_shopify_csv,
    sale_prices,
)
from .models import Merchant, Product, ProductImageSource
from .services import product_create, product_image_add, product_update

FORMATS = ("shopify", "google")
SUPPLEMENTAL_SHOPIFY = (
    "Only a Google Merchant Center feed can be supplemental. A Shopify product CSV already "
    "updates only the columns it has (a column left out keeps its value), so import it as it is."
)
# The order in which a product's changes are reported: what a merchant sees first, first.
CHANGE_ORDER = (
    "title", "price", "compare_at_price", "currency", "description", "category", "tags",
    "status", "images", "variants", "link",
)  # fmt: skip
# Attributes that record where a product came from, not what it is.
BOOKKEEPING_ATTRIBUTES = frozenset({"import_key"})


@dataclass
class ImportReport:
    format: str
    created: list[str] = field(default_factory=list)  # SKUs
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    images_queued: int = 0
    # SKU → what changed, for each updated product: product fields ("price"), "images",
    # "variants", "link", and other attributes by name ("vendor", "availability").
    changes: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "images_queued": self.images_queued,
            "refused": [{"line": r.line, "reason": r.reason} for r in self.refused],
            "changed_fields": {sku: list(names) for sku, names in self.changes.items()},
        }


def catalog_parse(
    *, content: bytes, filename: str, format: str | None = None, supplemental: bool = False
) -> ParseResult:
    """Parse an export as ``format`` ("shopify" or "google"), guessing from the content when
    it is not given. Raises ``ImportFormatError`` for a file that is neither, and for a
    ``supplemental`` file that is not a Google feed."""
    if format is None:
        head = content[:4096].lstrip(b"\xef\xbb\xbf").lower()
        format = "shopify" if b"handle" in head.split(b"\n", 1)[0] else "google"
    if format == "shopify":
        if supplemental:
            raise ImportFormatError(SUPPLEMENTAL_SHOPIFY)
        return parse_shopify_csv(content)
    if format == "google":
        return parse_google_feed(content, filename=filename, supplemental=supplemental)
    raise ImportFormatError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")


def catalog_import(
    *,
    merchant: Merchant,
    content: bytes,
    filename: str,
    format: str | None = None,
    supplemental: bool = False,
) -> ImportReport:
    """Import an export into ``merchant``'s catalog; returns what happened, row by row.
    ``supplemental``: the file is a Google supplemental feed (see the module docstring)."""
    parsed = catalog_parse(
        content=content, filename=filename, format=format, supplemental=supplemental
    )
    return catalog_import_parsed(merchant=merchant, parsed=parsed, supplemental=supplemental)


def catalog_import_parsed(
    *, merchant: Merchant, parsed: ParseResult, supplemental: bool = False
) -> ImportReport:
    """Upsert parsed records into ``merchant``'s catalog, each in its own transaction.

    Records may come from a parser or be built by hand (a webhook): an existing product gets
    the fields each record carries, a new one needs a title and a price, and with
    ``supplemental`` no product is created at all."""
    report = ImportReport(format=parsed.format, refused=list(parsed.refused))
    now = timezone.now()
    for item in parsed.products:
        try:
            with transaction.atomic():
                result = _upsert(merchant=merchant, item=item, supplemental=supplemental, now=now)
        except _Refused as exc:
            report.refused.append(RefusedRow(line=item.lines[0], reason=str(exc)))
            continue
        except (ValidationError, IntegrityError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            report.refused.append(RefusedRow(line=item.lines[0], reason="; ".join(messages)))
            continue
        getattr(report, result.outcome).append(result.sku)
        if result.changes:
            report.changes[result.sku] = result.changes
        report.images_queued += result.queued
        report.refused += [RefusedRow(line=item.lines[0], reason=note) for note in result.notes]
    report.refused.sort(key=lambda row: row.line)
    return report


class _Refused(Exception):
    """A record that cannot be imported as it stands; the message says why."""


@dataclass(frozen=True)
class _Upserted:
    outcome: str  # "created", "updated" or "unchanged": an ImportReport list.
    sku: str
    changes: list[str]
    queued: int
    notes: list[str]  # Kept, but something the merchant should know about.


def _upsert(
    *, merchant: Merchant, item: ImportedProduct, supplemental: bool, now: datetime
) -> _Upserted:
    product = _existing(merchant=merchant, item=item)
    if product is None:
        if supplemental:
            raise _Refused(
                f"id {item.key!r} matches no product in this shop: a supplemental feed only "
                "updates products that are already imported (from a primary feed) and never "
                "adds one"
            )
        product = _create(merchant=merchant, item=item)
        return _Upserted("created", product.sku, [], _image_sources(product=product, item=item), [])

    wanted, notes = _wanted(product=product, item=item, supplemental=supplemental, now=now)
    changed = {
        name: value for name, value in wanted.items() if _differs(getattr(product, name), value)
    }
    changes = [name for name in changed if name != "attributes"]
    if "attributes" in changed:
        changes += _changed_attributes(product.attributes, changed["attributes"])
    if changed:
        product_update(product=product, **changed)
    queued = _image_sources(product=product, item=item)
    if queued:
        changes.append("images")
    rank = {name: index for index, name in enumerate(CHANGE_ORDER)}
    changes.sort(key=lambda name: rank.get(name, len(rank)))
    return _Upserted("updated" if changes else "unchanged", product.sku, changes, queued, notes)


def _existing(*, merchant: Merchant, item: ImportedProduct) -> Product | None:
    """The product a record updates: by SKU; when its file had no SKU column (its SKU is then
    a stand-in, the handle), first by the handle it was imported under, as its SKU may be a
    real one from an earlier, complete export."""
    products = Product.objects.filter(merchant=merchant)
    if "sku" not in item.fields:
        product = products.filter(attributes__import_key=item.key).order_by("pk").first()
        if product is not None:
            return product
    return products.filter(sku=item.sku).first()


def _create(*, merchant: Merchant, item: ImportedProduct) -> Product:
    missing = [
        name
        for name, present in (
            ("title", "title" in item.fields and item.title),
            ("price", "price" in item.fields and item.price is not None),
        )
        if not present
    ]
    if missing or item.price is None:
        raise _Refused(
            f"{item.key!r} is not in this shop's catalog yet, and the file gives it no "
            f"{' and no '.join(missing)}: a new product needs a title and a price"
        )
    attributes: dict[str, Any] = {key: value for key, value in item.attributes.items() if value}
    attributes["import_key"] = item.key
    attributes["variants"] = _variants([], item.variants, merge_options=False)
    if item.link:
        attributes["link"] = item.link
    return product_create(
        merchant=merchant,
        sku=item.sku,
        title=item.title,
        description=item.description,
        price=item.price,
        compare_at_price=_on_sale(item.price, item.compare_at_price),
        currency=item.currency,
        category=item.category,
        tags=list(item.tags),
        status=item.status,
        attributes=attributes,
    )


def _wanted(
    *, product: Product, item: ImportedProduct, supplemental: bool, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """The values ``item`` sets on ``product`` (changed or not), and notes for the merchant."""
    carried = item.fields
    wanted: dict[str, Any] = {
        name: value
        for name, value in (
            ("title", item.title),
            ("description", item.description),
            ("category", item.category),
            ("tags", list(item.tags)),
            ("status", item.status),
            ("compare_at_price", item.compare_at_price),
        )
        if name in carried
    }
    if "price" in carried and item.price is not None:
        wanted["price"], wanted["currency"] = item.price, item.currency
    notes: list[str] = []
    if supplemental:
        prices, note = _supplemental_prices(product=product, item=item, now=now)
        wanted.update(prices)
        notes += [note] if note else []
    compare_at = wanted.get("compare_at_price", product.compare_at_price)
    if compare_at is not None:
        wanted["compare_at_price"] = _on_sale(wanted.get("price", product.price), compare_at)
    attributes = _attributes(product=product, item=item, supplemental=supplemental)
    variants = attributes.get("variants")
    if supplemental and "price" in wanted and isinstance(variants, list) and variants:
        # A Google item is one variant, priced as the product: at the sale price during a sale.
        attributes["variants"] = [{**variants[0], "price": str(wanted["price"])}, *variants[1:]]
    wanted["attributes"] = attributes
    return wanted, notes


def _supplemental_prices(
    *, product: Product, item: ImportedProduct, now: datetime
) -> tuple[dict[str, Any], str]:
    """Price and compare-at price after a supplemental item: its regular price and sale
    attributes where it sets them, the product's (an earlier feed's) where it does not."""
    sale_keys = ("sale_price", "sale_price_effective_date")
    if "price" not in item.fields and not any(key in item.attributes for key in sale_keys):
        return {}, ""
    if "price" in item.fields and item.price is not None:
        regular, currency = item.price, item.currency
    else:
        # What an earlier import made: the compare-at price is the regular one during a sale.
        regular = Decimal(str(product.compare_at_price or product.price))
        currency = product.currency
    terms = {key: item.attributes.get(key, product.attributes.get(key, "")) for key in sale_keys}
    price, compare_at, problem = sale_prices(
        regular=regular,
        currency=currency,
        sale_price=str(terms["sale_price"]),
        effective_date=str(terms["sale_price_effective_date"]),
        now=now,
    )
    return {"price": price, "currency": currency, "compare_at_price": compare_at}, problem


def _on_sale(price: Decimal, compare_at: Decimal | None) -> Decimal | None:
    """A compare-at price at or below the price announces no sale: it is dropped."""
    if compare_at is None or Decimal(str(compare_at)) <= Decimal(str(price)):
        return None
    return compare_at


def _attributes(*, product: Product, item: ImportedProduct, supplemental: bool) -> dict[str, Any]:
    """The product's attributes with the record's carried ones applied ("" removes one);
    attributes the record does not carry (the merchant's own "claim", say) stay."""
    attributes: dict[str, Any] = dict(product.attributes or {})
    for key, value in item.attributes.items():
        if value:
            attributes[key] = value
        else:
            attributes.pop(key, None)
    attributes["import_key"] = item.key
    if "variants" in item.fields:
        attributes["variants"] = _variants(
            attributes.get("variants"), item.variants, merge_options=supplemental
        )
    if "link" in item.fields:
        if item.link:
            attributes["link"] = item.link
        else:
            attributes.pop("link", None)
    return attributes


def _variants(
    stored: object, carried: list[ImportedVariant], *, merge_options: bool
) -> list[dict[str, Any]]:
    """The product's variants with the carried ones applied, in order.

    A file's variants are matched to the stored ones by position (a Shopify handle's rows keep
    their order; a Google item is one variant), and each gets only the keys its file carried:
    a CSV with Variant Price but no option columns changes prices and keeps the options.
    Stored variants past the file's are kept. Options are replaced as a whole, except from a
    supplemental feed, which sets only the option attributes it has (color, size…)."""
    kept = [dict(v) for v in stored if isinstance(v, dict)] if isinstance(stored, list) else []
    merged: list[dict[str, Any]] = []
    for index, variant in enumerate(carried):
        entry: dict[str, Any] = kept[index] if index < len(kept) else {"sku": ""}
        if "sku" in variant.fields:
            entry["sku"] = variant.sku
        if "price" in variant.fields and variant.price is not None:
            entry["price"] = str(variant.price)
        if "options" in variant.fields:
            options = dict(entry.get("options") or {}) if merge_options else {}
            entry["options"] = {**options, **variant.options}
        entry.setdefault("options", {})
        merged.append(entry)
    return merged + kept[len(carried) :]


def _changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    keys = dict.fromkeys([*before, *after])
    return [
        key
        for key in keys
        if key not in BOOKKEEPING_ATTRIBUTES and before.get(key) != after.get(key)
    ]


def _differs(current: object, wanted: object) -> bool:
    if isinstance(wanted, Decimal):
        return current is None or Decimal(str(current)) != wanted
    if isinstance(current, Decimal):
        return wanted is None or Decimal(str(wanted)) != current
    return current != wanted


def _image_sources(*, product: Product, item: ImportedProduct) -> int:
    """Record the product's image URLs when its file had image columns; queue a fetch for
    each one not seen before."""
    if "images" not in item.fields:
        return 0
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
