"""A price changed in Shopify reaches the shopper (issue 15): the webhook's worker updates the
product, the storefront stops serving the video with the old price at once and serves the
refreshed one, made by re-rendering only the offer shot."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Product
from catalog.services import product_image_add
from rendering.models import Video
from tests.support.factories import photo_bytes
from tests.support.freshness import (
    all_videos_settled,
    lookup,
    rendered_since,
    served_anew,
    videos_made_by_the_worker,
    wait_until,
)
from tests.support.protocols.shopify import ShopifyShop, changed, product_payload


@pytest.mark.worker
@pytest.mark.usefixtures("shopify_worker")
def test_a_price_changed_in_shopify_is_never_served_stale(
    client: Client, shop: ShopifyShop, wait_until_applied: Callable[[], None], settings: Any
) -> None:
    # The change is made in the worker: this process's memo of what it read would show it
    # within SCENECART_LOCAL_CACHE_SECONDS (1 s); without the memo, at once.
    settings.SCENECART_LOCAL_CACHE_SECONDS = 0
    jacket = product_payload(sku="JACKET-M", price="129.00")
    shop.product_created(jacket)
    wait_until_applied()
    product = Product.objects.get(sku="JACKET-M")
    product_image_add(product=product, filename="jacket.png", content=photo_bytes())
    videos_made_by_the_worker(product, ("generic",))
    before = lookup(client, "northfold", "JACKET-M")
    assert before["status"] == "ready"

    changed_at = timezone.now()
    shop.product_updated(changed(jacket, price="99.00", compare_at_price="129.00"))
    wait_until_applied()
    # The moment the worker applied the change, the old video is no longer named.
    assert lookup(client, "northfold", "JACKET-M")["src"] != before["src"]

    wait_until(served_anew(client, "northfold", "JACKET-M", before["src"]), "the new video")
    wait_until(all_videos_settled, "the refresh")
    video = Video.objects.get(product=product, bucket="generic")
    assert (video.facts["price"], video.facts["compare_at_price"]) == ("99.00", "129.00")
    offer = video.parts.get(segment__kind="offer").segment
    assert (offer.plan["caption"], offer.plan["extras"]["was"]) == ("$99.00", "$129.00")
    assert rendered_since(changed_at) == ["offer"]
