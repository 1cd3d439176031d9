"""Partial re-imports change only what they carry (issue 15, point 0).

Shopify's rule for updating products by CSV: a column missing from the file leaves the field as
it is, an empty cell in a present column clears it, and an update needs only the Handle and
Title columns (help.shopify.com/en/manual/products/import-export/using-csv). The partial files
here are the real sample exports (tests/catalog/data) cut down to a few columns with the csv
module, as a merchant cuts a sheet to change prices.

Google Merchant Center: a primary feed replaces the product's data; a supplemental feed only
updates products that exist (matched by id), only the attributes it sets, and a blank value is
"not set" (the product keeps its value).
"""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.importers import ImportFormatError, parse_shopify_csv
from catalog.importing import catalog_import
from catalog.models import Merchant, Product, ProductImageSource
from tests.catalog.exports import Row, cut, on_first_row
from tests.support.factories import make_merchant

DATA = Path(__file__).resolve().parent / "data"
JEWELERY = (DATA / "jewelery.csv").read_bytes()
APPAREL = (DATA / "apparel.csv").read_bytes()
HOME = (DATA / "home-and-garden.csv").read_bytes()


def catalog(merchant: Merchant) -> dict[str, dict[str, Any]]:
    """What the merchant sees of each product, by SKU."""
    return {
        product.sku: {
            "title": product.title,
            "description": product.description,
            "price": product.price,
            "compare_at_price": product.compare_at_price,
            "category": product.category,
            "tags": product.tags,
            "status": product.status,
            "attributes": product.attributes,
            "updated_at": product.updated_at,
            "images": sorted(source.url for source in product.image_sources.all()),
        }
        for product in Product.objects.filter(merchant=merchant).prefetch_related("image_sources")
    }


# --- Shopify CSV ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_price_only_sheet_changes_that_price_and_leaves_everything_else_untouched() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=JEWELERY, filename="jewelery.csv")
    before = catalog(shop)
    bracelet = before["chain-bracelet"]
    assert bracelet["category"] == "Bracelet" and bracelet["tags"] == ["Beads"]
    assert bracelet["price"] == Decimal("42.99")
    assert bracelet["compare_at_price"] == Decimal("44.99")
    assert bracelet["attributes"]["variants"][1]["options"] == {"Color": "Black"}

    sheet = cut(
        JEWELERY,
        ["Handle", "Title", "Variant SKU", "Variant Price"],
        on_first_row("chain-bracelet", **{"Variant Price": "39.99"}),
    )
    report = catalog_import(merchant=shop, content=sheet, filename="prices.csv")

    assert (report.created, report.updated, report.refused) == ([], ["chain-bracelet"], [])
    assert report.changes == {"chain-bracelet": ["price", "variants"]}
    assert report.to_dict()["changed_fields"] == {"chain-bracelet": ["price", "variants"]}
    assert sorted(report.unchanged) == sorted(set(before) - {"chain-bracelet"})
    assert report.images_queued == 0

    after = catalog(shop)
    bracelet_now = after.pop("chain-bracelet")
    assert bracelet_now["price"] == Decimal("39.99")
    # Still on sale, against the compare-at price the sheet did not carry.
    assert bracelet_now["compare_at_price"] == Decimal("44.99")
    variants = bracelet_now["attributes"]["variants"]
    assert variants[0]["price"] == "39.99" and variants[0]["options"] == {"Color": "Blue"}
    assert variants[1] == bracelet["attributes"]["variants"][1]  # Its other variant as it was.
    for name in ("title", "description", "category", "tags", "status", "images"):
        assert bracelet_now[name] == bracelet[name], name
    before.pop("chain-bracelet")
    assert after == before  # Every other product untouched, updated_at included.


