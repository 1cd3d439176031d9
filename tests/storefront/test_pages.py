"""The storefront's pages as HTML and JSON: the demo shop, the iframe player and oEmbed."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from pytest_django import Settings

from catalog.models import Merchant, Product
from catalog.services import (
    membership_grant,
    merchant_storefront_update,
    product_update,
    shopper_profile_upsert,
)
from personalization.services import bucket_policy_update
from personalization.tokens import shopper_token_read
from storefront import pages
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

DISCOVERY = re.compile(
    r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)" title="([^"]+)">'
)


@pytest.fixture
def shop(settings: Settings) -> Merchant:
    merchant = make_merchant(slug=settings.SCENECART_DEMO_MERCHANT, name="Northwind Outfitters")
    make_product(merchant, sku="JACKET", title="Stormline Rain Jacket", price="129.00")
    make_product(merchant, sku="MUG", title="Campfire Enamel Mug", price="18.00")
    return merchant


def oembed(client: Client, url: str, **params: str):  # type: ignore[no-untyped-def]
    return client.get(reverse("storefront:oembed"), {"url": url, **params})


# --- The demo shop ----------------------------------------------------------------------------


def test_the_root_sends_visitors_to_the_demo_shop(settings: Settings) -> None:
    settings.SCENECART_DEMO_MERCHANT = "northwind"
    response = pages.home(RequestFactory().get("/"))
    assert response.status_code == 302
    assert response["Location"] == "/shop/northwind/"


def test_the_shop_grid_lists_products_with_prices_and_video_tags(
    client: Client, shop: Merchant
) -> None:
    response = client.get("/shop/demo/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Northwind Outfitters" in page
    assert "Stormline Rain Jacket" in page and "$129.00" in page
    assert "Campfire Enamel Mug" in page and "$18.00" in page
    assert '<scenecart-video merchant="demo" sku="JACKET" aspect="16:9">' in page
    assert '<scenecart-video merchant="demo" sku="MUG" aspect="16:9">' in page
    assert 'href="/shop/demo/JACKET"' in page
    assert "/static/scenecart/embed.js" in page


def test_the_shop_grid_leaves_out_products_that_are_not_published(
    client: Client, shop: Merchant
) -> None:
    product_update(product=Product.objects.get(sku="MUG"), status=Product.Status.DRAFT)
    page = client.get("/shop/demo/").content.decode()
    assert "Stormline Rain Jacket" in page
    assert "Campfire Enamel Mug" not in page
    assert client.get("/shop/demo/MUG").status_code == 404


def test_a_missing_demo_shop_tells_the_operator_how_to_make_it(client: Client) -> None:
    response = client.get("/shop/demo/")
    assert response.status_code == 200
    assert "python manage.py seed_demo" in response.content.decode()


def test_an_unknown_shop_is_not_found(client: Client, shop: Merchant) -> None:
    response = client.get("/shop/nowhere/")
    assert response.status_code == 404
    assert "No shop “nowhere”" in response.content.decode()


def add_demo_shoppers(shop: Merchant) -> None:
    shopper_profile_upsert(
        merchant=shop, external_id="shopper-seattle", country="US", region="WA",
        climate="rainy", aesthetic="minimalist", personalization_consent=True,
    )  # fmt: skip
    shopper_profile_upsert(
        merchant=shop, external_id="shopper-berlin", country="DE", climate="overcast",
        aesthetic="luxury", personalization_consent=False,
    )  # fmt: skip


def allow_hints(shop: Merchant) -> None:
    bucket_policy_update(
        merchant=shop,
        dimensions=["climate", "aesthetic"],
        approved_buckets=["climate=rainy,aesthetic=minimalist"],
        allow_public_hints=True,
    )


def test_the_public_product_page_offers_demo_personas_without_ids_or_tokens(
    client: Client, shop: Merchant
) -> None:
    add_demo_shoppers(shop)
    allow_hints(shop)
    response = client.get("/shop/demo/JACKET")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Stormline Rain Jacket</h1>" in page
    assert "$129.00" in page
    assert 'id="product-video" merchant="demo" sku="JACKET" aspect="16:9"' in page
    options = re.findall(
        r'<option value="(persona-[a-z-]+)" data-token="" data-consent="(\w+)" '
        r'data-climate="(\w*)" data-aesthetic="(\w*)">([^<]+)</option>',
        page,
    )
    by_key = {
        key: (consent, climate, aesthetic, label)
        for key, consent, climate, aesthetic, label in options
    }
    assert by_key == {
        "persona-us-wa": ("true", "rainy", "minimalist", "A shopper in US/WA — Rainy · Minimalist"),
        "persona-de": (
            "false", "overcast", "luxury", "A shopper in DE — no personalization consent: generic video",
        ),
    }  # fmt: skip
    # Nothing of the profiles but the persona: no external id, no token.
    assert "shopper-seattle" not in page and "shopper-berlin" not in page
    assert 'data-token="ey' not in page
    assert '<option value="" data-token="">Anonymous visitor</option>' in page
    assert "/static/scenecart/shop.js" in page


def test_another_merchants_product_page_lists_none_of_its_shoppers(client: Client) -> None:
    """Issue 13, finding 2: every merchant's shopper profiles were public, with tokens."""
    other = make_merchant(slug="acme", name="Acme")
    make_product(other, sku="ANVIL", title="Anvil")
    allow_hints(other)
    shopper_profile_upsert(
        merchant=other, external_id="jane@example.com", country="US", region="CA",
        climate="sunny", aesthetic="luxury", personalization_consent=True,
    )  # fmt: skip
    # Even a profile with a demo shopper's id: only the demo merchant has personas.
    shopper_profile_upsert(merchant=other, external_id="shopper-seattle", country="US", region="WA")
    page = client.get("/shop/acme/ANVIL").content.decode()
    assert "jane@example.com" not in page
    assert "US/CA" not in page and "US/WA" not in page
    assert re.findall(r"<option value=\"[^\"]+\" data-token", page) == []


