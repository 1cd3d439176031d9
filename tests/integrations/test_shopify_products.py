"""A product payload becomes the records a Shopify CSV export of the product becomes, and a
payload cut down by the subscription's include_fields changes only what it carries."""

import json
from decimal import Decimal
from typing import Any

import pytest

from catalog.importers import parse_shopify_csv
from catalog.models import Merchant, Product
from integrations.models import ShopifyConnection
from integrations.shopify.connections import shopify_connection_set
from integrations.shopify.products import PayloadRefused, product_from_payload
from integrations.shopify.webhooks import Delivery, webhook_apply, webhook_receive
from tests.support.factories import make_merchant
from tests.support.protocols.shopify import changed, product_payload


def test_the_payload_reads_as_the_same_product_as_its_csv_export() -> None:
    payload = product_payload(
        handle="trail-mug", title="Trail Mug", sku="", price="18.00", compare_at_price="24.00"
    )
    item = product_from_payload(payload, currency="EUR")
    # No variant SKU: the handle names the product, exactly as the CSV importer does.
    assert (item.sku, item.key, item.currency) == ("trail-mug", "trail-mug", "EUR")
    assert (item.price, item.compare_at_price) == (Decimal("18.00"), Decimal("24.00"))
    assert [v.options for v in item.variants] == [{"Size": "M"}, {"Size": "L"}]
    assert item.attributes == {
        "shopify_id": str(payload["id"]),
        "vendor": "Northfold",
        "gtin": "0840119500017",
        "option1_name": "Size",
        "option2_name": "",
        "option3_name": "",
    }
    csv = (
        "Handle,Title,Body (HTML),Type,Tags,Status,Option1 Name,Option1 Value,Variant SKU,"
        "Variant Price,Variant Compare At Price\n"
        f'trail-mug,Trail Mug,"{payload["body_html"]}",Apparel > Outerwear,"{payload["tags"]}",'
        "active,Size,M,,18.00,24.00\n"
    ).encode()
    exported = parse_shopify_csv(csv, currency="EUR").products[0]
    same = ("sku", "title", "description", "price", "compare_at_price", "category", "tags")
    assert {name: getattr(item, name) for name in same} == {
        name: getattr(exported, name) for name in same
    }


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"variants": []}, "variants is empty"),
        ({"status": "paused"}, "status 'paused'"),
        ({"title": "  "}, "title is empty"),
    ],
)
def test_a_payload_that_cannot_be_a_product_says_why(edit: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadRefused, match=reason):
        product_from_payload({**product_payload(), **edit}, currency="USD")
    with pytest.raises(PayloadRefused, match=r"variants\[0\]\.price 'free' is not a number"):
        product_from_payload(changed(product_payload(), price="free"), currency="USD")


def _apply(connection: ShopifyConnection, payload: dict[str, Any], n: int) -> str:
    receipt = webhook_receive(
        connection=connection,
        delivery=Delivery(
            webhook_id=f"delivery-{n}", topic="products/update", body=json.dumps(payload).encode()
        ),
    )
    assert receipt is not None
    applied = webhook_apply(receipt_id=receipt.pk)
    assert applied is not None
    return applied.outcome


@pytest.mark.django_db
def test_a_payload_cut_down_by_include_fields_changes_only_what_it_carries() -> None:
    merchant: Merchant = make_merchant(slug="northfold")
    connection = shopify_connection_set(
        merchant=merchant, shop_domain="northfold.myshopify.com", webhook_secret="s" * 32
    )
    full = product_payload(sku="JACKET-M", price="129.00", tags="rain")
    assert _apply(connection, full, 1) == "applied"

    prices_only = changed(full, price="99.00", compare_at_price="129.00")
    keep = ("id", "updated_at", "variants")
    assert _apply(connection, {k: v for k, v in prices_only.items() if k in keep}, 2) == "applied"
    jacket = Product.objects.get(merchant=merchant)
    assert (jacket.sku, jacket.price, jacket.compare_at_price) == (
        "JACKET-M",
        Decimal("99.00"),
        Decimal("129.00"),
    )
    assert (jacket.title, jacket.tags) == ("Stormline Rain Jacket", ["rain"])

    # Only the title, not even the handle: the SKU and import key stay what they were.
    retitled = changed(prices_only, title="Stormline Shell")
    assert _apply(connection, {k: retitled[k] for k in ("id", "updated_at", "title")}, 3) == (
        "applied"
    )
    jacket.refresh_from_db()
    assert (jacket.title, jacket.sku, jacket.price) == ("Stormline Shell", "JACKET-M", 99)
    assert jacket.attributes["import_key"] == full["handle"]

    # A cut-down payload of a product the catalog does not have cannot create it.
    unknown = {"id": 4242, "title": "Mystery", "updated_at": full["updated_at"]}
    assert _apply(connection, unknown, 4) == "refused"
    assert Product.objects.count() == 1
