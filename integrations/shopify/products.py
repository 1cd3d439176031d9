"""A Shopify product webhook's payload as the records the catalog import takes.

The payload is Shopify's REST product resource ("By default, the body is the full REST resource
payload for the topic", shopify.dev, Webhooks delivery structure): ``id``, ``handle``, ``title``,
``body_html``, ``vendor``, ``product_type``, ``status`` (active, draft, archived), ``tags`` (one
comma-separated string), ``updated_at``, ``variants`` (``sku``, ``price`` and
``compare_at_price`` as decimal strings, ``position``, ``option1``–``option3``, ``barcode``),
``options`` (``name``, ``position``) and ``images`` (``src``, ``position``, ``alt``).

It becomes the ``ImportedProduct`` a Shopify CSV export of the same product becomes, by the same
rules (``catalog.importers.shopify``): the product's SKU is its first variant's, else its
handle; the body is reduced to safe text; image addresses are kept for the workers to fetch.
A subscription may name ``include_fields`` and deliver only some keys: the record then names
the fields the payload carried (``ImportedProduct.fields``) and the import leaves the others
as they are. Pure: no database, no network.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from catalog.importers import ImportedImage, ImportedProduct, ImportedVariant
from catalog.importers.records import (
    MAX_CATEGORY_LENGTH,
    MAX_SKU_LENGTH,
    MAX_TITLE_LENGTH,
    clean_line,
    html_to_text,
    is_web_address,
    length_problem,
    ordered_images,
    parse_price,
    unique,
)
from catalog.importers.shopify import DEFAULT_OPTION, STATUSES

# What ProductImageSource.url and .alt keep.
MAX_IMAGE_URL_LENGTH = 2000
MAX_ALT_LENGTH = 255

# Which fields of the record (catalog.importers.records.PRODUCT_FIELDS) each payload key
# carries; a field no key carried keeps the product's value.
CARRIED_BY = {
    "title": {"title"},
    "body_html": {"description"},
    "product_type": {"category"},
    "tags": {"tags"},
    "status": {"status"},
    "images": {"images"},
    # Shopify prices a product by its variants; the first one's SKU names the product.
    "variants": {"sku", "price", "compare_at_price", "variants"},
}


class PayloadRefused(ValueError):
    """The payload cannot become a product; the message names the field and why."""


def product_id(payload: object) -> int:
    """The Shopify id of the product a payload is about (every product topic carries it)."""
    if not isinstance(payload, dict):
        raise PayloadRefused("the body is not a JSON object")
    value = payload.get("id")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadRefused("the product has no id")
    return value


def changed_at(payload: Mapping[str, Any]) -> datetime | None:
    """When the product last changed (``updated_at``, ISO 8601 with its offset), if it says."""
    raw = payload.get("updated_at")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def product_from_payload(
    payload: Mapping[str, Any],
    *,
    currency: str,
    known_sku: str | None = None,
    known_key: str | None = None,
) -> ImportedProduct:
    """The record of a ``products/create`` or ``products/update`` payload.

    ``known_sku`` and ``known_key`` are what the catalog already has for this Shopify product:
    a payload without ``variants`` or ``handle`` (include_fields) cannot name them. Raises
    ``PayloadRefused``.
    """
    shopify_id = product_id(payload)
    handle = _text(payload, "handle")
    problems: list[str] = []

    title = clean_line(_text(payload, "title"))
    if "title" in payload and not title:
        problems.append("title is empty")
    problems.append(length_problem(title, "title", MAX_TITLE_LENGTH) or "")
    category = clean_line(_text(payload, "product_type"))
    problems.append(length_problem(category, "product_type", MAX_CATEGORY_LENGTH) or "")
    raw_status = _text(payload, "status") or "active"
    status = STATUSES.get(raw_status.casefold(), "")
    if not status:
        problems.append(f"status {raw_status!r} is not one of active, draft, archived")

    option_names = _option_names(payload.get("options"))
    variants: list[ImportedVariant] = []
    raw_variants = _by_position(payload.get("variants"))
    if "variants" in payload:
        if not raw_variants:
            problems.append("variants is empty: a Shopify product has at least one variant")
        else:
            for index, raw in enumerate(raw_variants):
                try:
                    variants.append(_variant(raw, index, option_names))
                except PayloadRefused as error:
                    problems.append(str(error))
    if variants:
        sku = variants[0].sku or handle
    elif known_sku:
        sku = known_sku
    elif "variants" in payload:
        sku = ""
    else:
        problems.append(
            "the payload has no variants, so the product's SKU and price are unknown; include "
            "variants in the webhook subscription's fields"
        )
        sku = ""
    if variants and not sku:
        problems.append("the product has neither a variant SKU nor a handle")
    problems.append(length_problem(sku, "SKU", MAX_SKU_LENGTH) or "")

    problems = [problem for problem in problems if problem]
    if problems:
        raise PayloadRefused(f"product {shopify_id}: " + "; ".join(problems))

    first = variants[0] if variants else None
    carried = {name for key, names in CARRIED_BY.items() if key in payload for name in names}
    return ImportedProduct(
        key=handle or known_key or sku,
        title=title,
        description=html_to_text(_text(payload, "body_html")),
        price=first.price if first else None,
        compare_at_price=_on_sale(first),
        currency=currency,
        sku=sku,
        category=category,
        tags=_tags(payload.get("tags")),
        status=status,
        images=_images(payload.get("images")),
        variants=variants,
        link="",  # The payload names no storefront address.
        lines=(1, 1),  # A webhook is one product: there are no lines to point at.
        attributes=_attributes(payload, shopify_id, option_names, variants),
        fields=frozenset(carried),
    )


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def _by_position(items: object) -> list[dict[str, Any]]:
    """The objects of a list in Shopify's ``position`` order (1..n), those without one after,
    as sent; anything that is not a list of objects is none."""
    objects = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    return sorted(
        objects,
        key=lambda item: item["position"] if isinstance(item.get("position"), int) else 1 << 62,
    )


def _option_names(raw: object) -> list[str]:
    """The names of option1..option3 (``options`` by position)."""
    names = ["", "", ""]
    for index, option in enumerate(_by_position(raw)[:3]):
        names[index] = clean_line(_text(option, "name"))
    return names


def _variant(raw: dict[str, Any], index: int, option_names: list[str]) -> ImportedVariant:
    where = f"variants[{index}]"
    try:
        price = parse_price(_decimal_text(raw.get("price")), f"{where}.price")
        raw_compare = _decimal_text(raw.get("compare_at_price"))
        compare_at = parse_price(raw_compare, f"{where}.compare_at_price") if raw_compare else None
    except ValueError as error:
        raise PayloadRefused(str(error)) from None
    options: dict[str, str] = {}
    for number, name in enumerate(option_names, start=1):
        value = clean_line(_decimal_text(raw.get(f"option{number}")))
        if value and (name, value) != DEFAULT_OPTION:
            options[name or f"Option{number}"] = value
    return ImportedVariant(
        sku=clean_line(_decimal_text(raw.get("sku"))),
        price=price,
        compare_at_price=compare_at,
        options=options,
        line=1,
    )


def _decimal_text(value: object) -> str:
    """A price or code as its text: Shopify sends strings ("29.99"); older payloads numbers."""
    if value is None or isinstance(value, bool):
        return ""
    return value if isinstance(value, str) else str(value)


def _on_sale(variant: ImportedVariant | None) -> Decimal | None:
    """The price before the sale: a compare-at price that is not above the price is no sale
    (Shopify shows the struck-through price only when it is higher; "0.00" means none)."""
    if variant is None or variant.price is None or variant.compare_at_price is None:
        return None
    return variant.compare_at_price if variant.compare_at_price > variant.price else None


def _tags(raw: object) -> list[str]:
    parts = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return unique([clean_line(part) for part in parts if isinstance(part, str)])


def _images(raw: object) -> list[ImportedImage]:
    """http(s) images only, a worker fetches them later through the safe fetcher; an address
    longer than ProductImageSource.url keeps is skipped, an alt text cut to what it keeps."""
    candidates: list[tuple[int | None, str, str]] = []
    for image in _by_position(raw):
        src = _text(image, "src").strip()
        if not is_web_address(src) or len(src) > MAX_IMAGE_URL_LENGTH:
            continue
        position = image.get("position")
        candidates.append(
            (
                position if isinstance(position, int) and not isinstance(position, bool) else None,
                src,
                clean_line(_text(image, "alt"))[:MAX_ALT_LENGTH],
            )
        )
    return ordered_images(candidates)


def _attributes(
    payload: Mapping[str, Any],
    shopify_id: int,
    option_names: list[str],
    variants: list[ImportedVariant],
) -> dict[str, str]:
    """The attributes the payload carries ("" clears one), and always the Shopify id, which
    ``products/delete`` names the product by."""
    attributes = {"shopify_id": str(shopify_id)}
    if "vendor" in payload:
        attributes["vendor"] = clean_line(_text(payload, "vendor"))
    if variants:
        first = _by_position(payload["variants"])[0]
        attributes["gtin"] = clean_line(_decimal_text(first.get("barcode")))
        if "options" in payload:
            used = {name for variant in variants for name in variant.options}
            for number, name in enumerate(option_names, start=1):
                attributes[f"option{number}_name"] = name if name and name in used else ""
    return attributes
