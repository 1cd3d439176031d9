"""Catalog feed parsers: what a merchant sees after uploading their export.

The Shopify tests read real Shopify exports (Shopify's sample product CSVs, copied into
tests/catalog/data from the project's shared data) and derive every expected
count from the file itself with the csv module, so a changed sample changes the expectation and
never silently the meaning. Google feeds are written here after the examples in Google's product
data, RSS 2.0 and Atom 1.0 specifications.
"""

import csv
import dataclasses
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.importers import (
    PRODUCT_FIELDS,
    ImportedProduct,
    ImportFormatError,
    ParseResult,
    html_to_text,
    parse_google_feed,
    parse_shopify_csv,
)
from tests.catalog.exports import cut, on_first_row

SAMPLES = Path(__file__).resolve().parent / "data"
SAMPLE_NAMES = ["apparel.csv", "home-and-garden.csv", "jewelery.csv"]
SAFETY = "uses XML entities, which Scenecart refuses for safety"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def rows_by_handle(content: bytes) -> dict[str, list[dict[str, str]]]:
    """The export as Shopify means it: every row of a handle, in file order."""
    handles: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")):
        handles.setdefault(row["Handle"], []).append(row)
    return handles


def refused_lines(result: ParseResult) -> dict[int, str]:
    return {row.line: row.reason for row in result.refused}


