"""The video lookup: context resolution, bucket policy, fallbacks, single enqueue, headers."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product, ProductImage
from catalog.services import merchant_storefront_update, product_update, shopper_profile_upsert
from personalization.context import ShopperContext
from personalization.services import bucket_policy_update
from personalization.tokens import shopper_token_issue
from rendering.models import Video
from rendering.services import segment_render, video_request
from tests.support.factories import make_merchant, make_product, make_ready_video
from tests.support.open_meteo import CLEAR, RAIN, OpenMeteoServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def lookup(
    client: Client, merchant: str, sku: str, headers: dict[str, str] | None = None, **params: str
):  # type: ignore[no-untyped-def]
    url = reverse("storefront:video-lookup", args=[merchant, sku])
    return client.get(url, params, headers=headers or {})


@pytest.fixture
def shop() -> tuple[Merchant, Product]:
    """A shop that counts climate, aesthetic and time, allows hints and approves two variants;
    its jacket has the generic and the rainy video ready."""
    merchant = make_merchant(slug="shop")
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate", "aesthetic", "time"],
        approved_buckets=["climate=rainy", "climate=rainy,aesthetic=minimalist"],
        allow_public_hints=True,
    )
    jacket = make_product(merchant, sku="JACKET")
    make_ready_video(jacket, "generic")
    make_ready_video(jacket, "climate=rainy")
    return merchant, jacket


def test_the_exact_variant_when_it_is_ready(client: Client, shop: tuple[Merchant, Product]) -> None:
    response = lookup(client, "shop", "JACKET", aspect="16:9", climate="rainy")
    body = response.json()
    assert body["status"] == "ready"
    assert body["variant"] == "climate=rainy"
    assert body["personalized"] is True
    assert body["requested"] == "ready"
    assert body["source"] == "hints"
    video = Video.objects.get(product=shop[1], bucket="climate=rainy")
    assert body["video"] == video.pk
    assert body["src"] == f"http://testserver/media/{video.file.name}"
    assert body["poster"].endswith(".jpg")
    # Where it comes from, by the video's unguessable id; the page answers.
    assert body["provenance"] == f"http://testserver/provenance/{video.public_id}"
    assert client.get(body["provenance"]).status_code == 200
    # A CDN may keep it briefly and serve it stale while it revalidates.
    # A CDN keeps a ready answer at most 15 + 15 s: the bound on serving a withdrawn video.
    assert response["Cache-Control"] == "public, max-age=15, stale-while-revalidate=15"


def test_a_missing_approved_variant_falls_back_and_is_queued_once(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    jacket = shop[1]
    first = lookup(client, "shop", "JACKET", climate="rainy", aesthetic="minimalist").json()
    # The best ready stand-in at once: rainy (aesthetic dropped), not generic.
    assert first["status"] == "fallback"
    assert first["variant"] == "climate=rainy"
    assert first["requested"] == "rendering"
    queued = Video.objects.get(product=jacket, bucket="climate=rainy,aesthetic=minimalist")
    assert queued.status == Video.Status.PENDING
    for _ in range(5):
        lookup(client, "shop", "JACKET", climate="rainy", aesthetic="minimalist")
    assert Video.objects.filter(product=jacket).count() == 3
    queued.refresh_from_db()
    assert queued.recipe_key == ""  # still waiting for its one planning task


def test_an_unapproved_variant_never_triggers_a_render(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    body = lookup(client, "shop", "JACKET", climate="snowy", time="night").json()
    # Nothing better is coming: the generic video is this shopper's final answer.
    assert body["status"] == "ready"
    assert body["variant"] == "generic"
    assert body["requested"] == "unapproved"
    assert body["personalized"] is False
    assert set(Video.objects.values_list("bucket", flat=True)) == {"generic", "climate=rainy"}


def test_dimensions_are_dropped_in_a_fixed_order(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    make_ready_video(shop[1], "aesthetic=minimalist")
    # rainy+minimalist+night is not approved: time goes first, then aesthetic, so the rainy
    # video (climate kept) stands in rather than the minimalist one.
    body = lookup(
        client, "shop", "JACKET", climate="rainy", aesthetic="minimalist", time="night"
    ).json()
    assert body["variant"] == "climate=rainy"
    assert body["status"] == "fallback"
    assert body["requested"] == "rendering"  # rainy+minimalist is approved and now queued
    make_ready_video(shop[1], "climate=rainy,aesthetic=minimalist")
    final = lookup(
        client, "shop", "JACKET", climate="rainy", aesthetic="minimalist", time="night"
    ).json()
    # The best approved variant for this shopper: nothing better is coming.
    assert (final["status"], final["variant"], final["requested"]) == (
        "ready", "climate=rainy,aesthetic=minimalist", "unapproved",
    )  # fmt: skip


def test_dimensions_the_merchant_does_not_count_are_ignored(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    body = lookup(client, "shop", "JACKET", climate="rainy", season="winter", locale="de-DE").json()
    assert (body["status"], body["variant"]) == ("ready", "climate=rainy")


def test_hints_are_ignored_when_the_merchant_does_not_allow_them(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    bucket_policy_update(merchant=shop[0], allow_public_hints=False)
    body = lookup(client, "shop", "JACKET", climate="rainy").json()
    assert (body["variant"], body["personalized"], body["source"]) == ("generic", False, "signals")
    # Not even validated: a page cannot make the API fail with them.
    assert lookup(client, "shop", "JACKET", climate="foggy").status_code == 200


def test_country_header_gives_the_climate(client: Client, shop: tuple[Merchant, Product]) -> None:
    bucket_policy_update(merchant=shop[0], allow_public_hints=False)
    response = lookup(client, "shop", "JACKET", headers={"CF-IPCountry": "GB"})
    assert response.json()["variant"] == "climate=rainy"
    assert response.json()["source"] == "signals"
    vary = {v.strip() for v in response["Vary"].split(",")}
    assert {"Origin", "CF-IPCountry", "X-Country-Code", "Sec-GPC"} <= vary
    assert "Accept-Language" not in vary  # locale is not one of this shop's dimensions
    assert lookup(client, "shop", "JACKET", headers={"X-Country-Code": "gb"}).json()["variant"] == (
        "climate=rainy"
    )


def test_a_signed_token_serves_the_shoppers_profile(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant = shop[0]
    shopper_profile_upsert(
        merchant=merchant, external_id="c-1", climate="rainy", personalization_consent=True
    )
    token = shopper_token_issue(merchant=merchant, external_id="c-1")
    # The profile outranks the page's hint.
    response = lookup(client, "shop", "JACKET", st=token, climate="snowy")
    assert response.json()["variant"] == "climate=rainy"
    assert response.json()["source"] == "profile"
    assert response["Cache-Control"] == "private, max-age=15"
    # While a named shopper's variant renders, their page polls: no long-lived copy.
    shopper_profile_upsert(merchant=merchant, external_id="c-1", aesthetic="minimalist")
    pending = lookup(client, "shop", "JACKET", st=token)
    assert pending.json()["status"] == "fallback"
    assert pending["Cache-Control"] == "private, max-age=5"


def test_bad_tokens_are_ignored_never_serving_that_shoppers_variant(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant = shop[0]
    shopper_profile_upsert(
        merchant=merchant, external_id="c-1", climate="rainy", personalization_consent=True
    )
    rival = make_merchant(slug="rival")
    good = shopper_token_issue(merchant=merchant, external_id="c-1")
    bad_tokens = {
        "forged": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "expired": shopper_token_issue(merchant=merchant, external_id="c-1", ttl=-1),
        "another shop's": shopper_token_issue(merchant=rival, external_id="c-1"),
        "garbage": "not-a-token",
    }
    for label, token in bad_tokens.items():
        body = lookup(client, "shop", "JACKET", st=token).json()
        assert body["variant"] == "generic", label
        assert body["source"] == "signals", label
        assert body["warning"].startswith("Shopper token ignored"), label


def test_shoppers_without_consent_get_the_generic_video(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant = shop[0]
    shopper_profile_upsert(
        merchant=merchant, external_id="c-2", climate="rainy", personalization_consent=False
    )
    token = shopper_token_issue(merchant=merchant, external_id="c-2")
    assert lookup(client, "shop", "JACKET", st=token).json()["variant"] == "generic"
    assert lookup(client, "shop", "JACKET", climate="rainy", consent="0").json()["variant"] == (
        "generic"
    )
    gpc = lookup(client, "shop", "JACKET", climate="rainy", headers={"Sec-GPC": "1"}).json()
    assert (gpc["variant"], gpc["source"]) == ("generic", "none")
    bucket_policy_update(merchant=merchant, require_consent=True)
    assert lookup(client, "shop", "JACKET", climate="rainy").json()["variant"] == "generic"
    agreed = lookup(client, "shop", "JACKET", climate="rainy", consent="1").json()
    assert agreed["variant"] == "climate=rainy"


def test_the_holdout_share_gets_the_generic_video(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    bucket_policy_update(merchant=shop[0], holdout_percent=20)
    held = lookup(client, "shop", "JACKET", climate="rainy", cohort="7").json()
    assert (held["variant"], held["holdout"], held["personalized"]) == ("generic", True, False)
    treated = lookup(client, "shop", "JACKET", climate="rainy", cohort="20").json()
    assert (treated["variant"], treated["holdout"]) == ("climate=rainy", False)


def test_a_video_that_becomes_ready_is_served_at_once_despite_the_cache(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    first = lookup(client, "shop", "JACKET", climate="rainy", aesthetic="minimalist").json()
    assert first["status"] == "fallback"
    make_ready_video(shop[1], "climate=rainy,aesthetic=minimalist")
    now = lookup(client, "shop", "JACKET", climate="rainy", aesthetic="minimalist").json()
    assert (now["status"], now["variant"]) == ("ready", "climate=rainy,aesthetic=minimalist")


def test_a_failed_variant_says_why_and_plays_the_fallback(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    request = video_request(
        product=shop[1], context=ShopperContext.parse("climate=rainy,aesthetic=minimalist"),
        aspect="16:9",
    )  # fmt: skip
    # The render cannot find its input any more (the product's photo itself is unchanged, so
    # the generic video still states the product truly).
    ProductImage.objects.filter(product=shop[1]).update(cutout_hash="gone")
    with pytest.raises(Exception, match="no longer exists"):
        segment_render(segment=next(s for s in request.segments if s.kind == "scene"))
    body = lookup(client, "shop", "JACKET", climate="rainy", aesthetic="minimalist").json()
    assert (body["status"], body["requested"]) == ("fallback", "failed")
    assert "no longer exists" in body["error"]


def test_a_shop_with_nothing_ready_queues_the_generic_video(client: Client) -> None:
    merchant = make_merchant(slug="new-shop")
    product = make_product(merchant, sku="MUG")
    body = lookup(client, "new-shop", "MUG", climate="rainy").json()
    assert body == {
        "status": "pending",
        "src": None,
        "poster": None,
        "variant": "generic",
        "personalized": False,
        "requested": "rendering",
        "video": None,
        "provenance": None,
        "holdout": False,
        "source": "signals",
    }
    # No policy: hints are not allowed and only the generic video is rendered on demand.
    assert list(Video.objects.filter(product=product).values_list("bucket", flat=True)) == [
        "generic"
    ]


def test_with_nothing_ready_the_generic_video_is_queued_beside_the_shoppers(
    client: Client,
) -> None:
    merchant = make_merchant(slug="new-shop")
    bucket_policy_update(
        merchant=merchant, approved_buckets=["climate=rainy"], allow_public_hints=True
    )
    product = make_product(merchant, sku="MUG")
    body = lookup(client, "new-shop", "MUG", climate="rainy").json()
    assert (body["status"], body["variant"], body["requested"]) == (
        "pending",
        "climate=rainy",
        "rendering",
    )
    assert set(Video.objects.filter(product=product).values_list("bucket", flat=True)) == {
        "generic", "climate=rainy",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("merchant", "sku", "params", "status", "message"),
    [
        ("nope", "JACKET", {}, 404, "No merchant with slug 'nope'"),
        ("shop", "NOPE", {}, 404, "no product with SKU 'NOPE'"),
        ("shop", "DRAFT", {}, 404, "no product with SKU 'DRAFT'"),
        ("shop", "JACKET", {"aspect": "4:3"}, 400, "Unknown aspect"),
        ("shop", "JACKET", {"climate": "foggy"}, 400, "climate='foggy'"),
    ],
)
def test_errors_are_json_with_a_reason(
    client: Client,
    shop: tuple[Merchant, Product],
    merchant: str,
    sku: str,
    params: dict[str, str],
    status: int,
    message: str,
) -> None:
    product_update(product=make_product(shop[0], sku="DRAFT", with_image=False), status="draft")
    response = lookup(client, merchant, sku, **params)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]


def test_only_the_merchants_own_origins_may_read_it_from_a_browser(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    merchant_storefront_update(
        merchant=shop[0], storefront_origins="https://shop.example.com\nhttps://www.example.com/"
    )
    allowed = lookup(client, "shop", "JACKET", headers={"Origin": "https://www.example.com"})
    assert allowed["Access-Control-Allow-Origin"] == "https://www.example.com"
    other = lookup(client, "shop", "JACKET", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in other
    assert "Origin" in other["Vary"]


def test_the_openapi_schema_is_served(client: Client) -> None:
    response = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "Scenecart storefront API"
    paths = schema["paths"]
    assert "/api/v1/videos/{merchant}/{sku}" in paths
    assert "/api/v1/events" in paths and "/api/v1/shopper-tokens" in paths
    ok = paths["/api/v1/videos/{merchant}/{sku}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("VideoLookup")


def test_health_check(client: Client) -> None:
    assert client.get("/healthz").json() == {"ok": True}


def test_todays_weather_refines_the_countrys_climate(
    client: Client, shop: tuple[Merchant, Product], open_meteo: OpenMeteoServer
) -> None:
    bucket_policy_update(merchant=shop[0], allow_public_hints=False)
    seattle = {"CF-IPCountry": "US", "CF-IPLatitude": "47.6062", "CF-IPLongitude": "-122.3321"}
    open_meteo.weather_code = CLEAR
    assert lookup(client, "shop", "JACKET", headers=seattle).json()["variant"] == "generic"
    # The US's typical climate is sunny (no sunny video: generic stands in); rain today in
    # another grid cell turns it into the rainy video.
    open_meteo.weather_code = RAIN
    portland = {**seattle, "CF-IPLatitude": "45.5152", "CF-IPLongitude": "-122.6784"}
    response = lookup(client, "shop", "JACKET", headers=portland)
    assert response.json()["variant"] == "climate=rainy"
    assert "CF-IPLatitude" in response["Vary"]
    assert open_meteo.request_count == 2


def test_without_the_weather_service_the_country_climate_stands(
    client: Client, shop: tuple[Merchant, Product]
) -> None:
    # The test settings point the weather at a closed port: the lookup still answers.
    bucket_policy_update(merchant=shop[0], allow_public_hints=False)
    london = {"CF-IPCountry": "GB", "CF-IPLatitude": "51.5", "CF-IPLongitude": "-0.12"}
    assert lookup(client, "shop", "JACKET", headers=london).json()["variant"] == "climate=rainy"
