"""Playback events: counted per variant, day and group; bad input named; origins enforced."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant
from catalog.services import merchant_storefront_update
from rendering.models import Video
from storefront.models import VariantStats
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db


def a_video(merchant: Merchant, bucket: str = "generic") -> Video:
    product = make_product(merchant, with_image=False)
    return Video.objects.create(product=product, bucket=bucket, aspect="16:9", recipe_key="r")


def post(
    client: Client, body: object, content_type: str = "text/plain;charset=UTF-8", origin: str = ""
):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("storefront:events"),
        json.dumps(body),
        content_type=content_type,
        headers={"Origin": origin} if origin else {},
    )


def test_a_beacon_batch_becomes_counters(client: Client) -> None:
    shop = make_merchant(slug="shop")
    rainy, generic = a_video(shop, "climate=rainy"), a_video(shop)
    events = [
        {"type": "impression", "video": rainy.pk},
        {"type": "play", "video": rainy.pk},
        {"type": "progress", "video": rainy.pk, "quartile": 25},
        {"type": "progress", "video": rainy.pk, "quartile": 50},
        {"type": "complete", "video": rainy.pk},
        {"type": "click", "video": rainy.pk},
        {"type": "impression", "video": rainy.pk},
        {"type": "impression", "video": generic.pk, "holdout": True},
    ]
    response = post(client, {"merchant": "shop", "events": events})
    assert response.status_code == 202
    assert response.json() == {"accepted": 8, "rejected": []}
    stats = VariantStats.objects.get(video=rainy, holdout=False)
    assert (stats.impressions, stats.plays, stats.progress_25, stats.progress_50) == (2, 1, 1, 1)
    assert (stats.progress_75, stats.completes, stats.clicks) == (0, 1, 1)
    assert VariantStats.objects.get(video=generic, holdout=True).impressions == 1
    # A second batch adds to the same rows: one row per variant, day and group.
    post(client, {"merchant": "shop", "events": events[:1]}, content_type="application/json")
    assert VariantStats.objects.count() == 2
    assert VariantStats.objects.get(video=rainy, holdout=False).impressions == 3


def test_a_bad_event_is_named_and_nothing_of_the_batch_is_counted(client: Client) -> None:
    shop = make_merchant(slug="shop")
    video = a_video(shop)
    response = post(
        client,
        {"merchant": "shop", "events": [
            {"type": "play", "video": video.pk},
            {"type": "progress", "video": video.pk},
            {"type": "dance", "video": video.pk},
        ]},
    )  # fmt: skip
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "events[1].quartile" in fields and "events[2].type" in fields
    assert "progress event needs a quartile" in response.json()["error"]
    assert not VariantStats.objects.exists()
    assert post(client, "not json at all").status_code == 400
    assert post(client, {"merchant": "shop", "events": []}).status_code == 400


def test_another_shops_video_is_rejected_by_index_and_the_rest_kept(client: Client) -> None:
    shop, rival = make_merchant(slug="shop"), make_merchant(slug="rival")
    mine, theirs = a_video(shop), a_video(rival)
    response = post(
        client,
        {"merchant": "shop", "events": [
            {"type": "play", "video": mine.pk}, {"type": "play", "video": theirs.pk},
        ]},
    )  # fmt: skip
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["index"] == 1
    assert VariantStats.objects.get(video=mine).plays == 1
    assert not VariantStats.objects.filter(video=theirs).exists()


def test_browsers_may_post_only_from_the_merchants_origins(client: Client) -> None:
    shop = make_merchant(slug="shop")
    merchant_storefront_update(merchant=shop, storefront_origins="https://shop.example.com")
    video = a_video(shop)
    batch = {"merchant": "shop", "events": [{"type": "play", "video": video.pk}]}
    refused = post(client, batch, origin="https://evil.example.net")
    assert refused.status_code == 403
    assert "https://evil.example.net is not one of 'shop'" in refused.json()["error"]
    assert not VariantStats.objects.exists()
    allowed = post(client, batch, origin="https://shop.example.com")
    assert allowed.status_code == 202
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example.com"
    # A JSON post from the merchant's page is preflighted; other origins get no permission.
    url = reverse("storefront:events")
    preflight = client.options(url, headers={"Origin": "https://shop.example.com"})
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in client.options(
        url, headers={"Origin": "https://evil.example.net"}
    )


def test_events_are_rate_limited_per_client(
    client: Client, settings: pytest.FixtureRequest
) -> None:
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    shop = make_merchant(slug="shop")
    video = a_video(shop)
    batch = {"merchant": "shop", "events": [{"type": "play", "video": video.pk}]}
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "events": "3/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates  # DRF reads its rates once, at import
    try:
        codes = [post(client, batch).status_code for _ in range(4)]
        limited = post(client, batch)
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes == [202, 202, 202, 429]
    assert "throttled" in limited.json()["error"].lower()
    assert int(limited["Retry-After"]) > 0
    assert VariantStats.objects.get(video=video).plays == 3
