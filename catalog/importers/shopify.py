"""Shopify's product CSV, as Admin → Products → Export writes it.

One product spans several rows sharing a ``Handle``: the first row carries the product (Title,
Body, Vendor, Type, Tags, Published/Status) and its first variant; the rows after it carry more
variants (Option values, Variant SKU, Variant Price) and more images (Image Src, Image Position),
with every product column left empty.

A file may also be a cut-down export that updates products: Shopify's rule for that is that a
column missing from the file leaves the field as it is and an empty cell in a present column
clears it (help.shopify.com/en/manual/products/import-export/using-csv, "Overwriting product
details"). So each product records which fields its file carried (``ImportedProduct.fields``).
An update needs only the Handle and Title columns; Variant Price only matters to a handle that
is new, which the import service refuses without one (parsing cannot know which handles exist).
"""

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from catalog.importers.records import (
    MAX_CATEGORY_LENGTH,
    MAX_SKU_LENGTH,
    MAX_TITLE_LENGTH,
    ImportedProduct,
    ImportedVariant,
    ImportFormatError,
    ParseResult,
    RefusedRow,
    check_size,
    clean_line,
    decode_text,
    html_to_text,
    is_web_address,
    length_problem,
    ordered_images,
    parse_price,
    text_rows,
    unique,
)

# Shopify: "When you update products using a CSV file, the only required columns are Handle
# and Title" (help.shopify.com/en/manual/products/import-export/using-csv).
REQUIRED_COLUMNS = ("Handle", "Title")
OPTION_VALUE_COLUMNS = ("Option1 Value", "Option2 Value", "Option3 Value")
# A row with any of these filled describes a variant.
VARIANT_COLUMNS = (
    "Variant SKU",
    "Variant Price",
    "Variant Compare At Price",
    *OPTION_VALUE_COLUMNS,
)
# Where the product's category comes from, the first filled one winning.
CATEGORY_COLUMNS = ("Type", "Product Category", "Google Shopping / Google Product Category")
# Product attributes kept from the first row, by the column that carries each.
ATTRIBUTE_COLUMNS = {
    "vendor": "Vendor",
    "gtin": "Variant Barcode",
    "mpn": "Google Shopping / MPN",
    "gender": "Google Shopping / Gender",
    "age_group": "Google Shopping / Age Group",
    "condition": "Google Shopping / Condition",
}
# "unlisted" (Shopify 2025-10) is active but kept out of the shop's search: still for sale.
STATUSES = {"active": "active", "draft": "draft", "archived": "archived", "unlisted": "active"}
PUBLISHED = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# Shopify's option for a product that has no options; not a choice a shopper makes.
DEFAULT_OPTION = ("Title", "Default Title")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

Problems = dict[int, list[str]]


@dataclass(frozen=True)
class _Columns:
    """The header's columns (casefolded): what every product of the file carries."""

    names: frozenset[str]

    def has(self, *columns: str) -> bool:
        return any(column.casefold() in self.names for column in columns)


@dataclass(frozen=True)
class _Row:
    line: int  # Where the row starts, as an editor numbers lines (the header is line 1).
    last_line: int  # Where it ends: a quoted body may span several lines.
    cells: dict[str, str]  # Keyed by casefolded column name.
    problem: str = ""

    def get(self, column: str) -> str:
        return self.cells.get(column.casefold(), "").strip()


