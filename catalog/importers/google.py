"""Google Merchant Center product feeds: tab-separated text, RSS 2.0 or Atom 1.0.

One item is one product (Google calls variants separate items tied by ``item_group_id``, which
is kept as an attribute). Attribute names follow Google's product data specification
(support.google.com/merchants/answer/7052112): ``id``, ``title``, ``description``, ``link``,
``image_link``, ``additional_image_link``, ``price`` ("15.00 USD"), ``availability``… In XML they
live in the ``g:`` namespace, though RSS's own ``title``/``link``/``description`` and Atom's
``title``/``link href``/``summary``/``id`` stand in for them, as Google's examples show.

A feed is primary or supplemental, and Google gives the two different update rules. A primary
feed is the product's whole description: re-uploading one "deletes all existing product data and
replaces it with the fields you send" (developers.google.com/shopping-content/guides/products/
supplemental-feeds/using-supplemental-feeds), so an attribute it lacks is cleared. A supplemental
feed is "used only to update product data that already exists in one or more primary feeds"
(support.google.com/merchants/answer/7439882), matched by ``id``; it overrides the attributes it
sets and falls back to the primary's value "if the attribute is not set" (Merchant API,
``PrimaryProductDataSource.DefaultRule``), so a blank cell changes nothing.

``sale_price`` is what the shopper pays during a sale ("During a sale, your sale price is shown as
the current price", support.google.com/merchants/answer/6324471), ``price`` the regular price: a
product on sale gets price = sale_price and compare_at_price = price, within
``sale_price_effective_date`` when one is given (support.google.com/merchants/answer/6324460).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from catalog.importers.records import (
    MAX_CATEGORY_LENGTH,
    MAX_SKU_LENGTH,
    MAX_TITLE_LENGTH,
    ImportedImage,
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
)

GOOGLE_NS = "http://base.google.com/ns/1.0"
ATOM_NAMESPACES = ("http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#")
EXPECTED = (
    "Scenecart reads Google Merchant Center feeds as tab-separated text with an 'id' column, "
    "or as RSS 2.0 or Atom 1.0 XML"
)
ENTITIES_REFUSED = (
    "The feed uses XML entities, which Scenecart refuses for safety. "
    "Export it again without a DOCTYPE."
)
# Kept on the product for the shop's own logic (and Product.attributes), not interpreted here.
ATTRIBUTE_NAMES = (
    "brand", "availability", "item_group_id", "gtin", "mpn", "condition", "gender",
    "age_group", "sale_price", "sale_price_effective_date",
)  # fmt: skip
OPTION_NAMES = ("color", "size", "material", "pattern")
# What a primary feed describes of a product, all of it each time. Tags and status are not
# Google attributes: no feed sets them, so an import from one never touches them.
PRIMARY_FIELDS = frozenset(
    {"sku", "title", "description", "price", "compare_at_price", "category", "images",
     "variants", "link"}
)  # fmt: skip
EFFECTIVE_DATE_EXAMPLE = "2016-02-24T13:00-0800/2016-02-29T15:30-0800"
_PRICE = re.compile(r"^(?:([A-Za-z]{3})\s+)?(\d[\d.,]*)(?:\s*([A-Za-z]{3}))?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class _Item:
    """One item's attributes, each a list because XML may repeat an element."""

    values: dict[str, list[str]]
    refusal_line: int  # TSV: the line; XML: the item number.
    lines: tuple[int, int]
    where: str  # How a reason names the item: "" for TSV (the line says it), "item 3 (…): "
    problem: str = ""

    def first(self, name: str) -> str:
        return next((value for value in self.values.get(name, []) if value), "")