def test_a_signed_in_member_previews_the_shops_own_shoppers_with_tokens(
    client: Client, shop: Merchant, django_user_model
) -> None:  # type: ignore[no-untyped-def]
    add_demo_shoppers(shop)
    shopper_profile_upsert(merchant=shop, external_id="cust-1842", country="NO")
    staff = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    membership_grant(merchant=shop, user=staff)
    client.force_login(staff)
    response = client.get("/shop/demo/JACKET")
    assert response["Cache-Control"] == "private, no-store"
    page = response.content.decode()
    assert "Staff preview" in page
    options = re.findall(
        r'<option value="([\w-]+)" data-token="([^"]+)" data-consent="(\w+)">([^<]+)</option>',
        page,
    )
    by_id = {external_id: (token, consent, label) for external_id, token, consent, label in options}
    assert set(by_id) == {"shopper-seattle", "shopper-berlin", "cust-1842"}
    for external_id, (token, _, _) in by_id.items():
        assert shopper_token_read(merchant=shop, token=token).external_id == external_id
    assert by_id["shopper-seattle"][1:] == ("true", "shopper-seattle — US/WA — Rainy · Minimalist")
    assert by_id["shopper-berlin"][1] == "false"

    # Staff of another shop get the public page, not this shop's shoppers.
    outsider = django_user_model.objects.create_user("other", password="x", is_staff=True)
    membership_grant(merchant=make_merchant(slug="acme"), user=outsider)
    client.force_login(outsider)
    page = client.get("/shop/demo/JACKET").content.decode()
    assert "cust-1842" not in page and "Staff preview" not in page


def test_hints_are_offered_only_when_the_shop_allows_them(client: Client, shop: Merchant) -> None:
    page = client.get("/shop/demo/JACKET").content.decode()
    assert 'data-allowed="false" disabled' in page
    assert "does not accept context hints" in page

    bucket_policy_update(
        merchant=shop,
        dimensions=["climate", "aesthetic"],
        approved_buckets=["climate=rainy,aesthetic=minimalist"],
        allow_public_hints=True,
    )
    page = client.get("/shop/demo/JACKET").content.decode()
    assert 'data-allowed="true">' in page
    assert "does not accept context hints" not in page
    assert '<option value="rainy">Rainy</option>' in page
    assert '<option value="golden-hour">Golden hour</option>' in page
    assert "<code>climate=rainy,aesthetic=minimalist</code>" in page


def test_an_unknown_product_is_not_found(client: Client, shop: Merchant) -> None:
    assert client.get("/shop/demo/NOPE").status_code == 404
    assert client.get("/shop/nowhere/JACKET").status_code == 404


# --- The iframe player ------------------------------------------------------------------------


def test_the_player_may_be_framed_by_the_merchants_origins_only(
    client: Client, shop: Merchant
) -> None:
    merchant_storefront_update(
        merchant=shop, storefront_origins="https://shop.example\nhttps://www.shop.example:8443"
    )
    response = client.get("/embed/demo/JACKET?aspect=9:16")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        "frame-ancestors 'self' https://shop.example https://www.shop.example:8443"
    )
    assert "X-Frame-Options" not in response
    page = response.content.decode()
    assert '<scenecart-video merchant="demo" sku="JACKET" aspect="9:16"' in page
    assert "/static/scenecart/embed.js" in page


def test_a_shop_without_origins_can_frame_the_player_only_on_its_own_pages(
    client: Client, shop: Merchant
) -> None:
    response = client.get("/embed/demo/JACKET")
    assert response["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert "X-Frame-Options" not in response
    # Other pages keep Django's default: no framing at all.
    assert client.get("/shop/demo/JACKET")["X-Frame-Options"] == "DENY"


def test_the_player_passes_the_shoppers_token_and_hints_to_the_component(
    client: Client, shop: Merchant
) -> None:
    page = client.get(
        "/embed/demo/JACKET", {"st": "abc.def", "climate": "rainy", "consent": "1", "x": "1"}
    ).content.decode()
    assert 'token="abc.def"' in page
    assert 'climate="rainy"' in page and 'consent="1"' in page
    assert ' x="' not in page


def test_the_player_falls_back_to_the_generic_file_when_the_api_cannot_answer(
    client: Client, shop: Merchant
) -> None:
    assert "fallback-src" not in client.get("/embed/demo/JACKET").content.decode()
    video = make_ready_video(Product.objects.get(sku="JACKET"))
    page = client.get("/embed/demo/JACKET").content.decode()
    assert f'fallback-src="http://testserver{video.file.url}"' in page


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/embed/nowhere/JACKET", 404),
        ("/embed/demo/NOPE", 404),
        ("/embed/demo/JACKET?aspect=4:3", 400),
    ],
)
def test_the_player_refuses_what_it_cannot_show(
    client: Client, shop: Merchant, path: str, status: int
) -> None:
    assert client.get(path).status_code == status


