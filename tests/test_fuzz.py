"""Property-based fuzzing of what shoppers and merchants hand us: context strings, catalog
exports, uploaded images.

Each parser has one documented way to say no (``ContextError``, ``ImportFormatError`` or a
refused row naming its line, ``ImageRefused`` naming the file); anything else escaping it is a
500 in the storefront or the admin. Hypothesis generates both junk and near-misses of the real
thing (well-formed exports with hostile cells, real images with flipped or missing bytes).

Runs are deterministic (``derandomize=True``: the same examples on every run and in CI, no
example database) and bounded, so the file takes well under a minute on two cores.
"""

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from catalog.importers import ImportFormatError, ParseResult, parse_google_feed, parse_shopify_csv
from catalog.importers.records import decode_text
from catalog.uploads import MAX_SIDE, CheckedImage, ImageRefused, image_upload_check
from personalization.context import ContextError, ShopperContext
from tests.support.factories import photo_bytes

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SAMPLES = Path(__file__).resolve().parent / "catalog" / "data"
# Pillow warns about the damaged metadata these tests feed it; the check's answer is what counts.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


def bounded(max_examples: int) -> settings:
    return settings(FUZZ, max_examples=max_examples)


# --- ShopperContext.parse ---------------------------------------------------------------------

KEYS = [*ShopperContext.VOCABULARIES, *ShopperContext.ALIASES]
VALUES = [
    value for vocabulary in ShopperContext.VOCABULARIES.values() for value in vocabulary.values
]


ALIASES_OF = {
    dimension: [
        dimension,
        *(alias for alias, d in ShopperContext.ALIASES.items() if d == dimension),
    ]
    for dimension in ShopperContext.VOCABULARIES
}


@st.composite
def context_like(draw: st.DrawFn) -> str:
    """Real contexts in the spellings operators and storefronts use (aliases, any case, stray
    spaces and separators, de_DE for de-DE), half of them with one near miss: a value of
    another dimension, a repeated key, a bare word or junk."""
    dimensions = draw(st.lists(st.sampled_from(list(ALIASES_OF)), unique=True, max_size=5))
    pairs = []
    for dimension in dimensions:
        key = draw(st.sampled_from(ALIASES_OF[dimension]))
        value = draw(st.sampled_from(ShopperContext.VOCABULARIES[dimension].values))
        pairs.append(f"{key}={value.replace('-', draw(st.sampled_from(['-', '_'])))}")
    if draw(st.booleans()):
        word = st.one_of(st.sampled_from(KEYS + VALUES), st.text(max_size=8))
        near_miss = draw(
            st.one_of(
                st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.sampled_from(VALUES)),
                st.builds(lambda k, v: f"{k}={v}", word, word),
                word,
            )
        )
        pairs.insert(draw(st.integers(0, len(pairs))), near_miss)
    cased = [
        draw(st.sampled_from([pair, pair.upper(), pair.lower(), pair.title(), f" {pair} "]))
        for pair in pairs
    ]
    return draw(st.sampled_from([",", ", ", " ,", ",,"])).join(cased)


def _context_or_refuse(text: str) -> ShopperContext | None:
    try:
        return ShopperContext.parse(text)
    except ContextError as error:
        assert str(error), "a ContextError must say what was wrong"
        return None


@bounded(2000)
@given(st.one_of(st.text(), context_like()))
@example("")
@example("generic")
@example(" GENERIC ")
@example("climate=rainy,climate=sunny")
@example("locale=de_DE")
@example("=,=")
@example("weather=")
def test_context_parse_refuses_only_with_context_error_and_round_trips(text: str) -> None:
    context = _context_or_refuse(text)
    if context is None:
        return
    bucket = context.bucket
    again = ShopperContext.parse(bucket)
    assert again == context
    assert again.bucket == bucket
    assert ShopperContext.parse(str(again)) == context


def test_the_context_fuzz_reaches_real_contexts() -> None:
    """The near-miss strategy must produce contexts that parse, or the round trip above is
    never exercised; checked over a fixed sample of its output."""
    parsed = 0

    @bounded(200)
    @given(context_like())
    def count(text: str) -> None:
        nonlocal parsed
        context = _context_or_refuse(text)
        parsed += context is not None and not context.is_generic

    count()
    assert parsed >= 50


