"""What a catalog parser hands to the import service, and the checks both parsers share.

Parsers are pure: bytes in, plain records out, no database and no network. A row that cannot
become (part of) a product is reported as a ``RefusedRow`` with the line the merchant will find
in their file; everything else is kept, so one typo never blocks a whole catalog.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser

# A catalog larger than this belongs in several files or an API sync; refusing early keeps a
# worker's memory bounded whatever a merchant uploads.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000

# Product.sku and Product.title are CharFields of these lengths; a longer value would only fail
# later in full_clean(), far from the line that caused it.
MAX_SKU_LENGTH = 100
MAX_TITLE_LENGTH = 255
MAX_CATEGORY_LENGTH = 255

# Product.price is DecimalField(max_digits=12, decimal_places=2).
PRICE_STEP = Decimal("0.01")
PRICE_LIMIT = Decimal("10000000000")


class ImportFormatError(ValueError):
    """The file as a whole cannot be read as the expected catalog format."""


@dataclass(frozen=True)
class ImportedImage:
    src: str
    position: int
    alt: str


# What a record can carry, named after the Product field it sets; "images" are the image
# sources, "variants" and "link" live in Product.attributes. A field a file did not carry is
# left as it is on an existing product: a partial re-import changes only what it carries.
PRODUCT_FIELDS = frozenset(
    {
        "sku", "title", "description", "price", "compare_at_price", "category", "tags",
        "status", "images", "variants", "link",
    }
)  # fmt: skip
VARIANT_FIELDS = frozenset({"sku", "price", "options"})


@dataclass(frozen=True)
class ImportedVariant:
    sku: str
    price: Decimal | None  # None when the file has no price for variants at all.
    compare_at_price: Decimal | None
    options: dict[str, str]
    line: int
    fields: frozenset[str] = VARIANT_FIELDS  # Which of sku, price, options the file carried.


@dataclass(frozen=True)
class ImportedProduct:
    """One product as a file (or a webhook) describes it.

    ``fields`` names what the source carried (see PRODUCT_FIELDS); the default, everything,
    suits a record built by hand from a complete description. A field in ``fields`` with an
    empty value clears it; a field not in it keeps the product's value, and its attribute here
    is only a placeholder ("" or None). ``attributes`` holds only the attributes carried, and
    "" clears one.
    """

    key: str  # Shopify Handle or Google id: what a re-import matches on.
    title: str
    description: str  # Safe plain text (see html_to_text).
    price: Decimal | None  # What the shopper pays now; None only when "price" is not carried.
    currency: str
    sku: str  # First variant's SKU if any, else the key.
    category: str
    tags: list[str]
    status: str  # One of Product.Status: "active", "draft", "archived".
    images: list[ImportedImage]  # Sorted by position (1..n), one per src.
    variants: list[ImportedVariant]
    link: str
    lines: tuple[int, int]  # First and last line (XML: item number) it came from.
    attributes: dict[str, str] = field(default_factory=dict)
    # The price before a sale, always above ``price``; None when the product is not on sale.
    compare_at_price: Decimal | None = None
    fields: frozenset[str] = PRODUCT_FIELDS


@dataclass(frozen=True)
class RefusedRow:
    line: int
    reason: str


@dataclass(frozen=True)
class ParseResult:
    products: list[ImportedProduct]
    refused: list[RefusedRow]
    format: str


def check_size(content: bytes) -> None:
    if len(content) > MAX_FILE_BYTES:
        raise ImportFormatError(
            f"The file is {len(content) / 1024 / 1024:.1f} MB; Scenecart imports catalog files "
            f"of up to {MAX_FILE_BYTES // 1024 // 1024} MB. Split the catalog into several files."
        )


def check_row_count(rows: int) -> None:
    if rows > MAX_ROWS:
        raise ImportFormatError(
            f"The file has more than {MAX_ROWS:,} rows; Scenecart imports up to {MAX_ROWS:,} rows "
            "per file. Split the catalog into several files."
        )


def decode_text(content: bytes) -> str:
    """Decode an exported text file the way spreadsheet tools write them.

    UTF-8 (with or without the BOM Excel adds) first; UTF-16 only when a BOM says so (Excel's
    "Unicode text"); Windows-1252 last, because it decodes almost any byte sequence and would
    otherwise turn UTF-8 accents into mojibake.
    """
    if b"\x00" in content[:4096] and not content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFormatError("The file is binary, not a text export.")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ImportFormatError("The file claims to be UTF-16 but is not.") from error
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as error:
        raise ImportFormatError(
            "The file is neither UTF-8 nor Windows-1252 text; export it again as UTF-8."
        ) from error


def text_rows(text: str, delimiter: str) -> Iterator[tuple[int, int, list[str]]]:
    """Every non-empty row (the header first) with the lines it starts and ends on.

    Lines are counted as an editor and ``csv`` count them, at line breaks: a quoted HTML body
    spans several lines, so a row's start is one past where the previous row ended
    (``reader.line_num``). Strict mode makes an unclosed quote an error here instead of a cell
    that silently swallows the rest of the file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = 0
    previous_end = 0
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportFormatError(
                f"Line {start} cannot be read ({error}); a quote opened there is probably never "
                "closed."
            ) from error
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # Spreadsheet tools leave empty rows, often at the end.
        rows += 1
        check_row_count(rows - 1)
        yield start, previous_end, cells


