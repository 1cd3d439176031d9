"""Hostile or absurd request bodies get a 400 that says what was wrong, never a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from rendering.models import Video
from storefront.models import VariantStats
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db

# Far deeper than Python's recursion limit: the stdlib decoder recurses once per bracket.
DEEPLY_NESTED = "[" * 5000


@pytest.mark.parametrize(
    ("endpoint", "content_type"),
    [
        ("storefront:events", "application/json"),
        ("storefront:events", "text/plain;charset=UTF-8"),  # what sendBeacon sends
        ("storefront:shopper-tokens", "application/json"),
    ],
)
def test_a_body_nested_too_deeply_is_a_bad_request(
    client: Client, endpoint: str, content_type: str
) -> None:
    response = client.post(reverse(endpoint), DEEPLY_NESTED, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "nested too deeply" in response.json()["error"]


def test_a_video_id_beyond_any_video_is_named_like_other_bad_fields(client: Client) -> None:
    shop = make_merchant(slug="shop")
    product = make_product(shop, with_image=False)
    video = Video.objects.create(product=product, bucket="generic", aspect="16:9", recipe_key="r")
    response = client.post(
        reverse("storefront:events"),
        {"merchant": "shop", "events": [
            {"type": "play", "video": 99999999999999999999999},
            {"type": "play", "video": video.pk},
        ]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    body = response.json()
    assert set(body["fields"]) == {"events[0].video"}
    assert "events[0].video" in body["error"]
    assert not VariantStats.objects.exists()  # nothing of the batch is counted


def test_a_sku_with_a_line_break_gets_the_apis_json_404(client) -> None:  # type: ignore[no-untyped-def]
    """Found by the schema fuzz: the resolver stopped at the line break and answered HTML."""
    make_merchant(slug="alpha")
    response = client.get("/api/v1/videos/alpha/SKU%0A")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "SKU" in response.json()["error"]