def parse_google_feed(
    content: bytes,
    *,
    filename: str = "",
    currency: str = "USD",
    supplemental: bool = False,
    now: datetime | None = None,
) -> ParseResult:
    """Products of a Merchant Center feed, whichever of the three formats it is in.

    ``currency`` applies only to a price written without one ("25", as in Google's own Atom
    example); ``filename`` only names the file in errors. A ``supplemental`` feed needs only
    ``id``: each item carries just the attributes it sets, and its price is the regular one
    (the import service applies the sale, with the product's earlier sale attributes). For a
    primary feed, ``now`` (default: the current time) decides whether a sale is within its
    ``sale_price_effective_date``.
    """
    now = now or datetime.now(UTC)
    if not _CURRENCY.match(currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code such as USD")
    check_size(content)
    name = filename or "The file"
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        raise ImportFormatError(f"{name} is a PDF document; {EXPECTED}.")
    if head.startswith(b"<"):
        items, format_name = _xml_items(content, name), "google_xml"
    else:
        items, format_name = _tsv_items(content, name), "google_tsv"

    products: list[ImportedProduct] = []
    refused: list[RefusedRow] = []
    first_seen: dict[str, str] = {}
    for item in items:
        if supplemental:
            product, problems = _supplemental_product(item, currency)
        else:
            product, problems = _product(item, currency, now)
        if product is not None:
            earlier = first_seen.setdefault(product.key, _place(item))
            if earlier != _place(item):
                problems.insert(0, f"id {product.key!r} already appeared in {earlier}")
            else:
                products.append(product)
        if problems:
            refused.append(RefusedRow(item.refusal_line, item.where + "; ".join(problems)))
    return ParseResult(products=products, refused=refused, format=format_name)


def _place(item: _Item) -> str:
    return item.where.removesuffix(": ") or f"line {item.refusal_line}"


def _tsv_items(content: bytes, name: str) -> list[_Item]:
    try:
        text = decode_text(content)
    except ImportFormatError:
        raise ImportFormatError(f"{name} is not a text file; {EXPECTED}.") from None
    rows = text_rows(text, "\t")
    _, _, header = next(rows, (0, 0, []))
    columns = [_attribute_name(column) for column in header]
    if len(columns) < 2 or "id" not in columns:
        raise ImportFormatError(
            f"{name} has no tab-separated header with an 'id' column; {EXPECTED}."
        )
    return [_tsv_item(start, end, cells, columns) for start, end, cells in rows]


def _tsv_item(start: int, end: int, cells: list[str], columns: list[str]) -> _Item:
    values: dict[str, list[str]] = {}
    for column, cell in zip(columns, cells, strict=False):
        # The text format lists several additional images in one comma-separated cell.
        parts = cell.split(",") if column == "additional_image_link" else [cell]
        values.setdefault(column, []).extend(part.strip() for part in parts)
    problem = ""
    if any(cell.strip() for cell in cells[len(columns) :]):
        problem = f"the row has {len(cells)} cells where the header has {len(columns)}"
    return _Item(values, start, (start, end), "", problem)


def _attribute_name(column: str) -> str:
    """'image link', 'Image_Link' and 'g:image_link' are all the image_link column."""
    name = column.strip().strip('"').casefold().replace(" ", "_")
    return name.removeprefix("g:")


def _xml_items(content: bytes, name: str) -> list[_Item]:
    try:
        root = SafeElementTree.fromstring(content)
    except DefusedXmlException as error:
        # Entity declarations are how billion-laughs bombs and external-entity (XXE) reads
        # work; no genuine product feed needs one.
        raise ImportFormatError(ENTITIES_REFUSED) from error
    except ParseError as error:
        if re.match(rb"\s*(<!doctype html|<html)", content[:1024].lstrip(b"\xef\xbb\xbf"), re.I):
            raise ImportFormatError(f"{name} is a web page; {EXPECTED}.") from error
        raise ImportFormatError(f"{name} is not well-formed XML ({error}); {EXPECTED}.") from error
    namespace, root_name = _split(root.tag)
    if root_name == "rss" and not namespace:
        elements = [
            item
            for channel in root
            if _split(channel.tag)[1] == "channel"
            for item in channel
            if _split(item.tag)[1] == "item"
        ]
    elif root_name == "feed" and namespace in ATOM_NAMESPACES:
        elements = [entry for entry in root if _split(entry.tag) == (namespace, "entry")]
    else:
        raise ImportFormatError(f"{name} is XML whose root element is <{root_name}>; {EXPECTED}.")
    return [_xml_item(element, number) for number, element in enumerate(elements, start=1)]


def _split(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""  # Comments and processing instructions.
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _xml_item(element: Element, number: int) -> _Item:
    google: dict[str, list[str]] = {}
    plain: dict[str, list[str]] = {}
    for child in element:
        namespace, local = _split(child.tag)
        if namespace == GOOGLE_NS:
            target = google
        elif namespace in ("", *ATOM_NAMESPACES):
            target = plain
        else:
            continue  # Other extensions (media:, dc:) may reuse names like title.
        text = "".join(child.itertext()).strip()
        if local == "link" and not text:
            if child.get("rel", "alternate") != "alternate":
                continue
            text = child.get("href", "").strip()
        target.setdefault(local, []).append(text)
    # Atom's own elements stand in for Google's when the g: one is absent.
    for atom_name, google_name in (("summary", "description"), ("content", "description")):
        if atom_name in plain:
            plain.setdefault(google_name, plain[atom_name])
    values = plain | google
    item_id = next((value for value in values.get("id", []) if value), "")
    where = f"item {number} (g:id {item_id}): " if item_id else f"item {number}: "
    return _Item(values, number, (number, number), where)


def _product(
    item: _Item, default_currency: str, now: datetime
) -> tuple[ImportedProduct | None, list[str]]:
    """A primary feed's item: the whole product, every attribute it lacks cleared."""
    if item.problem:
        return None, [item.problem]
    key = clean_line(item.first("id"))
    title = clean_line(item.first("title"))
    raw_price = item.first("price")
    problems = [
        "id is missing" if not key else "",
        length_problem(key, "id", MAX_SKU_LENGTH) or "",
        "title is missing" if not title else "",
        length_problem(title, "title", MAX_TITLE_LENGTH) or "",
    ]
    regular: Decimal | None = None
    currency = default_currency
    try:
        regular, currency = _price(raw_price, default_currency)
    except ValueError as error:
        problems.append(str(error))
    category = _category(item)
    problems.append(length_problem(category, "product_type", MAX_CATEGORY_LENGTH) or "")
    problems = [problem for problem in problems if problem]
    if problems or regular is None:
        return None, problems

    price, compare_at, sale_problem = sale_prices(
        regular=regular,
        currency=currency,
        sale_price=item.first("sale_price"),
        effective_date=item.first("sale_price_effective_date"),
        now=now,
    )
    images, image_problems = _images(item)
    link, link_problem = _link(item)
    problems += [problem for problem in (sale_problem, *image_problems, link_problem) if problem]
    options = {name: clean_line(item.first(name)) for name in OPTION_NAMES}
    product = ImportedProduct(
        key=key,
        title=title,
        description=html_to_text(item.first("description")),
        price=price,
        compare_at_price=compare_at,
        currency=currency,
        sku=key,
        category=category,
        tags=[],
        status="active",  # Availability is not a catalog status: out of stock is still sold.
        images=images,
        variants=[
            ImportedVariant(
                sku=key,
                price=price,
                compare_at_price=compare_at,
                options={name: value for name, value in options.items() if value},
                line=item.refusal_line,
            )
        ],
        link=link,
        lines=item.lines,
        # Every attribute, empty when absent: a primary feed replaces what it does not send.
        attributes=_attributes(item, ATTRIBUTE_NAMES),
        fields=PRIMARY_FIELDS,
    )
    return product, problems


def _supplemental_product(
    item: _Item, default_currency: str
) -> tuple[ImportedProduct | None, list[str]]:
    """A supplemental feed's item: only ``id`` and the attributes it sets (not blank)."""
    if item.problem:
        return None, [item.problem]
    key = clean_line(item.first("id"))
    title = clean_line(item.first("title"))
    category = _category(item)
    problems = [
        "id is missing" if not key else "",
        length_problem(key, "id", MAX_SKU_LENGTH) or "",
        length_problem(title, "title", MAX_TITLE_LENGTH) or "",
        length_problem(category, "product_type", MAX_CATEGORY_LENGTH) or "",
    ]
    fields = {"sku"}
    # The regular price only: whether the product is on sale also depends on sale attributes
    # this item may leave to the product's earlier feeds, so the import service, which has
    # both, applies sale_prices() (the sale attributes set here are in ``attributes``).
    price: Decimal | None = None
    currency = default_currency
    if item.first("price"):
        try:
            price, currency = _price(item.first("price"), default_currency)
        except ValueError as error:
            problems.append(str(error))
        fields.add("price")
    problems = [problem for problem in problems if problem]
    if problems:
        return None, problems

    images, image_problems = _images(item)
    link, link_problem = _link(item)
    problems += [problem for problem in (*image_problems, link_problem) if problem]
    carried_text = {
        "title": title,
        "description": item.first("description"),
        "category": category,
        "images": images,
        "link": link,
    }
    fields |= {name for name, value in carried_text.items() if value}
    options = {name: clean_line(item.first(name)) for name in OPTION_NAMES}
    options = {name: value for name, value in options.items() if value}
    variant_fields = frozenset(
        name for name, carried in (("price", price is not None), ("options", options)) if carried
    )
    if variant_fields:
        fields.add("variants")
    product = ImportedProduct(
        key=key,
        title=title,
        description=html_to_text(item.first("description")),
        price=price,
        currency=currency,
        sku=key,
        category=category,
        tags=[],
        status="active",
        images=images,
        variants=[
            ImportedVariant(
                sku=key,
                price=price,
                compare_at_price=None,
                options=options,
                line=item.refusal_line,
                fields=variant_fields,
            )
        ]
        if variant_fields
        else [],
        link=link,
        lines=item.lines,
        attributes={
            name: value
            for name, value in _attributes(item, ATTRIBUTE_NAMES).items()
            if value  # Blank is "not set": the product keeps its value.
        },
        fields=frozenset(fields),
    )
    return product, problems


def _category(item: _Item) -> str:
    return clean_line(item.first("product_type") or item.first("google_product_category"))


def _images(item: _Item) -> tuple[list[ImportedImage], list[str]]:
    images: list[tuple[int | None, str, str]] = []
    problems: list[str] = []
    for column in ("image_link", "additional_image_link"):
        for src in item.values.get(column, []):
            if not src:
                continue
            if is_web_address(src):
                images.append((None, src, ""))
            else:
                problems.append(f"{column} {src[:80]!r} is not an http(s) address; skipped")
    return ordered_images(images), problems


def _link(item: _Item) -> tuple[str, str]:
    link = item.first("link")
    if link and not is_web_address(link):
        return "", f"link {link[:80]!r} is not an http(s) address; skipped"
    return link, ""


def _attributes(item: _Item, names: tuple[str, ...]) -> dict[str, str]:
    attributes = {name: clean_line(item.first(name)) for name in names}
    # Older feeds and spreadsheets write "in stock" or "In-Stock"; keep the spec's spelling.
    attributes["availability"] = (
        attributes["availability"].casefold().replace(" ", "_").replace("-", "_")
    )
    return attributes


def sale_prices(
    *, regular: Decimal, currency: str, sale_price: str, effective_date: str, now: datetime
) -> tuple[Decimal, Decimal | None, str]:
    """What the shopper pays at ``now``, the price it is compared with, and what was wrong.

    With a ``sale_price`` below the regular price, in the same currency and (when
    ``effective_date`` is given) inside its window, the shopper pays the sale price and the
    regular price is the compare-at price. Otherwise the regular price, no compare-at price,
    and a problem to report when the sale attributes could not be used. Google: "The sale price
    must be lower than the regular price"; a window without times runs from 00:00 on its first
    day to 23:59:59 on its last (support.google.com/merchants/answer/12756212).
    """
    if not sale_price:
        return regular, None, ""
    try:
        sale, sale_currency = _price(sale_price, currency, "sale_price")
    except ValueError as error:
        return regular, None, f"{error}; the sale price was not applied"
    problem = ""
    if sale_currency != currency:
        problem = (
            f"sale_price {sale_price!r} is in {sale_currency} but price in {currency}; "
            "the sale price was not applied"
        )
    elif sale >= regular:
        problem = (
            f"sale_price {sale_price!r} is not below the price ({regular} {currency}); "
            "the product is not shown as on sale"
        )
    elif effective_date:
        try:
            start, end = _window(effective_date)
        except ValueError:
            problem = (
                f"sale_price_effective_date {effective_date!r} is not a date range like "
                f"{EFFECTIVE_DATE_EXAMPLE!r}; the sale price was not applied"
            )
        else:
            if not start <= now <= end:
                return regular, None, ""  # Outside its window there is no sale.
    if problem:
        return regular, None, problem
    return sale, regular, ""


def _window(raw: str) -> tuple[datetime, datetime]:
    """A ``start/end`` ISO 8601 range. Without a time zone the times are taken as UTC: Google
    would use the target country's zone, which a feed file does not name."""
    start_text, separator, end_text = raw.strip().partition("/")
    if not separator:
        raise ValueError(raw)
    start = _moment(start_text, time.min)
    end = _moment(end_text, time.max)
    if end < start:
        raise ValueError(raw)
    return start, end


def _moment(text: str, time_of_day: time) -> datetime:
    text = text.strip()
    moment = datetime.fromisoformat(text)
    if "T" not in text:  # A date alone: the whole day.
        moment = datetime.combine(moment.date(), time_of_day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _price(raw: str, default_currency: str, name: str = "price") -> tuple[Decimal, str]:
    if not raw.strip():
        raise ValueError(f"{name} is missing")
    match = _PRICE.match(raw.strip())
    if match is None or (match.group(1) and match.group(3)):
        raise ValueError(f"{name} {raw!r} is not a price like '15.00 USD'")
    before, number, after = match.groups()
    try:
        value = parse_price(number, name)
    except ValueError as exc:
        # The number's own problem (negative, too large, three decimals), for the whole value.
        raise ValueError(str(exc).replace(repr(number), repr(raw), 1)) from None
    return value, (before or after or default_currency).upper()