_DECIMAL_COMMA = re.compile(r"^\d+,\d{1,2}$")


def parse_price(raw: str, column: str) -> Decimal:
    """A price as Product.price can store it, or ValueError naming the column and value.

    A lone decimal comma ("19,99") is accepted because spreadsheet tools in much of Europe
    write prices that way in the semicolon exports they produce.
    """
    text = raw.strip()
    if not text:
        raise ValueError(f"{column} is missing")
    number = text.replace(",", ".") if _DECIMAL_COMMA.match(text) else text
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{column} {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{column} {raw!r} is not a number")
    if value < 0:
        raise ValueError(f"{column} {raw!r} is negative")
    # Before the quantize below, which raises InvalidOperation past the context's precision.
    if value >= PRICE_LIMIT:
        raise ValueError(f"{column} {raw!r} is too large")
    if value != value.quantize(PRICE_STEP):
        raise ValueError(f"{column} {raw!r} has more than two decimal places")
    return value.quantize(PRICE_STEP)


def length_problem(value: str, column: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{column} is {len(value)} characters long; Scenecart keeps up to {limit}"
    return None


def is_web_address(value: str) -> bool:
    """Images are fetched later by a worker: only http(s) may reach it, never file: or data:."""
    return value.lower().startswith(("https://", "http://"))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")


def clean_line(value: str) -> str:
    """One-line text (titles, tags, categories): control characters gone, spaces collapsed."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", value.replace("\n", " "))).strip()


def unique(values: list[str]) -> list[str]:
    """Values in first-seen order without case-insensitive repeats ("Gold" and "gold")."""
    seen: set[str] = set()
    kept = []
    for value in values:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept


def ordered_images(candidates: list[tuple[int | None, str, str]]) -> list[ImportedImage]:
    """Images sorted by their stated position, unpositioned ones after in file order.

    Positions are renumbered 1..n because ProductImage.position counts from 1 and a feed's
    numbering often has gaps or repeats; the first occurrence of a src wins.
    """
    order = sorted(
        enumerate(candidates),
        key=lambda item: (item[1][0] is None, item[1][0] or 0, item[0]),
    )
    images: list[ImportedImage] = []
    seen: set[str] = set()
    for _, (_, src, alt) in order:
        if src in seen:
            continue
        seen.add(src)
        images.append(ImportedImage(src=src, position=len(images) + 1, alt=alt))
    return images


# Elements whose content is never text a shopper should see.
_DROPPED = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head"}
)
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "ul",
    }
)  # fmt: skip


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Attributes (onerror, href, style) are never read, so nothing in them can leak.
        if tag in _DROPPED:
            self.dropping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of a product body: what a shopper reads, nothing a browser would run.

    Tags and attributes go, scripts and styles go with their content, entities are unescaped,
    block elements become line breaks and runs of whitespace one space.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = _CONTROL.sub(" ", "".join(extractor.parts).replace("\r", "\n"))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
