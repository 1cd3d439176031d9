"""Catalog freshness through a real worker (issue 15): each path a change arrives by reaches the
storefront, which never serves the stale video, and only the segments whose inputs changed are
rendered again. (The Shopify webhook's and the feed sync's paths: tests/integrations and
tests/catalog/test_feeds.py.)"""

import csv
import io
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.importing import catalog_import
from catalog.models import Merchant, Product
from catalog.services import (
    brand_kit_update,
    membership_grant,
    product_image_add,
    product_update,
)
from personalization.services import bucket_policy_update
from rendering.models import Video
from tests.support import freshness
from tests.support.admin_walker import form_values
from tests.support.factories import make_merchant, make_product, photo_bytes
from tests.support.freshness import (
    all_videos_settled,
    rendered_since,
    served_anew,
    videos_made_by_the_worker,
    wait_until,
)

BUCKETS = ("generic", "climate=sunny")
pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker")]


@pytest.fixture
def shop() -> Merchant:
    merchant = make_merchant(slug="shades")
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate"],
        approved_buckets=["climate=sunny"],
        allow_public_hints=True,
    )
    return merchant


def lookup(client: Client, sku: str, **hints: str) -> dict[str, object]:
    return freshness.lookup(client, "shades", sku, **hints)


def product_with_videos(merchant: Merchant, sku: str, price: str = "59.00") -> Product:
    product = make_product(merchant, sku=sku, title=f"Sunglasses {sku}", price=price)
    videos_made_by_the_worker(product, BUCKETS)
    return product


def test_a_price_edit_is_never_served_stale_and_the_worker_swaps_the_new_video_in(
    client: Client, shop: Merchant
) -> None:
    glasses = product_with_videos(shop, "SUN-01")
    before = lookup(client, "SUN-01", climate="sunny")
    assert before["status"] == "ready"

    changed_at = timezone.now()
    product_update(product=glasses, price="49.00")
    during = lookup(client, "SUN-01", climate="sunny")
    assert during["src"] != before["src"]

    wait_until(
        served_anew(client, "shades", "SUN-01", before["src"], climate="sunny"),
        "the refreshed video",
    )
    video = Video.objects.get(product=glasses, bucket="climate=sunny")
    assert video.facts["price"] == "49.00"
    assert video.parts.get(segment__kind="offer").segment.plan["caption"] == "$49.00"
    # Generic and sunny share the new offer shot: one render, nothing else.
    wait_until(all_videos_settled, "both videos")
    assert rendered_since(changed_at) == ["offer"]


def test_a_re_import_refreshes_only_the_products_whose_rows_changed(
    client: Client, shop: Merchant
) -> None:
    def shopify_csv(prices: dict[str, str]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["Handle", "Title", "Variant SKU", "Variant Price"])
        for sku, price in prices.items():
            writer.writerow([sku.lower(), f"Sunglasses {sku}", sku, price])
        return out.getvalue().encode()

    catalog_import(
        merchant=shop, content=shopify_csv({"SUN-01": "59.00", "SUN-02": "59.00"}), filename="p.csv"
    )
    for product in Product.objects.filter(merchant=shop):
        product_image_add(product=product, filename="p.png", content=photo_bytes())
        videos_made_by_the_worker(product, BUCKETS)
    served = {sku: lookup(client, sku, climate="sunny")["src"] for sku in ("SUN-01", "SUN-02")}

    changed_at = timezone.now()
    report = catalog_import(
        merchant=shop, content=shopify_csv({"SUN-01": "45.00", "SUN-02": "59.00"}), filename="p.csv"
    )
    assert (report.updated, report.unchanged) == (["SUN-01"], ["SUN-02"])

    assert lookup(client, "SUN-01", climate="sunny")["src"] != served["SUN-01"]
    wait_until(
        served_anew(client, "shades", "SUN-01", served["SUN-01"], climate="sunny"),
        "SUN-01's new video",
    )
    wait_until(all_videos_settled, "every video")
    assert rendered_since(changed_at) == ["offer"]
    assert lookup(client, "SUN-02", climate="sunny")["src"] == served["SUN-02"]


def test_a_new_first_photo_reaches_the_storefront(client: Client, shop: Merchant) -> None:
    glasses = product_with_videos(shop, "SUN-01")
    before = lookup(client, "SUN-01", climate="sunny")

    product_image_add(
        product=glasses, filename="front.png", content=photo_bytes("#2A9D8F"), position=0
    )
    assert lookup(client, "SUN-01", climate="sunny")["src"] != before["src"]

    wait_until(
        served_anew(client, "shades", "SUN-01", before["src"], climate="sunny"),
        "the new photo's video",
    )
    wait_until(all_videos_settled, "both videos")
    video = Video.objects.get(product=glasses, bucket="climate=sunny")
    assert video.facts["image"] == glasses.images.order_by("position").first().content_hash


def test_new_brand_colors_play_the_old_video_until_the_new_one_is_ready(
    client: Client, shop: Merchant
) -> None:
    product_with_videos(shop, "SUN-01")
    before = lookup(client, "SUN-01", climate="sunny")

    brand_kit_update(merchant=shop, primary_color="#0B3D91")
    # Colors state no fact: every answer until the new version is ready plays the old one.
    deadline = time.monotonic() + 120
    while True:
        answer = lookup(client, "SUN-01", climate="sunny")
        assert answer["status"] == "ready" and answer["src"] is not None, answer
        if answer["src"] != before["src"]:
            break
        assert time.monotonic() < deadline, list(Video.objects.values("status", "error"))
        time.sleep(0.2)
    wait_until(all_videos_settled, "both videos")
    assert Video.objects.get(bucket="climate=sunny", product__sku="SUN-01").refresh_reason == ""


def test_an_archived_product_disappears_from_the_storefront_at_once(
    client: Client, shop: Merchant
) -> None:
    glasses = product_with_videos(shop, "SUN-01")
    assert lookup(client, "SUN-01")["http"] == 200

    product_update(product=glasses, status=Product.Status.ARCHIVED)

    assert lookup(client, "SUN-01")["http"] == 404
    # And the worker takes its files out of the public prefix (nothing left for a CDN).
    wait_until(
        lambda: not Video.objects.filter(product=glasses, file__startswith="public/").exists(),
        "the files withdrawn",
    )


def test_a_price_edited_in_the_admin_reaches_the_storefront(client: Client, shop: Merchant) -> None:
    glasses = product_with_videos(shop, "SUN-01")
    before = lookup(client, "SUN-01", climate="sunny")
    owner = get_user_model().objects.create_user("owner", password="pw", is_staff=True)
    membership_grant(merchant=shop, user=owner, role="owner")
    admin = Client()
    admin.force_login(owner)

    url = reverse("admin:catalog_product_change", args=[glasses.pk])
    page = admin.get(url)
    data = {"_save": "Save", **form_values(page.context["adminform"].form)}
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_values(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_values(form))
    data["price"] = "44.00"
    assert admin.post(url, data).status_code == 302

    assert lookup(client, "SUN-01", climate="sunny")["src"] != before["src"]
    wait_until(
        served_anew(client, "shades", "SUN-01", before["src"], climate="sunny"), "the new video"
    )
    wait_until(all_videos_settled, "both videos")
    assert Video.objects.get(product=glasses, bucket="climate=sunny").facts["price"] == "44.00"