@pytest.mark.django_db
def test_the_sheet_from_the_issue_updates_apparel_prices_only() -> None:
    """Handle, Title, Variant SKU, Variant Price: the file that used to blank descriptions."""
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=APPAREL, filename="apparel.csv")
    before = catalog(shop)

    sheet = cut(
        APPAREL,
        ["Handle", "Title", "Variant SKU", "Variant Price"],
        on_first_row("ocean-blue-shirt", **{"Variant Price": "45"}),
    )
    report = catalog_import(merchant=shop, content=sheet, filename="prices.csv")

    assert report.changes == {"ocean-blue-shirt": ["price", "variants"]}
    shirt = catalog(shop)["ocean-blue-shirt"]
    assert shirt["price"] == Decimal("45.00")
    assert shirt["description"] == before["ocean-blue-shirt"]["description"] != ""
    assert shirt["tags"] == ["men"]
    assert shirt["attributes"]["vendor"] == "partners-demo"
    assert shirt["images"] == before["ocean-blue-shirt"]["images"] != []


@pytest.mark.django_db
def test_a_present_but_empty_tags_cell_clears_that_products_tags_only() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=HOME, filename="home.csv")
    before = catalog(shop)

    sheet = cut(HOME, ["Handle", "Title", "Tags"], on_first_row("cream-sofa", Tags=""))
    report = catalog_import(merchant=shop, content=sheet, filename="tags.csv")

    assert report.changes == {"cream-sofa": ["tags"]}
    after = catalog(shop)
    assert before["cream-sofa"]["tags"] == ["Couch", "Wood"]
    assert after["cream-sofa"]["tags"] == []
    assert after["cream-sofa"]["price"] == Decimal("500.00")
    assert after["cream-sofa"]["category"] == "Indoor"
    assert {sku: p["tags"] for sku, p in after.items() if sku != "cream-sofa"} == {
        sku: p["tags"] for sku, p in before.items() if sku != "cream-sofa"
    }


@pytest.mark.django_db
def test_a_handle_and_price_sheet_needs_its_title_column_as_shopify_says() -> None:
    """Shopify: an update needs the Handle and Title columns. Without Title the sheet is
    refused whole, saying so; with it, prices update."""
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=HOME, filename="home.csv")
    before = catalog(shop)

    def cheaper(row: Row, first: bool) -> Row:
        return {**row, "Variant Price": "9.49"} if row["Handle"] == "clay-plant-pot" else row

    with pytest.raises(ImportFormatError, match=r"no 'Title' column.*Handle and Title"):
        catalog_import(
            merchant=shop,
            content=cut(HOME, ["Handle", "Variant Price"], cheaper),
            filename="prices.csv",
        )
    assert catalog(shop) == before

    report = catalog_import(
        merchant=shop,
        content=cut(HOME, ["Handle", "Title", "Variant Price"], cheaper),
        filename="prices.csv",
    )
    assert report.changes == {"clay-plant-pot": ["price", "variants"]}
    after = catalog(shop)
    assert after["clay-plant-pot"]["price"] == Decimal("9.49")
    assert after["clay-plant-pot"]["description"] == before["clay-plant-pot"]["description"]
    assert len(report.unchanged) == len(before) - 1


@pytest.mark.django_db
def test_a_new_handle_in_an_update_sheet_is_refused_naming_its_line() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=HOME, filename="home.csv")
    count = Product.objects.count()
    sheet = cut(HOME, ["Handle", "Title", "Tags"]).decode()
    lines = len(sheet.splitlines())
    sheet += "terracotta-bowl,,Pot\nlinen-throw,Linen Throw,Bedroom\n"

    report = catalog_import(merchant=shop, content=sheet.encode(), filename="tags.csv")

    refused = {row.line: row.reason for row in report.refused}
    assert sorted(refused) == [lines + 1, lines + 2]
    assert "Title is missing" in refused[lines + 1] and "terracotta-bowl" in refused[lines + 1]
    # A known title, but no price anywhere in the sheet: nothing to sell it at.
    assert refused[lines + 2] == (
        "'linen-throw' is not in this shop's catalog yet, and the file gives it no price: "
        "a new product needs a title and a price"
    )
    assert Product.objects.count() == count
    assert len(report.unchanged) == count


