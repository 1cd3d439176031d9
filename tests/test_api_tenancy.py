"""Tenancy over every public URL, generated from the URL conf.

Every route outside the admin (tests/test_admin_tenancy.py walks that) is taken from the root
URL resolver when the test runs, and must have a probe here: merchant A, with everything A
holds (its shopper token secret, a signed token of its shopper, its storefront origin),
tries to read what merchant B does not publish (a draft product and its video) or to act on
B (count events on B's videos, mint tokens for B's shoppers, poke B's renders). A route
without a probe fails the suite, naming it, so a new endpoint cannot ship unexamined.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from catalog.models import Merchant, Product
from catalog.services import merchant_storefront_update, product_update, shopper_profile_upsert
from integrations.models import ShopifyWebhookReceipt
from integrations.shopify.connections import shopify_connection_set
from integrations.shopify.webhooks import webhook_apply
from personalization.services import bucket_policy_update
from personalization.tokens import shopper_token_issue
from rendering.models import Segment, Video
from rendering.remote import webhook_token
from storefront.models import VariantStats
from tests.support.factories import make_merchant, make_product, make_ready_video
from tests.support.protocols.shopify import sign as shopify_sign

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]
A_ORIGIN = "https://alpha.example.com"
SECRET_TITLE = "ZZ Bravo Unreleased Prototype"


@dataclass
class World:
    a: Merchant
    b: Merchant
    a_token: str
    b_public: Product
    b_draft: Product
    b_public_video: Video
    b_draft_video: Video


@pytest.fixture
def world() -> World:
    a = make_merchant(slug="alpha", name="Alpha Outfitters")
    b = make_merchant(slug="bravo", name="Bravo Provisions")
    merchant_storefront_update(merchant=a, storefront_origins=A_ORIGIN)
    for merchant in (a, b):
        bucket_policy_update(merchant=merchant, allow_public_hints=True)
    shopper_profile_upsert(
        merchant=a, external_id="alpha-1", climate="rainy", personalization_consent=True
    )
    shopper_profile_upsert(
        merchant=b, external_id="bravo-1", climate="snowy", personalization_consent=True
    )
    b_public = make_product(b, sku="PUBLIC", title="Bravo Camp Stove")
    b_draft = make_product(b, sku="DRAFT", title=SECRET_TITLE, color="#2E86AB")
    public_video = make_ready_video(b_public)
    draft_video = make_ready_video(b_draft)
    product_update(product=b_draft, status=Product.Status.DRAFT)
    return World(
        a=a,
        b=b,
        a_token=shopper_token_issue(merchant=a, external_id="alpha-1"),
        b_public=b_public,
        b_draft=b_draft,
        b_public_video=public_video,
        b_draft_video=draft_video,
    )


def public_routes() -> Iterator[str]:
    """Every named route outside the admin, as ``namespace:name``."""

    def walk(
        patterns: list[URLPattern | URLResolver], prefix: str, namespace: str
    ) -> Iterator[str]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/"):
                    continue
                yield from walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif pattern.name and not route.startswith(("admin/", "media/", "static/", "^media")):
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    yield from walk(get_resolver().url_patterns, "", "")


def no_secret(body: bytes) -> None:
    assert SECRET_TITLE.encode() not in body


def probe_lookup(client: Client, w: World) -> None:
    assert client.get("/api/v1/videos/bravo/DRAFT", {"st": w.a_token}).status_code == 404
    answer = client.get("/api/v1/videos/bravo/PUBLIC", {"st": w.a_token}).json()
    # A's shopper is nobody at B: the token is refused, never read as one of B's shoppers.
    assert "Shopper token ignored" in answer["warning"] and answer["source"] != "token"


def probe_events(client: Client, w: World) -> None:
    before = VariantStats.objects.filter(video__product__merchant=w.b).count()
    batch = {"merchant": "alpha", "events": [{"type": "impression", "video": w.b_public_video.pk}]}
    answer = client.post("/api/v1/events", json.dumps(batch), content_type="application/json")
    assert answer.status_code == 202 and answer.json()["accepted"] == 0
    as_b = {"merchant": "bravo", "events": [{"type": "click", "video": w.b_public_video.pk}]}
    refused = client.post(
        "/api/v1/events",
        json.dumps(as_b),
        content_type="application/json",
        headers={"Origin": A_ORIGIN},
    )
    assert refused.status_code == 403
    assert VariantStats.objects.filter(video__product__merchant=w.b).count() == before


def probe_shopper_tokens(client: Client, w: World) -> None:
    answer = client.post(
        "/api/v1/shopper-tokens",
        json.dumps({"merchant": "bravo", "shopper": "bravo-1"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {w.a.shopper_token_secret}"},
    )
    assert answer.status_code == 401 and "token" not in answer.json()


def probe_provenance(client: Client, w: World) -> None:
    response = client.get(f"/provenance/{w.b_draft_video.public_id}")
    assert response.status_code == 404
    no_secret(response.content)
    # The sequential id reaches nothing, not even a published video.
    assert client.get(f"/provenance/{w.b_public_video.pk}").status_code == 404
    assert client.get(f"/provenance/{w.b_public_video.public_id}").status_code == 200


def probe_shop(client: Client, w: World) -> None:
    response = client.get("/shop/bravo/")
    assert response.status_code == 200 and b"Bravo Camp Stove" in response.content
    no_secret(response.content)


def probe_product(client: Client, w: World) -> None:
    response = client.get("/shop/bravo/DRAFT")
    assert response.status_code == 404
    no_secret(response.content)


def probe_embed(client: Client, w: World) -> None:
    response = client.get("/embed/bravo/DRAFT")
    assert response.status_code == 404
    no_secret(response.content)


def probe_oembed(client: Client, w: World) -> None:
    response = client.get("/oembed", {"url": "http://testserver/shop/bravo/DRAFT"})
    assert response.status_code == 404
    no_secret(response.content)


def probe_webhook(client: Client, w: World) -> None:
    b_segment = Segment.objects.filter(merchant=w.b).first()
    assert b_segment is not None
    # A forged token, and B's real token under another provider's name: nothing is found.
    assert (
        client.post("/webhooks/local/forged", "{}", content_type="application/json").status_code
        == 404
    )
    token = webhook_token(b_segment)
    assert (
        client.post(f"/webhooks/kling/{token}", "{}", content_type="application/json").status_code
        == 404
    )


def probe_shopify_webhooks(client: Client, w: World) -> None:
    """A's shop signs a deletion of B's product: sent as B's shop the signature fails (401),
    sent as A's own shop it is recorded as A's and leaves B's product alone."""
    secrets = {"alpha": "alpha-webhook-secret", "bravo": "bravo-webhook-secret"}
    for merchant in (w.a, w.b):
        shopify_connection_set(
            merchant=merchant,
            shop_domain=f"{merchant.slug}.myshopify.com",
            webhook_secret=secrets[merchant.slug],
        )
    product_update(product=w.b_public, attributes={**w.b_public.attributes, "shopify_id": 77})
    body = json.dumps({"id": 77}).encode()

    def deliver(shop: str) -> int:
        headers = {
            "X-Shopify-Topic": "products/delete",
            "X-Shopify-Hmac-Sha256": shopify_sign(body, secrets["alpha"]),
            "X-Shopify-Shop-Domain": f"{shop}.myshopify.com",
            "X-Shopify-Webhook-Id": f"probe-{shop}",
        }
        url = reverse("integrations:shopify-webhooks")
        return client.post(url, body, content_type="application/json", headers=headers).status_code

    assert deliver("bravo") == 401
    assert deliver("alpha") == 200
    receipt = ShopifyWebhookReceipt.objects.get(webhook_id="probe-alpha")
    assert receipt.merchant_id == w.a.pk
    webhook_apply(receipt_id=receipt.pk)
    assert Product.objects.filter(pk=w.b_public.pk).exists()