# --- Catalog importers -------------------------------------------------------------------------

SHOPIFY_COLUMNS = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published", "Status",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Variant SKU",
    "Variant Price", "Variant Compare At Price", "Variant Barcode", "Image Src",
    "Image Position", "Image Alt Text", "Variant Image", "Google Shopping / Gender",
]  # fmt: skip
GOOGLE_COLUMNS = [
    "id", "title", "description", "link", "image_link", "additional_image_link", "price",
    "availability", "brand", "gtin", "item_group_id", "color", "size", "product_type",
    "google_product_category", "g:id", "Image Link",
]  # fmt: skip
# Cells that have broken parsers before: numbers in every spelling, addresses of every scheme,
# markup, quotes and line breaks inside cells, control characters, very long values.
AWKWARD_CELLS = [
    "", " ", "1", "0", "19,99", "19.999", "-3", "1e400", "1E+2", "NaN", "Infinity", "1_000",
    "99999999999", "1" * 30, "15.00 USD", "USD 15.00", "EUR 15 USD", "15 usd", "٣", "½",
    "https://cdn.example.com/a.png", "http://x", "file:///etc/passwd", "data:image/png;base64,",
    "javascript:alert(1)", "true", "FALSE", "draft", "unlisted", "Default Title", "Title",
    "<script>alert(1)</script><p>Hi</p>", "&amp;&#0;&#xD800;", '"', '""', "a,b", "a;b", "a\tb",
    "x\ny", "x\r\ny", "\x00", "\x1b[31m", "\u2028", "\ufeff", "x" * 300,
]  # fmt: skip
cells = st.one_of(st.sampled_from(AWKWARD_CELLS), st.text(max_size=12))
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def delimited(draw: st.DrawFn, columns: list[str], required: list[str]) -> bytes:
    """A header of real columns (sometimes missing a required one) and rows of awkward cells,
    written properly by ``csv`` or joined raw (unbalanced quotes, ragged rows)."""
    header = draw(st.lists(st.sampled_from(columns), unique=True, max_size=10))
    if draw(st.booleans()):
        header = required + [column for column in header if column not in required]
    width = max(len(header), 1)
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=width + 2), min_size=0, max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    if draw(st.booleans()):
        buffer = io.StringIO()
        writer = csv.writer(
            buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
        )
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        text = "\n".join(delimiter.join(row) for row in [header, *rows])
    return _encode(text, draw(st.sampled_from(ENCODINGS)))


