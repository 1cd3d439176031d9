import pytest
from django.core import signing

from catalog.services import merchant_create
from personalization.tokens import ShopperTokenError, shopper_token_issue, shopper_token_read

pytestmark = pytest.mark.django_db


def test_a_token_names_the_merchants_shopper() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    assert shopper_token_read(merchant=shop, token=token).external_id == "customer-42"


def test_another_shops_token_is_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    rival = merchant_create(name="Rival", slug="rival")
    token = shopper_token_issue(merchant=rival, external_id="customer-42")
    with pytest.raises(ShopperTokenError, match="not one 'shop' signed"):
        shopper_token_read(merchant=shop, token=token)


def test_forged_and_altered_tokens_are_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    forged = signing.dumps({"m": "shop", "s": "customer-1"}, salt="guessing")
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (forged, altered, "not-a-token"):
        with pytest.raises(ShopperTokenError):
            shopper_token_read(merchant=shop, token=bad)


def test_expired_tokens_are_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    with pytest.raises(ShopperTokenError, match="expired"):
        shopper_token_read(merchant=shop, token=token, max_age=-1)


def test_rotating_a_shops_secret_revokes_its_tokens() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    other = merchant_create(name="Other", slug="other")
    assert shop.shopper_token_secret != other.shopper_token_secret
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    other_token = shopper_token_issue(merchant=other, external_id="x")
    shop.shopper_token_secret = "rotated"
    shop.save(update_fields=["shopper_token_secret"])
    with pytest.raises(ShopperTokenError):
        shopper_token_read(merchant=shop, token=token)
    assert shopper_token_read(merchant=other, token=other_token).external_id == "x"