def parse_shopify_csv(content: bytes, *, currency: str = "USD") -> ParseResult:
    """Products of a Shopify product export; rows that cannot be imported are refused by line.

    ``currency`` is the shop's currency: Shopify's CSV has prices but never says in what.
    """
    if not _CURRENCY.match(currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code such as USD")
    check_size(content)
    refused: Problems = {}
    handles: dict[str, list[_Row]] = {}
    columns, file_rows = _rows(decode_text(content))
    for row in file_rows:
        handle = row.get("Handle")
        if row.problem:
            refused.setdefault(row.line, []).append(row.problem)
        elif not handle:
            refused.setdefault(row.line, []).append("Handle is missing")
        else:
            # Shopify keeps a handle's rows together, but a merchant who sorted the sheet did
            # not: grouping by Handle keeps products whole, in first-seen order.
            handles.setdefault(handle, []).append(row)

    products: list[ImportedProduct] = []
    sku_owners: dict[str, tuple[str, int]] = {}
    for handle, rows in handles.items():
        product, problems = _product(handle, rows, currency, columns)
        if product is not None:
            owner, owner_line = sku_owners.setdefault(
                product.sku.casefold(), (handle, rows[0].line)
            )
            if owner == handle:
                products.append(product)
            else:
                # SKUs are unique per merchant: importing this one would overwrite the other.
                problems[rows[0].line].insert(
                    0,
                    f"SKU {product.sku!r} is already used by handle {owner!r} (line {owner_line})",
                )
                for row in rows[1:]:
                    problems[row.line].append(_first_row_refused(handle, rows[0].line))
        for line, reasons in problems.items():
            if reasons:
                refused.setdefault(line, []).extend(reasons)

    return ParseResult(
        products=products,
        refused=[RefusedRow(line, "; ".join(reasons)) for line, reasons in sorted(refused.items())],
        format="shopify_csv",
    )


def _rows(text: str) -> tuple[_Columns, Iterator[_Row]]:
    rows = text_rows(text, _delimiter(text.split("\n", 1)[0]))
    _, _, header = next(rows, (0, 0, []))
    columns = [name.strip().casefold() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name.casefold() not in columns]
    if "Handle" in missing:
        raise ImportFormatError(
            "This is not a Shopify product export: the header has no 'Handle' column. "
            "Export the catalog from Shopify under Products → Export."
        )
    if missing:
        raise ImportFormatError(
            "The header has no 'Title' column. A Shopify product CSV needs the Handle and "
            "Title columns even when it only updates products (Shopify's own rule); add the "
            "Title column, or export the catalog again under Products → Export."
        )
    return _Columns(frozenset(columns)), _cells(rows, columns)


def _cells(rows: Iterator[tuple[int, int, list[str]]], columns: list[str]) -> Iterator[_Row]:
    for start, end, cells in rows:
        problem = ""
        if any(cell.strip() for cell in cells[len(columns) :]):
            # More filled cells than columns is how a stray delimiter or quote shows up.
            problem = f"the row has {len(cells)} cells where the header has {len(columns)}"
        yield _Row(start, end, dict(zip(columns, cells, strict=False)), problem)


def _delimiter(header_line: str) -> str:
    """Shopify writes commas; spreadsheet tools in comma-decimal locales re-save with ';'."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _product(
    handle: str, rows: list[_Row], currency: str, columns: _Columns
) -> tuple[ImportedProduct | None, Problems]:
    """The product of one handle's rows, or None; and what was wrong, by line."""
    first = rows[0]
    title = clean_line(first.get("Title"))
    category = clean_line(next((first.get(c) for c in CATEGORY_COLUMNS if first.get(c)), ""))
    status, status_problem = _status(first)
    refusal = [
        f"Title is missing on the first row of handle {handle!r}" if not title else "",
        length_problem(title, "Title", MAX_TITLE_LENGTH) or "",
        status_problem,
        length_problem(category, "Type", MAX_CATEGORY_LENGTH) or "",
    ]

    option_names = [first.get(f"Option{number} Name") for number in (1, 2, 3)]
    variant_fields = frozenset(
        name
        for name, carried in (
            ("sku", columns.has("Variant SKU")),
            ("price", columns.has("Variant Price")),
            ("options", columns.has(*OPTION_VALUE_COLUMNS)),
        )
        if carried
    )
    variants: list[ImportedVariant] = []
    images: list[tuple[int | None, str, str]] = []
    problems: Problems = {row.line: [] for row in rows}
    for row in rows:
        if any(row.get(column) for column in VARIANT_COLUMNS):
            try:
                variants.append(_variant(row, option_names, variant_fields))
            except ValueError as error:
                problems[row.line].append(str(error))
        for src, position, alt in _row_images(row):
            if is_web_address(src):
                images.append((position, src, alt))
            else:
                problems[row.line].append(
                    f"Image Src {src[:80]!r} is not an http(s) address; the image was skipped"
                )

    if not variants and columns.has("Variant Price"):
        refusal.append(f"handle {handle!r} has no variant with a valid Variant Price")
    sku = variants[0].sku if variants and variants[0].sku else handle
    refusal.append(length_problem(sku, "Variant SKU", MAX_SKU_LENGTH) or "")
    refusal = [reason for reason in refusal if reason]
    if refusal:
        problems[first.line].extend(refusal)
        for row in rows[1:]:
            problems[row.line].append(_first_row_refused(handle, first.line))
        return None, problems

    price = variants[0].price if variants else None
    product = ImportedProduct(
        key=handle,
        title=title,
        description=html_to_text(first.get("Body (HTML)")),
        price=price,
        compare_at_price=_sale_compare_at(
            price, variants[0].compare_at_price if variants else None
        ),
        currency=currency,
        sku=sku,
        category=category,
        tags=unique([clean_line(tag) for tag in first.get("Tags").split(",")]),
        status=status,
        images=ordered_images(images),
        variants=variants,
        link="",  # The export names no shop domain, so the product page address is unknown.
        lines=(first.line, max(row.last_line for row in rows)),
        attributes=_attributes(first, option_names, variants, columns),
        fields=_fields(columns),
    )
    return product, problems


def _fields(columns: _Columns) -> frozenset[str]:
    """The product fields a file with these columns carries (Title always: it is required)."""
    carried = {
        "title": True,
        "description": columns.has("Body (HTML)"),
        "category": columns.has(*CATEGORY_COLUMNS),
        "tags": columns.has("Tags"),
        "status": columns.has("Status", "Published"),
        "sku": columns.has("Variant SKU"),
        "price": columns.has("Variant Price"),
        "compare_at_price": columns.has("Variant Compare At Price"),
        "variants": columns.has(*VARIANT_COLUMNS),
        "images": columns.has("Image Src", "Variant Image"),
    }
    return frozenset(name for name, present in carried.items() if present)


def _sale_compare_at(price: Decimal | None, compare_at: Decimal | None) -> Decimal | None:
    """Shopify shows a compare-at price struck through beside the price, as the price before a
    sale; at or below the price it says nothing true, so it is dropped (and the product is
    simply not on sale)."""
    if price is not None and compare_at is not None and compare_at <= price:
        return None
    return compare_at


def _first_row_refused(handle: str, line: int) -> str:
    return f"the first row of handle {handle!r} (line {line}) was refused"


def _status(first: _Row) -> tuple[str, str]:
    """Newer exports say Status; older ones only Published, where unpublished means draft."""
    raw_status = first.get("Status")
    if raw_status:
        status = STATUSES.get(raw_status.casefold())
        if status is None:
            return "active", f"Status {raw_status!r} is not one of active, draft, archived"
        return status, ""
    raw_published = first.get("Published")
    if not raw_published:
        return "active", ""
    published = PUBLISHED.get(raw_published.casefold())
    if published is None:
        return "active", f"Published {raw_published!r} is not true or false"
    return ("active" if published else "draft"), ""


def _variant(row: _Row, option_names: list[str], fields: frozenset[str]) -> ImportedVariant:
    price = parse_price(row.get("Variant Price"), "Variant Price") if "price" in fields else None
    raw_compare = row.get("Variant Compare At Price")
    compare_at = parse_price(raw_compare, "Variant Compare At Price") if raw_compare else None
    options: dict[str, str] = {}
    for number, name in enumerate(option_names, start=1):
        value = clean_line(row.get(f"Option{number} Value"))
        if value and (name, value) != DEFAULT_OPTION:
            options[name or f"Option{number}"] = value
    return ImportedVariant(
        sku=clean_line(row.get("Variant SKU")),
        price=price,
        compare_at_price=compare_at,
        options=options,
        line=row.line,
        fields=fields,
    )


def _row_images(row: _Row) -> Iterator[tuple[str, int | None, str]]:
    src = row.get("Image Src")
    if src:
        raw_position = row.get("Image Position")
        position = int(raw_position) if raw_position.isdigit() else None
        yield src, position, clean_line(row.get("Image Alt Text"))
    variant_image = row.get("Variant Image")
    if variant_image:
        # A variant's photo is normally also an Image Src row; when it is not, it still belongs
        # to the product, after the listed images.
        yield variant_image, None, ""


def _attributes(
    first: _Row, option_names: list[str], variants: list[ImportedVariant], columns: _Columns
) -> dict[str, str]:
    """The attributes whose columns the file has; "" (an empty cell) clears one."""
    attributes = {
        key: clean_line(first.get(column))
        for key, column in ATTRIBUTE_COLUMNS.items()
        if columns.has(column)
    }
    used = {name for variant in variants for name in variant.options}
    for number, name in enumerate(option_names, start=1):
        if columns.has(f"Option{number} Name") and columns.has(f"Option{number} Value"):
            attributes[f"option{number}_name"] = name if name in used else ""
    return attributes