@pytest.mark.django_db
def test_compare_at_prices_are_kept_only_above_the_price() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=HOME, filename="home.csv")
    prices = {p.sku: (p.price, p.compare_at_price) for p in Product.objects.all()}
    assert prices["copper-light"] == (Decimal("59.99"), Decimal("75.00"))
    assert prices["pink-armchair"] == (Decimal("750.00"), None)

    def edit(row: Row, first: bool) -> Row:
        if row["Handle"] == "pink-armchair":  # A compare-at equal to the price is no sale.
            return {**row, "Variant Compare At Price": row["Variant Price"]}
        if row["Handle"] == "cream-sofa":  # Neither is one below it.
            return {**row, "Variant Compare At Price": "450"}
        return row

    columns = ["Handle", "Title", "Variant Price", "Variant Compare At Price"]
    report = catalog_import(merchant=shop, content=cut(HOME, columns, edit), filename="a.csv")
    assert report.changes == {"cream-sofa": ["compare_at_price"]}
    assert Product.objects.get(sku="pink-armchair").compare_at_price is None
    assert Product.objects.get(sku="cream-sofa").compare_at_price is None

    # A new price at or above the compare-at price the sheet leaves out ends the sale too.
    raised = cut(
        HOME,
        ["Handle", "Title", "Variant Price"],
        on_first_row("copper-light", **{"Variant Price": "80"}),
    )
    report = catalog_import(merchant=shop, content=raised, filename="b.csv")
    assert report.changes == {"copper-light": ["price", "compare_at_price", "variants"]}
    light = Product.objects.get(sku="copper-light")
    assert (light.price, light.compare_at_price) == (Decimal("80.00"), None)


@pytest.mark.django_db
def test_a_sheet_without_skus_finds_products_by_their_handle() -> None:
    """Products imported with variant SKUs are still the ones a sheet without the Variant SKU
    column updates: matched by the handle they were imported under, not duplicated."""
    shop = make_merchant(slug="shop")
    header = next(csv.reader(io.StringIO(HOME.decode("utf-8-sig"))))

    def with_sku(row: Row, first: bool) -> Row:
        return {**row, "Variant SKU": f"HG-{row['Handle']}"} if first else row

    catalog_import(merchant=shop, content=cut(HOME, header, with_sku), filename="home.csv")
    count = Product.objects.count()

    sheet = cut(
        HOME,
        ["Handle", "Title", "Variant Price"],
        on_first_row("yellow-sofa", **{"Variant Price": "89.99"}),
    )
    report = catalog_import(merchant=shop, content=sheet, filename="prices.csv")

    assert report.changes == {"HG-yellow-sofa": ["price", "variants"]}
    assert Product.objects.count() == count
    sofa = Product.objects.get(sku="HG-yellow-sofa")
    assert (sofa.price, sofa.compare_at_price) == (Decimal("89.99"), Decimal("150.00"))
    assert sofa.attributes["variants"][0]["sku"] == "HG-yellow-sofa"


@pytest.mark.django_db
def test_the_full_export_again_changes_nothing_after_a_partial_one() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=JEWELERY, filename="jewelery.csv")
    sheet = cut(JEWELERY, ["Handle", "Title", "Variant SKU", "Variant Price"])
    assert catalog_import(merchant=shop, content=sheet, filename="p.csv").changes == {}
    report = catalog_import(merchant=shop, content=JEWELERY, filename="jewelery.csv")
    assert (report.updated, report.changes, report.images_queued) == ([], {}, 0)
    assert len(report.unchanged) == len(parse_shopify_csv(JEWELERY).products)


# --- Google Merchant Center -----------------------------------------------------------------

PRIMARY = (
    "id\ttitle\tdescription\tlink\timage_link\tprice\tavailability\tproduct_type\tbrand\tcolor\n"
    "DB_1\tDog Bowl In Blue\tSolid plastic Dog Bowl in marine blue color\t"
    "https://www.example.com/bowls/db-1.html\thttps://images.example.com/DB_1.png\t"
    "9.99 GBP\tin_stock\tPets > Bowls\tExample\tBlue\n"
    "SW_RED_M\tRed wool sweater\tComfortable and soft, this sweater will keep you warm.\t"
    "https://www.example.com/sweater-red.html\thttps://images.example.com/SW_red.jpg\t"
    "25.00 EUR\tpreorder\tApparel > Sweaters\tFjord & Fell\tRed\n"
)


def tsv(*rows: list[str]) -> bytes:
    return "".join("\t".join(row) + "\n" for row in rows).encode()