# --- oEmbed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/shop/demo/JACKET", "/embed/demo/JACKET", "/embed/demo/JACKET?aspect=16:9"]
)
def test_oembed_describes_the_player_for_product_and_player_urls(
    client: Client, shop: Merchant, path: str
) -> None:
    response = oembed(client, f"http://testserver{path}", format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == {
        "version": "1.0",
        "type": "video",
        "title": "Stormline Rain Jacket",
        "author_name": "Northwind Outfitters",
        "author_url": "http://testserver/shop/demo/",
        "provider_name": "Scenecart",
        "provider_url": "http://testserver/",
        "width": 640,
        "height": 360,
        "html": (
            '<iframe src="http://testserver/embed/demo/JACKET?aspect=16:9" width="640" '
            'height="360" title="Stormline Rain Jacket" frameborder="0" '
            'allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>'
        ),
    }


def test_oembed_fits_the_player_into_the_consumers_maximum(client: Client, shop: Merchant) -> None:
    url = "http://testserver/embed/demo/JACKET?aspect=9:16"
    body = oembed(client, url).json()
    assert (body["width"], body["height"]) == (360, 640)
    assert "aspect=9:16" in body["html"]
    body = oembed(client, url, maxheight="320").json()
    assert (body["width"], body["height"]) == (180, 320)
    body = oembed(client, "http://testserver/shop/demo/JACKET", maxwidth="480", maxheight="400")
    assert (body.json()["width"], body.json()["height"]) == (480, 270)
    body = oembed(client, "http://testserver/shop/demo/JACKET", maxwidth="2000").json()
    assert (body["width"], body["height"]) == (640, 360)


def test_oembed_has_a_thumbnail_once_the_generic_video_is_ready(
    client: Client, shop: Merchant, settings: Settings
) -> None:
    url = "http://testserver/shop/demo/JACKET"
    assert "thumbnail_url" not in oembed(client, url).json()
    video = make_ready_video(Product.objects.get(sku="JACKET"))
    body = oembed(client, url).json()
    assert body["thumbnail_url"] == f"http://testserver{video.poster.url}"
    profile = settings.SCENECART_PROFILES["16:9"]
    assert (body["thumbnail_width"], body["thumbnail_height"]) == (
        profile["width"],
        profile["height"],
    )


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"url": ""}, 400),
        ({"url": "http://testserver/shop/demo/JACKET", "format": "xml"}, 501),
        ({"url": "http://testserver/shop/demo/JACKET", "maxwidth": "wide"}, 400),
        ({"url": "http://testserver/shop/demo/JACKET", "maxheight": "0"}, 400),
        ({"url": "http://elsewhere.example/shop/demo/JACKET"}, 404),
        ({"url": "ftp://testserver/shop/demo/JACKET"}, 404),
        ({"url": "http://testserver/shop/demo/"}, 404),
        ({"url": "http://testserver/admin/"}, 404),
        ({"url": "http://testserver/shop/demo/NOPE"}, 404),
        ({"url": "http://testserver/shop/nowhere/JACKET"}, 404),
        ({"url": "http://testserver/embed/demo/JACKET?aspect=4:3"}, 404),
    ],
)
def test_oembed_refuses_what_it_cannot_embed(
    client: Client, shop: Merchant, params: dict[str, str], status: int
) -> None:
    response = client.get(reverse("storefront:oembed"), params)
    assert response.status_code == status
    assert response.json()["error"]


@pytest.mark.parametrize("path", ["/shop/demo/JACKET", "/embed/demo/JACKET?aspect=1:1"])
def test_pages_link_their_oembed_description(client: Client, shop: Merchant, path: str) -> None:
    page = client.get(path).content.decode()
    found = DISCOVERY.search(page)
    assert found, "no oEmbed discovery link"
    href, title = html.unescape(found.group(1)), html.unescape(found.group(2))
    assert title == "Stormline Rain Jacket"
    parts = urlsplit(href)
    assert parts.path == "/oembed"
    query = parse_qs(parts.query)
    assert query["format"] == ["json"]
    assert query["url"] == [f"http://testserver{path}"]
    # The consumer follows the link and gets the player.
    body = client.get(parts.path, {k: v[0] for k, v in query.items()}).json()
    assert body["type"] == "video"
    assert "/embed/demo/JACKET?aspect=" in body["html"]
