import pytest
from django.urls import reverse

from personalization.context import ShopperContext
from rendering.services import segment_render, video_assemble, video_request
from tests.factories import make_merchant, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def ready_video(product, context: str) -> None:  # type: ignore[no-untyped-def]
    request = video_request(product=product, context=ShopperContext.parse(context), aspect="16:9")
    for segment in request.segments:
        segment_render(segment=segment)
    video_assemble(video=request.video)


def lookup(client, merchant: str, sku: str, **params: str):  # type: ignore[no-untyped-def]
    url = reverse("storefront:video-lookup", args=[merchant, sku])
    return client.get(url, params)


def test_home_page_explains_how_to_seed_when_there_is_no_demo_shop(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 200
    assert "seed_demo" in response.content.decode()


def test_home_page_lists_the_demo_products_with_their_state(client) -> None:  # type: ignore[no-untyped-def]
    merchant = make_merchant(slug="demo", name="Northwind Outfitters")
    jacket = make_product(merchant, sku="JACKET", title="Stormline Rain Jacket", price="129.00")
    make_product(merchant, sku="MUG", title="Campfire Enamel Mug", price="18.00", color="#2E86AB")
    ready_video(jacket, "generic")
    page = client.get("/").content.decode()
    assert "Northwind Outfitters" in page
    assert "Stormline Rain Jacket" in page and "Campfire Enamel Mug" in page
    assert "$129.00" in page
    assert ".mp4" in page  # the jacket's generic video is on the page
    assert "Not generated yet" in page  # the mug has none


def test_lookup_returns_the_exact_variant_when_ready(client) -> None:  # type: ignore[no-untyped-def]
    product = make_product(make_merchant(slug="shop"), sku="JACKET")
    ready_video(product, "climate=rainy")
    body = lookup(client, "shop", "JACKET", aspect="16:9", climate="rainy").json()
    assert body["status"] == "ready"
    assert body["variant"] == "climate=rainy"
    assert body["personalized"] is True
    assert body["src"].startswith("http://testserver/media/videos/shop/") and body["src"].endswith(
        ".mp4"
    )
    assert body["poster"].endswith(".jpg")


def test_lookup_falls_back_to_a_ready_variant_then_reports_pending(client) -> None:  # type: ignore[no-untyped-def]
    product = make_product(make_merchant(slug="shop"), sku="JACKET")
    pending = lookup(client, "shop", "JACKET", climate="snowy").json()
    assert pending == {
        "status": "pending",
        "src": None,
        "poster": None,
        "variant": "climate=snowy",
        "personalized": False,
        "requested": "missing",
    }
    ready_video(product, "generic")
    body = lookup(client, "shop", "JACKET", climate="snowy").json()
    assert body["status"] == "fallback"
    assert body["requested"] == "missing"
    assert body["variant"] == "generic"
    assert body["personalized"] is False
    assert body["src"].endswith(".mp4")


@pytest.mark.parametrize(
    ("merchant", "sku", "params", "status", "message"),
    [
        ("nope", "JACKET", {}, 404, "No merchant"),
        ("shop", "NOPE", {}, 404, "no product with SKU 'NOPE'"),
        ("shop", "JACKET", {"aspect": "4:3"}, 400, "Unknown aspect"),
        ("shop", "JACKET", {"climate": "foggy"}, 400, "climate='foggy'"),
    ],
)
def test_lookup_errors_are_json_with_a_reason(
    client, merchant, sku, params, status, message
) -> None:  # type: ignore[no-untyped-def]
    make_product(make_merchant(slug="shop"), sku="JACKET")
    response = lookup(client, merchant, sku, **params)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_lookup_says_when_the_requested_variant_is_rendering_or_failed(client) -> None:  # type: ignore[no-untyped-def]
    product = make_product(make_merchant(slug="shop"), sku="JACKET")
    request = video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="16:9"
    )
    assert lookup(client, "shop", "JACKET", climate="rainy").json()["requested"] == "rendering"
    product.images.all().delete()  # the render cannot find its input any more
    with pytest.raises(Exception, match="no longer exists"):
        segment_render(segment=request.segments[0])
    body = lookup(client, "shop", "JACKET", climate="rainy").json()
    assert body["status"] == "pending"
    assert body["requested"] == "failed"
    assert "no longer exists" in body["error"]