@pytest.mark.django_db
def test_a_supplemental_feed_overrides_what_it_sets_and_adds_nothing() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=PRIMARY.encode(), filename="primary.txt")
    before = catalog(shop)

    supplemental = tsv(
        ["id", "title", "availability", "custom_label_0"],
        ["DB_1", "Blue Dog Bowl, 1 l", "", ""],  # A blank availability is "not set".
        ["SW_RED_M", "", "out_of_stock", ""],  # A blank title keeps the sweater's.
        ["CHAIR_9", "Garden Chair", "in_stock", ""],
    )
    report = catalog_import(
        merchant=shop, content=supplemental, filename="labels.txt", supplemental=True
    )

    assert report.created == [] and Product.objects.count() == 2
    assert [(row.line, row.reason) for row in report.refused] == [
        (
            4,
            "id 'CHAIR_9' matches no product in this shop: a supplemental feed only updates "
            "products that are already imported (from a primary feed) and never adds one",
        )
    ]
    assert report.changes == {"DB_1": ["title"], "SW_RED_M": ["availability"]}
    after = catalog(shop)
    bowl, sweater = after["DB_1"], after["SW_RED_M"]
    assert bowl["title"] == "Blue Dog Bowl, 1 l"
    assert bowl["attributes"]["availability"] == "in_stock"
    assert sweater["title"] == "Red wool sweater"
    assert sweater["attributes"]["availability"] == "out_of_stock"
    for name in ("description", "price", "category", "images"):
        assert bowl[name] == before["DB_1"][name], name
        assert sweater[name] == before["SW_RED_M"][name], name

    # Nothing new for either: the second run changes nothing and refuses the stranger again.
    again = catalog_import(
        merchant=shop, content=supplemental, filename="labels.txt", supplemental=True
    )
    assert (again.updated, len(again.unchanged), len(again.refused)) == ([], 2, 1)
    assert catalog(shop) == after


@pytest.mark.django_db
def test_a_primary_feed_again_replaces_what_it_no_longer_sends() -> None:
    """Google: a primary upload replaces the product's data; what it lacks is cleared."""
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=PRIMARY.encode(), filename="primary.txt")
    Product.objects.filter(sku="DB_1").update(tags=["bestseller"])  # Not a Google attribute.

    trimmed = tsv(
        ["id", "title", "link", "image_link", "price", "availability", "product_type"],
        ["DB_1", "Dog Bowl In Blue", "https://www.example.com/bowls/db-1.html",
         "https://images.example.com/DB_1.png", "9.99 GBP", "in_stock", "Pets > Bowls"],
    )  # fmt: skip
    report = catalog_import(merchant=shop, content=trimmed, filename="primary.txt")

    assert report.changes == {"DB_1": ["description", "variants", "brand"]}
    bowl = Product.objects.get(sku="DB_1")
    assert bowl.description == ""
    assert "brand" not in bowl.attributes
    assert bowl.attributes["variants"][0]["options"] == {}  # No color any more.
    assert bowl.tags == ["bestseller"]  # Google feeds have no tags to replace.
    assert Product.objects.filter(sku="SW_RED_M").exists()  # Absent items are not deleted.


def window(start: timedelta, end: timedelta) -> str:
    now = timezone.now()
    return f"{(now + start):%Y-%m-%dT%H:%M%z}/{(now + end):%Y-%m-%dT%H:%M%z}"