@st.composite
def mutated(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    """A real file with a few bytes flipped, a slice cut out or duplicated, or truncated."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "byte", "cut", "repeat", "truncate", "insert"]))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[at] = draw(st.sampled_from([0x00, 0x22, 0x2C, 0x0A, 0x0D, 0x3B, 0xFF, 0x80]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def _file_lines(content: bytes) -> int:
    """How many lines an editor shows (the count ``csv`` keeps), or 0 if it is not text."""
    try:
        text = decode_text(content)
    except ImportFormatError:
        return 0
    return len(io.StringIO(text, newline="").readlines())


def _check_refusals(result: ParseResult, content: bytes) -> None:
    lines = _file_lines(content)
    for row in result.refused:
        assert isinstance(row.line, int) and row.line >= 1, row
        assert row.reason.strip(), row
        if result.format in ("shopify_csv", "google_tsv"):
            assert row.line <= lines, f"refused line {row.line} of a {lines}-line file: {row}"
    for product in result.products:
        assert 1 <= product.lines[0] <= product.lines[1]


def _import_or_refuse(parse: Callable[[bytes], ParseResult], content: bytes) -> None:
    try:
        result = parse(content)
    except ImportFormatError as error:
        assert str(error), "an ImportFormatError must say what was wrong"
        return
    _check_refusals(result, content)


SHOPIFY_SAMPLES = [(SAMPLES / name).read_bytes() for name in sorted(SAMPLES.glob("*.csv"))]


@bounded(1000)
@given(
    st.one_of(
        st.binary(max_size=512),
        delimited(SHOPIFY_COLUMNS, ["Handle", "Title", "Variant Price"]),
        mutated(SHOPIFY_SAMPLES),
    )
)
@example(b"")
@example(b"\xff\xfe")
@example(b"Handle,Title,Variant Price\n")
@example(b'Handle,Title,Variant Price\nh,"unclosed,1\n')
def test_shopify_parser_refuses_only_by_format_error_or_by_line(content: bytes) -> None:
    _import_or_refuse(parse_shopify_csv, content)


def _atom_entry(values: dict[str, str]) -> str:
    return (
        "<entry>" + "".join(f"<g:{k}>{escape(v)}</g:{k}>" for k, v in values.items()) + "</entry>"
    )


def _rss_item(values: dict[str, str]) -> str:
    return "<item>" + "".join(f"<g:{k}>{escape(v)}</g:{k}>" for k, v in values.items()) + "</item>"


@st.composite
def google_xml(draw: st.DrawFn) -> bytes:
    """RSS or Atom feeds whose items carry awkward values; sometimes escaped, sometimes not."""
    names = ["id", "title", "price", "link", "image_link", "description", "product_type"]
    items = draw(st.lists(st.dictionaries(st.sampled_from(names), cells, max_size=6), max_size=5))
    namespace = 'xmlns:g="http://base.google.com/ns/1.0"'
    if draw(st.booleans()):
        body = "".join(_rss_item(item) for item in items)
        text = (
            f'<?xml version="1.0"?><rss version="2.0" {namespace}><channel>{body}</channel></rss>'
        )
    else:
        body = "".join(_atom_entry(item) for item in items)
        text = f'<feed xmlns="http://www.w3.org/2005/Atom" {namespace}>{body}</feed>'
    if draw(st.booleans()):
        # Unescaped markup in a value, a DOCTYPE, a stray byte: not well-formed, or refused.
        text = text.replace("&amp;", draw(st.sampled_from(["&", "<", "&lol;", "]]>"])))
    return _encode(text, draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])))


@bounded(1000)
@given(
    st.one_of(
        st.binary(max_size=512),
        delimited(GOOGLE_COLUMNS, ["id", "title", "price"]),
        google_xml(),
        st.builds(lambda tail: b"<" + tail, st.binary(max_size=128)),
    )
)
@example(b"%PDF-1.7")
@example(b"<html><body>not a feed</body></html>")
@example(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><rss><channel/></rss>')
@example(b"<rss><channel><item><id>1</id></item></channel></rss>")
@example(b"id\ttitle\tprice\n\t\t\n1\tx\t1 EUR\textra\n")
def test_google_parser_refuses_only_by_format_error_or_by_line(content: bytes) -> None:
    _import_or_refuse(lambda data: parse_google_feed(data, filename="feed.xml"), content)


# --- image_upload_check ------------------------------------------------------------------------

FILENAME = "fuzz-upload-7Q.bin"  # must come back in every refusal


def _tiny(fmt: str, mode: str = "RGB", size: tuple[int, int] = (12, 9)) -> bytes:
    image = Image.new(mode, size, "#2E86AB" if mode in ("RGB", "RGBA", "CMYK") else 128)
    buffer = io.BytesIO()
    save: dict[str, object] = {"save_all": True} if fmt in ("GIF", "WEBP") else {}
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def _with_metadata() -> bytes:
    """A phone-style JPEG: EXIF orientation (rotated on upload) and an embedded ICC profile."""
    image = Image.open(io.BytesIO(photo_bytes(size=(20, 12), fmt="PNG"))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), icc_profile=profile)
    return buffer.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.new("P", (10, 8), index) for index in (1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], transparency=0)
    return buffer.getvalue()


def _compressed_tiff() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (10, 8), "#E4572E80").save(buffer, "TIFF", compression="tiff_lzw")
    return buffer.getvalue()


REAL_IMAGES = [
    _with_metadata(),
    _animated_gif(),
    _compressed_tiff(),
    photo_bytes(size=(24, 16), fmt="PNG"),
    photo_bytes(size=(24, 16), fmt="JPEG"),
    _tiny("PNG", "RGBA"),
    _tiny("PNG", "P"),
    _tiny("PNG", "I;16"),
    _tiny("GIF", "P"),
    _tiny("WEBP"),
    _tiny("TIFF"),
    _tiny("JPEG", "CMYK"),
]
MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"RIFF\0\0\0\0WEBP",
         b"II*\x00", b"MM\x00*"]  # fmt: skip


def _check_or_refuse(content: bytes) -> CheckedImage | None:
    try:
        checked = image_upload_check(content, filename=FILENAME)
    except ImageRefused as refusal:
        assert all(FILENAME in message for message in refusal.messages), refusal.messages
        return None
    # Accepted: the normalized file is what it says it is, and opens cleanly.
    assert checked.format in ("PNG", "JPEG")
    with Image.open(io.BytesIO(checked.content)) as stored:
        stored.load()
        assert stored.format == checked.format
        assert stored.size == (checked.width, checked.height)
        assert stored.mode in ("RGB", "RGBA")
    assert 1 <= checked.width <= MAX_SIDE and 1 <= checked.height <= MAX_SIDE
    return checked


@bounded(1000)
@given(
    st.one_of(
        st.binary(max_size=256),
        st.builds(
            lambda magic, tail: magic + tail, st.sampled_from(MAGIC), st.binary(max_size=256)
        ),
    )
)
@example(b"")
@example(b"<svg onload=alert(1)>")
@example(b"%PDF-1.4")
def test_image_check_on_arbitrary_bytes_accepts_or_refuses_naming_the_file(
    content: bytes,
) -> None:
    _check_or_refuse(content)


@bounded(2000)
@given(mutated(REAL_IMAGES))
def test_image_check_on_damaged_real_images_accepts_or_refuses_naming_the_file(
    content: bytes,
) -> None:
    _check_or_refuse(content)


@pytest.mark.parametrize("index", range(len(REAL_IMAGES)))
def test_the_undamaged_images_are_accepted(index: int) -> None:
    """The mutation fuzz starts from images the check accepts, so it probes near the edge."""
    assert _check_or_refuse(REAL_IMAGES[index]) is not None


def test_refusal_messages_name_a_line_in_the_file() -> None:
    """A refused row's reason is read beside its line number; a format error names the line
    too when it comes from one (an unclosed quote)."""
    with pytest.raises(ImportFormatError, match=r"^Line 2 "):
        parse_shopify_csv(b'Handle,Title,Variant Price\nh,"unclosed,1\n')
    result = parse_shopify_csv(b"Handle,Title,Variant Price\nh,Lamp,cheap\n")
    assert [(row.line, bool(re.search("Variant Price", row.reason))) for row in result.refused] == [
        (2, True)
    ]


# Found by the importer fuzz above: parse_price checked the two decimal places with
# Decimal.quantize before the size, and quantize raises InvalidOperation past 28 digits, so a
# price like 1e40 escaped the parser (a 500 from the admin's import page).
@pytest.mark.parametrize(
    ("parse", "content"),
    [
        (parse_shopify_csv, b"Handle,Title,Variant Price\nlamp,Lamp,1e40\n"),
        (
            parse_shopify_csv,
            b"Handle,Title,Variant Price\nlamp,Lamp,12345678901234567890123456789\n",
        ),
        (
            parse_shopify_csv,
            b"Handle,Title,Variant Price,Variant Compare At Price\nlamp,Lamp,10,1E+30\n",
        ),
        (parse_google_feed, b"id\ttitle\tprice\n1\tLamp\t12345678901234567890123456789 USD\n"),
    ],
    ids=["shopify-1e40", "shopify-29-digits", "shopify-compare-at", "google-29-digits"],
)
def test_a_price_too_large_to_store_is_refused_by_line(
    parse: Callable[[bytes], ParseResult], content: bytes
) -> None:
    result = parse(content)
    assert [row.line for row in result.refused] == [2]
    assert "too large" in result.refused[0].reason
