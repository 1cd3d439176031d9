"""The endpoint merchants' servers call for signed shopper tokens."""

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import ShopperProfile
from personalization.tokens import shopper_token_read
from tests.support.factories import make_merchant

pytestmark = pytest.mark.django_db


def issue(client: Client, body: dict[str, object], secret: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return client.post(
        reverse("storefront:shopper-tokens"), body, content_type="application/json", headers=headers
    )


def test_the_merchants_server_gets_a_token_and_sets_the_profile(client: Client) -> None:
    shop = make_merchant(slug="shop")
    response = issue(
        client,
        {"merchant": "shop", "shopper": "cust-9", "ttl": 600,
         "profile": {"country": "NO", "aesthetic": "cozy", "personalization_consent": True}},
        shop.shopper_token_secret,
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert shopper_token_read(merchant=shop, token=body["token"]).external_id == "cust-9"
    assert body["shopper"] == "cust-9"
    assert response["Cache-Control"] == "no-store"
    profile = ShopperProfile.objects.get(merchant=shop, external_id="cust-9")
    assert (profile.country, profile.aesthetic, profile.personalization_consent) == (
        "NO", "cozy", True,
    )  # fmt: skip


def test_a_wrong_or_missing_secret_is_refused(client: Client) -> None:
    shop = make_merchant(slug="shop")
    rival = make_merchant(slug="rival")
    for secret in (None, "guess", rival.shopper_token_secret):
        response = issue(client, {"merchant": "shop", "shopper": "c"}, secret)
        assert response.status_code == 401
        assert "Bearer" in response["WWW-Authenticate"]
        assert shop.shopper_token_secret not in response.content.decode()
    assert not ShopperProfile.objects.exists()


def test_bad_profile_fields_are_named(client: Client) -> None:
    shop = make_merchant(slug="shop")
    response = issue(
        client,
        {"merchant": "shop", "shopper": "c", "profile": {"climate": "foggy", "country": "Norway"}},
        shop.shopper_token_secret,
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"profile.climate", "profile.country"}
    assert not ShopperProfile.objects.exists()