@pytest.mark.django_db
def test_a_sale_price_is_what_the_shopper_pays_within_its_dates() -> None:
    shop = make_merchant(slug="shop")
    hour, week = timedelta(hours=1), timedelta(days=7)
    feed = tsv(
        ["id", "title", "price", "sale_price", "sale_price_effective_date"],
        ["NOW", "Running sale", "30.00 USD", "20.00 USD", window(-hour, week)],
        ["ALWAYS", "Open-ended sale", "30.00 USD", "24.50 USD", ""],
        ["OVER", "Sale that ended", "30.00 USD", "20.00 USD", window(-week, -hour)],
        ["SOON", "Sale to come", "30.00 USD", "20.00 USD", window(hour, week)],
        ["DEARER", "Sale above the price", "30.00 USD", "35.00 USD", ""],
        ["DATES", "Sale with bad dates", "30.00 USD", "20.00 USD", "next week"],
    )
    report = catalog_import(merchant=shop, content=feed, filename="sale.txt")

    prices = {p.sku: (p.price, p.compare_at_price) for p in Product.objects.all()}
    regular = (Decimal("30.00"), None)
    assert prices == {
        "NOW": (Decimal("20.00"), Decimal("30.00")),
        "ALWAYS": (Decimal("24.50"), Decimal("30.00")),
        "OVER": regular,
        "SOON": regular,
        "DEARER": regular,
        "DATES": regular,
    }
    refused = {row.line: row.reason for row in report.refused}
    assert sorted(refused) == [6, 7]  # Imported all the same, at the regular price.
    assert "sale_price '35.00 USD' is not below the price (30.00 USD)" in refused[6]
    assert "sale_price_effective_date 'next week' is not a date range" in refused[7]
    assert len(report.created) == 6


@pytest.mark.django_db
def test_a_supplemental_sale_applies_to_the_price_the_primary_feed_set() -> None:
    shop = make_merchant(slug="shop")
    catalog_import(merchant=shop, content=PRIMARY.encode(), filename="primary.txt")

    def supplemental(*rows: list[str]) -> dict[str, list[str]]:
        report = catalog_import(
            merchant=shop, content=tsv(*rows), filename="s.txt", supplemental=True
        )
        assert report.refused == []
        return report.changes

    def bowl() -> tuple[Decimal, Decimal | None]:
        product = Product.objects.get(sku="DB_1")
        return product.price, product.compare_at_price

    assert supplemental(["id", "sale_price"], ["DB_1", "7.49 GBP"]) == {
        "DB_1": ["price", "compare_at_price", "variants", "sale_price"]
    }
    assert bowl() == (Decimal("7.49"), Decimal("9.99"))
    assert Product.objects.get(sku="DB_1").attributes["variants"][0]["price"] == "7.49"
    # A new regular price keeps the sale the earlier feed set.
    supplemental(["id", "price"], ["DB_1", "11.00 GBP"])
    assert bowl() == (Decimal("7.49"), Decimal("11.00"))
    # Blank sale cells are "not set": still on sale.
    assert supplemental(["id", "sale_price", "sale_price_effective_date"], ["DB_1", "", ""]) == {}
    assert bowl() == (Decimal("7.49"), Decimal("11.00"))
    # Dates that have passed end it: the regular price again, nothing struck through.
    supplemental(
        ["id", "sale_price_effective_date"],
        ["DB_1", window(-timedelta(days=7), -timedelta(days=1))],
    )
    assert bowl() == (Decimal("11.00"), None)
    assert Product.objects.get(sku="SW_RED_M").price == Decimal("25.00")


# --- The command ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_imports_a_supplemental_feed_and_refuses_one_for_shopify(
    tmp_path: Path,
) -> None:
    shop = make_merchant(slug="shop")
    primary, labels, export = (
        tmp_path / "primary.txt",
        tmp_path / "labels.txt",
        tmp_path / "products.csv",
    )
    primary.write_text(PRIMARY)
    labels.write_bytes(tsv(["id", "brand"], ["SW_RED_M", "Fjord & Fell Knitwear"]))
    export.write_bytes(HOME)
    call_command("import_products", "--merchant", "shop", str(primary), stdout=io.StringIO())

    out = io.StringIO()
    call_command("import_products", "--merchant", "shop", "--supplemental", str(labels), stdout=out)
    assert "1 updated, 0 unchanged" in out.getvalue()
    assert "  SW_RED_M: brand changed" in out.getvalue()
    assert Product.objects.get(sku="SW_RED_M").attributes["brand"] == "Fjord & Fell Knitwear"

    out = io.StringIO()
    call_command(
        "import_products", "--merchant", "shop", "--json", "--supplemental", str(labels),
        stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["changed_fields"] == {}

    with pytest.raises(CommandError, match="Only a Google Merchant Center feed can be supp"):
        call_command("import_products", "--merchant", "shop", "--supplemental", str(export))
    assert not Product.objects.filter(merchant=shop, sku="clay-plant-pot").exists()
    assert ProductImageSource.objects.filter(product__merchant=shop).count() == 2