# --- Shopify: the real exports --------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_product_of_a_real_export_arrives_with_its_images_and_variants(name: str) -> None:
    content = sample(name)
    expected = rows_by_handle(content)

    result = parse_shopify_csv(content)

    assert result.refused == []
    assert result.format == "shopify_csv"
    assert [product.key for product in result.products] == list(expected)
    for product in result.products:
        rows = expected[product.key]
        first = rows[0]
        images = {row["Image Src"] for row in rows if row["Image Src"]}
        images |= {row["Variant Image"] for row in rows if row["Variant Image"]}
        variant_rows = [row for row in rows if row["Variant SKU"] or row["Variant Price"]]

        assert product.title == first["Title"]
        assert {image.src for image in product.images} == images, product.key
        assert len(product.images) == len(images), "an image is listed twice"
        assert [image.position for image in product.images] == list(range(1, len(images) + 1))
        assert len(product.variants) == len(variant_rows), product.key
        assert [variant.price for variant in product.variants] == [
            Decimal(row["Variant Price"]) for row in variant_rows
        ]
        assert product.price == Decimal(variant_rows[0]["Variant Price"])
        assert product.currency == "USD"
        # These exports have no Variant SKU at all, so the handle is what keeps products apart.
        assert product.sku == (variant_rows[0]["Variant SKU"] or product.key)
        assert product.status == "active"
        assert "<" not in product.description and ">" not in product.description
        assert product.description  # Every sample product has a body.
        assert product.attributes["vendor"] == first["Vendor"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_line_numbers_are_the_lines_an_editor_shows(name: str) -> None:
    """Quoted HTML bodies span several lines; the reported lines must still match the file."""
    content = sample(name)
    # Lines end at "\n" only, as in editors and csv: jewelery.csv has a U+2028 LINE SEPARATOR
    # inside a body, which str.splitlines() would count as a line break.
    lines = content.decode("utf-8-sig").split("\n")

    for product in parse_shopify_csv(content).products:
        first, last = product.lines
        assert lines[first - 1].startswith(f"{product.key},")
        for variant in product.variants:
            assert lines[variant.line - 1].startswith(f"{product.key},")
        following = lines[last] if last < len(lines) else ""
        assert not following.startswith(f"{product.key},"), "the product's last line is later"


def test_a_multi_line_html_body_becomes_readable_lines() -> None:
    products = {
        product.key: product for product in parse_shopify_csv(sample("jewelery.csv")).products
    }

    gemstone = products["gemstone"].description.splitlines()
    assert gemstone == [
        "Gemstone pendant, housed in sterling silver, with sterling silver chain.",
        "Sterling silver chain, 14 inches",
        "Turquoise or Quartz",
        "Boho Chic",
        "Made in USA",
    ]
    # The export doubles quotes inside a quoted cell: 12"" is a twelve-inch chain.
    assert 'Length, 12" with 2.5" extender' in products["choker-with-gold-pendant"].description
    assert products["gemstone"].variants[1].options == {"Colour": "Purple"}
    assert products["gemstone"].attributes["option1_name"] == "Colour"
    assert products["chain-bracelet"].tags == ["Beads"]
    assert products["leather-anchor"].tags == ["Anchor", "Gold", "Leather", "Silver"]
    # "Title: Default Title" is Shopify's stand-in for "no options", not a choice to show.
    assert products["boho-earrings"].variants[0].options == {}


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_parsing_twice_gives_the_same_catalog(name: str) -> None:
    content = sample(name)

    assert parse_shopify_csv(content) == parse_shopify_csv(content)


# --- Shopify: partial files -----------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_a_full_export_carries_every_field_it_has_columns_for(name: str) -> None:
    for product in parse_shopify_csv(sample(name)).products:
        # Everything but the product page address, which a Shopify export never has.
        assert product.fields == PRODUCT_FIELDS - {"link"}, product.key
        assert {"vendor", "gtin", "mpn", "condition"} <= set(product.attributes)


def test_a_cut_down_sheet_carries_only_its_columns() -> None:
    """Shopify: a column missing from the file leaves the field as it is; an empty cell in a
    present column clears it. So the record says which is which."""
    sheet = cut(
        sample("jewelery.csv"),
        ["Handle", "Title", "Variant SKU", "Variant Price", "Tags"],
        on_first_row("gemstone", Tags="", **{"Variant Price": "25.00"}),
    )

    result = parse_shopify_csv(sheet)

    assert result.refused == []
    products = {product.key: product for product in result.products}
    assert len(products) == len(rows_by_handle(sample("jewelery.csv")))
    gemstone = products["gemstone"]
    assert gemstone.fields == {"title", "sku", "price", "tags", "variants"}
    assert (gemstone.price, gemstone.tags, gemstone.description) == (Decimal("25.00"), [], "")
    assert [variant.fields for variant in gemstone.variants] == [{"sku", "price"}] * 2
    assert gemstone.variants[1].options == {}  # Not carried, so not to be cleared.
    assert gemstone.attributes == {}  # No Vendor column: the vendor is left alone.
    assert products["leather-anchor"].tags == ["Anchor", "Gold", "Leather", "Silver"]


def test_a_sheet_without_prices_carries_none_and_refuses_nothing() -> None:
    sheet = cut(sample("home-and-garden.csv"), ["Handle", "Title", "Type"])

    result = parse_shopify_csv(sheet)

    assert result.refused == []
    pot = result.products[0]
    assert (pot.key, pot.category, pot.price, pot.variants) == (
        "clay-plant-pot",
        "Outdoor",
        None,
        [],
    )
    assert pot.fields == {"title", "category"}


def test_a_compare_at_price_is_kept_only_above_the_price() -> None:
    def edit(row: dict[str, str], first: bool) -> dict[str, str]:
        if row["Handle"] == "pink-armchair":
            return {**row, "Variant Compare At Price": row["Variant Price"]}
        return row

    columns = ["Handle", "Title", "Variant Price", "Variant Compare At Price"]
    sheet = cut(sample("home-and-garden.csv"), columns, edit)
    products = {product.key: product for product in parse_shopify_csv(sheet).products}

    assert (products["copper-light"].price, products["copper-light"].compare_at_price) == (
        Decimal("59.99"),
        Decimal("75.00"),
    )
    assert products["pink-armchair"].compare_at_price is None  # 750 "before" 750: no sale.
    assert products["wooden-outdoor-table"].compare_at_price is None  # None given.


# --- Shopify: broken files ------------------------------------------------------------------


def shopify_csv(rows: list[dict[str, str]], *, extra_columns: tuple[str, ...] = ()) -> str:
    """Rows under the header of a real export (plus columns newer exports have)."""
    header = next(csv.reader(io.StringIO(sample("apparel.csv").decode("utf-8-sig"))))
    header += extra_columns
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def first_row(handle: str, title: str, price: str, **more: str) -> dict[str, str]:
    return {
        "Handle": handle,
        "Title": title,
        "Vendor": "Fjord & Fell",
        "Type": "Knitwear",
        "Tags": "wool, winter, Wool",
        "Published": "true",
        "Option1 Name": "Title",
        "Option1 Value": "Default Title",
        "Variant Price": price,
        "Image Src": f"https://cdn.shopify.com/s/files/{handle}.jpg",
        "Image Position": "1",
        **more,
    }


def test_broken_rows_are_refused_by_line_and_the_good_products_kept() -> None:
    text = shopify_csv(
        [
            # Line 2-6: a good product whose quoted body spans five lines.
            first_row(
                "fisherman-sweater",
                "Fisherman Sweater",
                "89.00",
                **{
                    "Body (HTML)": '<p>Hand-knitted.</p>\n<ul>\n<li>Merino</li>\n<li>Size "M" runs large</li>\n</ul>',
                    "Option1 Name": "Size",
                    "Option1 Value": "S",
                },
            ),
            # Line 7: one of its variants has a price nobody can charge.
            {"Handle": "fisherman-sweater", "Option1 Value": "M", "Variant Price": "abc"},
            # Line 8: its other variant is fine.
            {"Handle": "fisherman-sweater", "Option1 Value": "L", "Variant Price": "94.00"},
            # Line 9: the first row of a product has a bad price...
            first_row("wool-mittens", "Wool Mittens", "twelve"),
            # Line 10: ...so its extra image has no product to belong to.
            {
                "Handle": "wool-mittens",
                "Image Src": "https://cdn.shopify.com/s/files/mittens-2.jpg",
                "Image Position": "2",
            },
            # Line 11: a product without a title.
            first_row("bobble-hat", "", "25.00"),
            # Line 12: a row without a handle.
            first_row("", "Orphan Scarf", "30.00"),
            # Line 13: a good product after all of that.
            first_row("wool-socks", "Wool Socks", "12.50"),
        ]
    )

    result = parse_shopify_csv(text.encode())

    assert [product.key for product in result.products] == ["fisherman-sweater", "wool-socks"]
    sweater = result.products[0]
    assert [(variant.options, variant.price, variant.line) for variant in sweater.variants] == [
        ({"Size": "S"}, Decimal("89.00"), 2),
        ({"Size": "L"}, Decimal("94.00"), 8),
    ]
    assert sweater.description == 'Hand-knitted.\nMerino\nSize "M" runs large'
    assert sweater.lines == (2, 8)
    assert sweater.tags == ["wool", "winter"]
    socks = result.products[1]
    assert (socks.price, socks.lines, socks.sku, socks.category) == (
        Decimal("12.50"),
        (13, 13),
        "wool-socks",
        "Knitwear",
    )

    refused = refused_lines(result)
    assert sorted(refused) == [7, 9, 10, 11, 12]
    assert "Variant Price 'abc' is not a number" in refused[7]
    assert "Variant Price 'twelve' is not a number" in refused[9]
    assert "handle 'wool-mittens' (line 9) was refused" in refused[10]
    assert "Title is missing" in refused[11] and "'bobble-hat'" in refused[11]
    assert refused[12] == "Handle is missing"
    # The reported lines are where a merchant finds those rows in the file.
    lines = text.splitlines()
    assert lines[6].startswith("fisherman-sweater,,,,,,,,M,")
    assert lines[8].startswith("wool-mittens,Wool Mittens,")
    assert lines[11].startswith(",Orphan Scarf,")


def test_an_image_that_is_not_a_web_address_is_skipped_and_reported() -> None:
    text = shopify_csv(
        [
            first_row("linen-shirt", "Linen Shirt", "40"),
            {"Handle": "linen-shirt", "Image Src": "file:///etc/passwd", "Image Position": "2"},
        ]
    )

    result = parse_shopify_csv(text.encode())

    assert [image.src for image in result.products[0].images] == [
        "https://cdn.shopify.com/s/files/linen-shirt.jpg"
    ]
    assert "file:///etc/passwd" in refused_lines(result)[3]


def test_status_rows_out_of_order_and_the_shops_currency() -> None:
    """Newer exports carry Status; a sheet sorted by a tool scatters a handle's rows."""
    text = shopify_csv(
        [
            first_row(
                "rain-jacket", "Rain Jacket", "120", Status="draft", **{"Variant SKU": "RJ-1"}
            ),
            first_row("old-boots", "Old Boots", "60", Status="archived"),
            {"Handle": "rain-jacket", "Image Src": "https://cdn.shopify.com/s/files/rj-2.jpg"},
            first_row("summer-hat", "Summer Hat", "19,90", Published="false"),
        ],
        extra_columns=("Status",),
    )

    result = parse_shopify_csv(text.encode(), currency="NOK")

    products = {product.key: product for product in result.products}
    assert result.refused == []
    assert list(products) == ["rain-jacket", "old-boots", "summer-hat"]
    assert products["rain-jacket"].status == "draft"
    assert products["rain-jacket"].sku == "RJ-1"
    assert len(products["rain-jacket"].images) == 2
    assert products["old-boots"].status == "archived"
    assert products["summer-hat"].status == "draft"  # Unpublished and no Status column value.
    assert products["summer-hat"].price == Decimal("19.90")
    assert {product.currency for product in products.values()} == {"NOK"}


def test_a_sku_used_by_two_products_keeps_only_the_first() -> None:
    """Scenecart's SKUs are unique per shop: the second product would overwrite the first."""
    text = shopify_csv(
        [
            first_row("rain-jacket", "Rain Jacket", "120", **{"Variant SKU": "RJ-1"}),
            first_row("rain-jacket-2024", "Rain Jacket (2024)", "110", **{"Variant SKU": "rj-1"}),
            {"Handle": "rain-jacket-2024", "Image Src": "https://cdn.shopify.com/s/files/2.jpg"},
        ]
    )

    result = parse_shopify_csv(text.encode())

    assert [product.key for product in result.products] == ["rain-jacket"]
    assert refused_lines(result) == {
        3: "SKU 'rj-1' is already used by handle 'rain-jacket' (line 2)",
        4: "the first row of handle 'rain-jacket-2024' (line 3) was refused",
    }


def test_files_exported_by_spreadsheet_tools_give_the_same_products() -> None:
    """Excel re-saves with a BOM, as Windows-1252, or with ';' where ',' is the decimal mark."""
    text = sample("jewelery.csv").decode("utf-8").replace("Boho Earrings", "Boho Earrings – Café")
    reference = parse_shopify_csv(text.encode("utf-8"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    semicolons = io.StringIO(newline="")
    csv.writer(semicolons, delimiter=";", lineterminator="\r\n").writerows(rows)

    # Windows-1252 has no U+2028 (jewelery.csv line 14 has one in a body); Excel would write a
    # space-like character there, and the description must come out the same either way.
    variants = {
        "utf-8 with BOM": text.encode("utf-8-sig"),
        "windows-1252": text.replace("\u2028", " ").encode("cp1252"),
        "semicolons, CRLF, windows-1252": (
            semicolons.getvalue().replace("\u2028", " ").encode("cp1252")
        ),
    }

    assert "Boho Earrings – Café" in {product.title for product in reference.products}
    for label, content in variants.items():
        assert parse_shopify_csv(content) == reference, label


def test_a_file_that_is_not_a_shopify_export_is_refused_whole() -> None:
    google = b"id\ttitle\tprice\nA1\tMug\t15.00 USD\n"
    with pytest.raises(ImportFormatError, match=r"not a Shopify product export.*no 'Handle'"):
        parse_shopify_csv(google)

    # Shopify: "When you update products using a CSV file, the only required columns are
    # Handle and Title"; a price-only sheet needs its Title column back.
    no_title = b"Handle,Variant Price\nmug,19.00\n"
    with pytest.raises(ImportFormatError, match=r"no 'Title' column.*Handle and Title"):
        parse_shopify_csv(no_title)

    with pytest.raises(ImportFormatError, match="binary"):
        parse_shopify_csv(b"PK\x03\x04\x00\x00 a spreadsheet, not its CSV export")

    with pytest.raises(ImportFormatError, match=r"Line 3 .*never closed"):
        parse_shopify_csv(b'Handle,Title,Variant Price\nmug,Mug,5\nvase,"Vase,7\nbowl,Bowl,9\n')


def test_oversized_files_are_refused_before_reading_them() -> None:
    with pytest.raises(ImportFormatError, match="up to 20 MB"):
        parse_shopify_csv(b"Handle,Title,Variant Price\n" + b"x" * (20 * 1024 * 1024))

    rows = "".join(f"item-{number},Item {number},1\n" for number in range(50_001))
    with pytest.raises(ImportFormatError, match="up to 50,000 rows"):
        parse_shopify_csv(f"Handle,Title,Variant Price\n{rows}".encode())


# --- Google Merchant Center feeds -----------------------------------------------------------

# Three items after Google's own examples: a dog bowl (Atom 1.0 example), a Chromecast (RSS 2.0
# example) and a wool sweater with an item group.
TSV = (
    "id\ttitle\tdescription\tlink\timage_link\tadditional_image_link\tprice\tavailability"
    "\tgoogle_product_category\tproduct_type\tbrand\titem_group_id\tcolor\tgtin\tcondition\n"
    "DB_1\tDog Bowl In Blue\tSolid plastic Dog Bowl in marine blue color\t"
    "https://www.example.com/bowls/db-1.html\thttps://images.example.com/DB_1.png\t"
    "https://images.example.com/DB_1_side.png,https://images.example.com/DB_1_top.png\t"
    "9.99 GBP\tin_stock\tAnimals & Pet Supplies > Pet Supplies > Dog Supplies\t\tExample\t"
    "DB\tBlue\t\tnew\n"
    "TV_123456\tGoogle Chromecast with Google TV\t"
    "Chromecast with Google TV brings you the entertainment you love, in up to 4K HDR\t"
    "https://store.google.com/product/chromecast_google_tv\t"
    "https://images.example.com/TV_123456.png\t\t49.99 USD\tout_of_stock\t"
    "Electronics > Video > Video Players & Recorders > Streaming & Home Media Players\t"
    "Home > Streaming\tGoogle\t\t\t00193575000121\t\n"
    "SW_RED_M\tRed wool sweater\tComfortable and soft, this sweater will keep you warm.\t"
    "https://www.example.com/sweater-red.html\thttps://images.example.com/SW_red.jpg\t\t"
    "25.00 EUR\tpreorder\tApparel & Accessories > Clothing\t\tFjord & Fell\tSW\tRed\t\t\n"
)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">
<channel>
  <title>Example - Pet and TV store</title>
  <link>https://www.example.com</link>
  <description>Products of the example store</description>
  <item>
    <g:id>DB_1</g:id>
    <g:title>Dog Bowl In Blue</g:title>
    <g:description>Solid plastic Dog Bowl in marine blue color</g:description>
    <g:link>https://www.example.com/bowls/db-1.html</g:link>
    <g:image_link>https://images.example.com/DB_1.png</g:image_link>
    <g:additional_image_link>https://images.example.com/DB_1_side.png</g:additional_image_link>
    <g:additional_image_link>https://images.example.com/DB_1_top.png</g:additional_image_link>
    <g:brand>Example</g:brand>
    <g:condition>new</g:condition>
    <g:availability>in_stock</g:availability>
    <g:price>9.99 GBP</g:price>
    <g:shipping><g:country>UK</g:country><g:price>4.95 GBP</g:price></g:shipping>
    <g:google_product_category>Animals &amp; Pet Supplies &gt; Pet Supplies &gt; Dog Supplies</g:google_product_category>
    <g:item_group_id>DB</g:item_group_id>
    <g:color>Blue</g:color>
  </item>
  <item>
    <title>Google Chromecast with Google TV</title>
    <link>https://store.google.com/product/chromecast_google_tv</link>
    <description><![CDATA[<p>Chromecast with Google TV brings you the entertainment you love, in up to <b>4K HDR</b></p>]]></description>
    <g:id>TV_123456</g:id>
    <g:image_link>https://images.example.com/TV_123456.png</g:image_link>
    <g:price>49.99 USD</g:price>
    <g:availability>out of stock</g:availability>
    <g:google_product_category>Electronics &gt; Video &gt; Video Players &amp; Recorders &gt; Streaming &amp; Home Media Players</g:google_product_category>
    <g:product_type>Home &gt; Streaming</g:product_type>
    <g:brand>Google</g:brand>
    <g:gtin>00193575000121</g:gtin>
  </item>
  <item>
    <g:id>SW_RED_M</g:id>
    <title>Red wool sweater</title>
    <link>https://www.example.com/sweater-red.html</link>
    <description>Comfortable and soft, this sweater will keep you warm.</description>
    <g:image_link>https://images.example.com/SW_red.jpg</g:image_link>
    <g:price>25.00 EUR</g:price>
    <g:availability>preorder</g:availability>
    <g:google_product_category>Apparel &amp; Accessories &gt; Clothing</g:google_product_category>
    <g:brand>Fjord &amp; Fell</g:brand>
    <g:item_group_id>SW</g:item_group_id>
    <g:color>Red</g:color>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
  <title>Example - Pet and TV store</title>
  <link href="https://www.example.com" rel="alternate" type="text/html"/>
  <updated>2024-06-11T18:30:02Z</updated>
  <author><name>Example</name></author>
  <id>tag:example.com,2024-06-11:/products</id>
  <entry>
    <title>Dog Bowl In Blue</title>
    <link href="https://www.example.com/bowls/db-1.html"/>
    <summary>Solid plastic Dog Bowl in marine blue color</summary>
    <id>tag:example.com,2024:DB_1</id>
    <updated>2024-06-10T18:30:02Z</updated>
    <g:id>DB_1</g:id>
    <g:image_link>https://images.example.com/DB_1.png</g:image_link>
    <g:additional_image_link>https://images.example.com/DB_1_side.png</g:additional_image_link>
    <g:additional_image_link>https://images.example.com/DB_1_top.png</g:additional_image_link>
    <g:brand>Example</g:brand>
    <g:condition>new</g:condition>
    <g:availability>in_stock</g:availability>
    <g:price>9.99 GBP</g:price>
    <g:google_product_category>Animals &amp; Pet Supplies &gt; Pet Supplies &gt; Dog Supplies</g:google_product_category>
    <g:item_group_id>DB</g:item_group_id>
    <g:color>Blue</g:color>
  </entry>
  <entry>
    <title>Google Chromecast with Google TV</title>
    <link rel="self" href="https://www.example.com/feed/TV_123456"/>
    <link href="https://store.google.com/product/chromecast_google_tv" rel="alternate"/>
    <summary>Chromecast with Google TV brings you the entertainment you love, in up to 4K HDR</summary>
    <id>TV_123456</id>
    <updated>2024-06-10T18:30:02Z</updated>
    <g:image_link>https://images.example.com/TV_123456.png</g:image_link>
    <g:price>49.99 USD</g:price>
    <g:availability>out_of_stock</g:availability>
    <g:google_product_category>Electronics &gt; Video &gt; Video Players &amp; Recorders &gt; Streaming &amp; Home Media Players</g:google_product_category>
    <g:product_type>Home &gt; Streaming</g:product_type>
    <g:brand>Google</g:brand>
    <g:gtin>00193575000121</g:gtin>
  </entry>
  <entry>
    <g:id>SW_RED_M</g:id>
    <g:title>Red wool sweater</g:title>
    <g:link>https://www.example.com/sweater-red.html</g:link>
    <g:description>Comfortable and soft, this sweater will keep you warm.</g:description>
    <g:image_link>https://images.example.com/SW_red.jpg</g:image_link>
    <g:price>25.00 EUR</g:price>
    <g:availability>preorder</g:availability>
    <g:google_product_category>Apparel &amp; Accessories &gt; Clothing</g:google_product_category>
    <g:brand>Fjord &amp; Fell</g:brand>
    <g:item_group_id>SW</g:item_group_id>
    <g:color>Red</g:color>
  </entry>
</feed>
"""


def without_locations(products: list[ImportedProduct]) -> list[ImportedProduct]:
    """TSV items are located by line, XML items by number; everything else must agree."""
    return [
        dataclasses.replace(
            product,
            lines=(0, 0),
            variants=[dataclasses.replace(variant, line=0) for variant in product.variants],
        )
        for product in products
    ]


def test_the_three_google_formats_give_the_same_products() -> None:
    tsv = parse_google_feed(TSV.encode(), filename="products.txt")
    rss = parse_google_feed(RSS.encode(), filename="products.xml")
    atom = parse_google_feed(ATOM.encode())

    assert (tsv.format, rss.format, atom.format) == ("google_tsv", "google_xml", "google_xml")
    assert tsv.refused == rss.refused == atom.refused == []
    assert without_locations(rss.products) == without_locations(tsv.products)
    assert without_locations(atom.products) == without_locations(tsv.products)

    bowl, chromecast, sweater = tsv.products
    assert (bowl.key, bowl.sku, bowl.price, bowl.currency) == (
        "DB_1",
        "DB_1",
        Decimal("9.99"),
        "GBP",
    )
    assert [image.src for image in bowl.images] == [
        "https://images.example.com/DB_1.png",
        "https://images.example.com/DB_1_side.png",
        "https://images.example.com/DB_1_top.png",
    ]
    assert bowl.category == "Animals & Pet Supplies > Pet Supplies > Dog Supplies"
    assert bowl.attributes["item_group_id"] == "DB"
    assert bowl.variants[0].options == {"color": "Blue"}
    assert bowl.link == "https://www.example.com/bowls/db-1.html"
    assert chromecast.category == "Home > Streaming"  # The shop's own product_type wins.
    assert chromecast.description.endswith("in up to 4K HDR")
    assert chromecast.attributes["gtin"] == "00193575000121"
    # Out of stock is still a product the shop sells: recorded, not hidden.
    assert chromecast.status == "active"
    assert chromecast.attributes["availability"] == "out_of_stock"
    assert sweater.attributes["availability"] == "preorder"
    assert (sweater.price, sweater.currency) == (Decimal("25.00"), "EUR")
    assert [(product.lines, product.variants[0].line) for product in tsv.products] == [
        ((2, 2), 2),
        ((3, 3), 3),
        ((4, 4), 4),
    ]
    assert [product.lines for product in rss.products] == [(1, 1), (2, 2), (3, 3)]


def test_bad_google_items_are_refused_where_they_are() -> None:
    tsv = (
        "id\ttitle\tprice\tlink\n"
        "MUG_1\tStoneware Mug\t15.00 USD\thttps://www.example.com/mug\n"
        "\tNo id\t15.00 USD\t\n"
        "MUG_2\t\t15.00 USD\t\n"
        "MUG_3\tCracked Mug\tfifteen dollars\t\n"
        "MUG_1\tStoneware Mug again\t16.00 USD\t\n"
        "MUG_4\tPlate\t12.00\tjavascript:alert(1)\n"
    )
    result = parse_google_feed(tsv.encode(), currency="SEK")

    assert [(product.key, product.currency, product.link) for product in result.products] == [
        ("MUG_1", "USD", "https://www.example.com/mug"),
        ("MUG_4", "SEK", ""),
    ]
    refused = refused_lines(result)
    assert sorted(refused) == [3, 4, 5, 6, 7]
    assert refused[3] == "id is missing"
    assert refused[4] == "title is missing"
    assert refused[5] == "price 'fifteen dollars' is not a price like '15.00 USD'"
    assert refused[6] == "id 'MUG_1' already appeared in line 2"
    assert "link 'javascript:alert(1)' is not an http(s) address" in refused[7]

    rss = RSS.replace("<g:price>49.99 USD</g:price>", "<g:price>free</g:price>").replace(
        "<g:title>Dog Bowl In Blue</g:title>", ""
    )
    result = parse_google_feed(rss.encode())

    assert [product.key for product in result.products] == ["SW_RED_M"]
    assert [(row.line, row.reason) for row in result.refused] == [
        (1, "item 1 (g:id DB_1): title is missing"),
        (2, "item 2 (g:id TV_123456): price 'free' is not a price like '15.00 USD'"),
    ]


def test_a_google_sale_price_is_the_price_within_its_dates() -> None:
    feed = (
        "id\ttitle\tprice\tsale_price\tsale_price_effective_date\n"
        "A\tIn the window\t30.00 USD\t20.00 USD\t2026-11-27T00:00-0800/2026-11-30T23:59-0800\n"
        "B\tWhole days\t30.00 USD\t21.00 USD\t2026-11-28/2026-11-28\n"
        "C\tAfter it\t30.00 USD\t20.00 USD\t2026-11-01T00:00Z/2026-11-02T00:00Z\n"
        "D\tNo dates\t30.00 USD\t25.00 USD\t\n"
        "E\tOther currency\t30.00 USD\t25.00 EUR\t\n"
    )
    black_friday = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)

    result = parse_google_feed(feed.encode(), now=black_friday)

    assert {p.key: (p.price, p.compare_at_price) for p in result.products} == {
        "A": (Decimal("20.00"), Decimal("30.00")),
        "B": (Decimal("21.00"), Decimal("30.00")),
        "C": (Decimal("30.00"), None),
        "D": (Decimal("25.00"), Decimal("30.00")),
        "E": (Decimal("30.00"), None),
    }
    assert refused_lines(result) == {
        6: "sale_price '25.00 EUR' is in EUR but price in USD; the sale price was not applied"
    }
    assert result.products[0].variants[0].price == Decimal("20.00")
    assert result.products[0].attributes["sale_price"] == "20.00 USD"


def test_a_supplemental_google_feed_carries_only_what_it_sets() -> None:
    """Supplemental: only id is needed, and a blank value is "not set"."""
    feed = (
        "id\ttitle\tprice\tavailability\tcolor\tcustom_label_0\n"
        "DB_1\tBlue Dog Bowl\t\tin stock\t\tsummer\n"
        "TV_123456\t\t45.00 USD\t\tBlack\t\n"
        "SW_RED_M\t\t\t\t\t\n"
        "\tNo id\t\t\t\t\n"
    )

    result = parse_google_feed(feed.encode(), supplemental=True)

    assert refused_lines(result) == {5: "id is missing"}
    bowl, chromecast, sweater = result.products
    assert bowl.fields == {"sku", "title"}
    assert (bowl.title, bowl.attributes) == ("Blue Dog Bowl", {"availability": "in_stock"})
    assert chromecast.fields == {"sku", "price", "variants"}
    assert (chromecast.price, chromecast.compare_at_price, chromecast.title) == (
        Decimal("45.00"),
        None,
        "",
    )
    assert [(v.fields, v.options) for v in chromecast.variants] == [
        ({"price", "options"}, {"color": "Black"})
    ]
    assert (sweater.fields, sweater.attributes, sweater.variants) == ({"sku"}, {}, [])

    # The same file as a primary feed: every item must be whole.
    primary = parse_google_feed(feed.encode())
    assert [product.key for product in primary.products] == []
    assert refused_lines(primary)[2] == "price is missing"


def test_a_record_built_by_hand_carries_everything() -> None:
    """What a webhook builds from Shopify's product JSON: no fields named, all of them set."""
    record = ImportedProduct(
        key="mug", title="Camp Mug", description="", price=Decimal("18.00"), currency="USD",
        sku="MUG-1", category="", tags=[], status="active", images=[], variants=[], link="",
        lines=(1, 1),
    )  # fmt: skip
    assert record.fields == PRODUCT_FIELDS and record.compare_at_price is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel>
<item><g:id>1</g:id><g:title>&lol4;</g:title><g:price>1.00 USD</g:price></item>
</channel></rss>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
<entry><g:id>1</g:id><title>&secret;</title><g:price>1.00 USD</g:price></entry>
</feed>
"""


@pytest.mark.parametrize("feed", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_entities_are_refused_for_safety(feed: bytes) -> None:
    with pytest.raises(ImportFormatError, match=SAFETY):
        parse_google_feed(feed)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (bytes(range(256)) * 64, "not a text file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
        (
            b"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Shop</title></head></html>",
            "web page",
        ),
        (b'<?xml version="1.0"?><urlset><url><loc>https://x</loc></url></urlset>', "<urlset>"),
        (b"sku,name,price\nA1,Mug,15.00\n", "no tab-separated header"),
    ],
    ids=["binary", "pdf", "html", "sitemap-xml", "comma-csv"],
)
def test_a_file_that_is_no_google_feed_is_refused_saying_what_was_expected(
    content: bytes, says: str
) -> None:
    with pytest.raises(ImportFormatError, match="Google Merchant Center feeds") as refused:
        parse_google_feed(content, filename="catalog.upload")

    assert says in str(refused.value)
    assert str(refused.value).startswith("catalog.upload ")


# --- html_to_text ---------------------------------------------------------------------------


def test_hostile_html_becomes_plain_text() -> None:
    html = """
        <h2>Linen&nbsp;Shirt &amp; Co.</h2>
        <script>alert(1)</script><style>body { display: none }</style>
        <p onclick="steal()">Breathable <b>linen</b>,<br>cut   loose.<img src=x onerror="alert(2)"></p>
        <ul><li>Sizes<ul><li>S &lt;small&gt;</li><li>M</li></ul></li><li>Made in Portugal</li></ul>
        <!-- <script>alert(3)</script> --><SCRIPT type="text/javascript">alert(4)
    """

    text = html_to_text(html)

    assert text == (
        "Linen Shirt & Co.\nBreathable linen,\ncut loose.\nSizes\nS <small>\nM\nMade in Portugal"
    )
    assert "alert" not in text and "display" not in text and "onerror" not in text