def probe_no_merchant_data(path: str) -> Callable[[Client, World], None]:
    def probe(client: Client, w: World) -> None:
        response = client.get(path, follow=True)
        assert response.status_code == 200
        no_secret(response.content)

    return probe


PROBES: dict[str, Callable[[Client, World], None]] = {
    "storefront:video-lookup": probe_lookup,
    "storefront:events": probe_events,
    "storefront:shopper-tokens": probe_shopper_tokens,
    "storefront:provenance": probe_provenance,
    "storefront:shop": probe_shop,
    "storefront:product": probe_product,
    "storefront:embed": probe_embed,
    "storefront:oembed": probe_oembed,
    "rendering-webhook": probe_webhook,
    "integrations:shopify-webhooks": probe_shopify_webhooks,
    "storefront:home": probe_no_merchant_data("/"),
    "storefront:healthz": probe_no_merchant_data("/healthz"),
    "storefront:api-schema": probe_no_merchant_data("/api/schema/"),
}


def test_every_public_route_has_a_tenancy_probe() -> None:
    missing = sorted(set(public_routes()) - set(PROBES))
    assert not missing, (
        f"Add a tenancy probe to tests/test_api_tenancy.py for: {', '.join(missing)}"
    )


@pytest.mark.parametrize("route", sorted(PROBES))
def test_merchant_a_cannot_reach_what_merchant_b_does_not_publish(
    route: str, world: World, client: Client
) -> None:
    assert route in set(public_routes()), f"{route} is no longer routed: drop its probe"
    PROBES[route](client, world)
