"""The content policy as the rendering core applies it: before any backend, key or row."""

from decimal import Decimal

import pytest
from django.test import Client
from pytest_django import Settings

from catalog.services import product_update
from personalization.content_policy import content_policy_update
from personalization.context import ShopperContext
from personalization.services import bucket_policy_update
from rendering.bulk import generation_estimate
from rendering.models import Segment, Video
from rendering.routing import render_routing_update
from rendering.services import segment_specs, video_request
from tests.support.factories import make_merchant, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def test_a_refused_product_fails_its_variant_with_the_term_and_field_and_queues_nothing(
    client: Client,
) -> None:
    merchant = make_merchant(slug="shop")
    bucket_policy_update(merchant=merchant, allow_public_hints=True)
    product = make_product(merchant, sku="MUG", title="Spider-Man Coffee Mug", price="12.00")

    request = video_request(product=product, context=ShopperContext(), aspect="16:9")

    assert request.segments == [] and request.to_render == []
    assert Segment.objects.count() == 0
    video = Video.objects.get(pk=request.video.pk)
    assert video.status == Video.Status.FAILED
    assert "'Spider-Man' in product title is a protected character" in video.error
    answer = client.get("/api/v1/videos/shop/MUG").json()
    assert answer["src"] is None and answer["requested"] == "failed"
    assert "Spider-Man" in answer["error"]


def test_the_estimate_lists_refused_products_and_counts_only_the_others() -> None:
    merchant = make_merchant(slug="shop")
    fine = make_product(merchant, sku="JACKET")
    refused = make_product(merchant, sku="CAPE", title="Batman Cape", color="#111111")
    estimate = generation_estimate(
        merchant=merchant,
        products=[fine, refused],
        contexts=[ShopperContext()],
        aspects=["16:9"],
        backend="local",
    )
    assert estimate.videos == 1
    assert list(estimate.refused) == ["CAPE"]
    assert "'Batman' in product title" in estimate.refused["CAPE"]


def test_a_merchants_own_term_is_refused_and_an_allowed_one_passes() -> None:
    merchant = make_merchant(slug="shop")
    content_policy_update(merchant=merchant, extra_terms="Glimmerwolf")
    product = make_product(merchant, sku="TOY", title="Plush wolf")
    product_update(product=product, description="Our Glimmerwolf friend")
    assert video_request(product=product, context=ShopperContext(), aspect="16:9").video.status == (
        Video.Status.FAILED
    )
    other = make_merchant(slug="other")
    assert (
        video_request(
            product=make_product(other, sku="TOY", title="Plush wolf", price=str(Decimal("9"))),
            context=ShopperContext(),
            aspect="16:9",
        ).video.status
        == Video.Status.PENDING
    )


def test_licensed_assets_only_keeps_providers_on_image_to_video(settings: Settings) -> None:
    settings.SCENECART_BACKENDS = {
        **settings.SCENECART_BACKENDS,
        "kling": {
            "BACKEND": "providers.kling.KlingBackend",
            "OPTIONS": {"api_key": "a:b", "base_url": "http://127.0.0.1:9"},
        },
    }
    merchant = make_merchant(slug="shop")
    render_routing_update(merchant_id=merchant.pk, default_backend="kling")
    content_policy_update(merchant=merchant, licensed_assets_only=True)
    product = make_product(merchant)
    backends = {
        s.plan.kind: s.backend.alias
        for s in segment_specs(product=product, context=ShopperContext(), aspect="16:9")
    }
    # The outro shows no product image: on a provider it would be text-to-video.
    assert backends == {"hero": "kling", "scene": "kling", "offer": "kling", "outro": "local"}
    without_image = make_product(merchant, sku="NOIMG", with_image=False)
    video = video_request(product=without_image, context=ShopperContext(), aspect="16:9").video
    assert video.status == Video.Status.FAILED and "NOIMG" in video.error
