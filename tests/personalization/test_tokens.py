import re
import time
from pathlib import Path

import pytest

from catalog.services import merchant_create, merchant_token_secret_rotate
from personalization.tokens import ShopperTokenError, shopper_token_issue, shopper_token_read

pytestmark = pytest.mark.django_db


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_token(secret: str, merchant: str, shopper: str, ttl: int = 3600) -> str:
    """A token made by the recipe the README gives merchants' servers, run as written there."""
    text = README.read_text()
    code = re.search(r"```python\n(.*?def scenecart_token.*?)```", text, re.S)
    assert code, "the README's shopper token recipe is missing"
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)
    return namespace["scenecart_token"](secret, merchant, shopper, ttl)  # type: ignore[operator]


def test_a_token_names_the_merchants_shopper() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    read = shopper_token_read(merchant=shop, token=token)
    assert read.external_id == "customer-42"
    assert read.expires_at > time.time() + 3600


def test_a_merchants_backend_can_make_tokens_with_the_readme_helper() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    token = readme_token(shop.shopper_token_secret, "shop", "customer-ü")
    assert shopper_token_read(merchant=shop, token=token).external_id == "customer-ü"


def test_another_shops_token_is_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    rival = merchant_create(name="Rival", slug="rival")
    token = shopper_token_issue(merchant=rival, external_id="customer-42")
    with pytest.raises(ShopperTokenError, match="not one 'shop' signed"):
        shopper_token_read(merchant=shop, token=token)
    # Signed with the right secret but naming another shop: refused too.
    relabelled = readme_token(shop.shopper_token_secret, "rival", "customer-42")
    with pytest.raises(ShopperTokenError, match="not issued for 'shop'"):
        shopper_token_read(merchant=shop, token=relabelled)


def test_forged_and_altered_tokens_are_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    forged = readme_token("guessed-secret", "shop", "customer-1")
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    payload, signature = token.split(".")
    other_payload = readme_token(shop.shopper_token_secret, "shop", "customer-1").split(".")[0]
    swapped = f"{other_payload}.{signature}"
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (forged, swapped, altered, "not-a-token", payload, "." + signature, "x" * 5000):
        with pytest.raises(ShopperTokenError):
            shopper_token_read(merchant=shop, token=bad)


def test_expired_tokens_are_refused() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    token = shopper_token_issue(merchant=shop, external_id="customer-42", ttl=60)
    assert shopper_token_read(merchant=shop, token=token, now=time.time() + 59)
    with pytest.raises(ShopperTokenError, match="expired"):
        shopper_token_read(merchant=shop, token=token, now=time.time() + 61)


def test_rotating_a_shops_secret_revokes_only_its_tokens() -> None:
    shop = merchant_create(name="Shop", slug="shop")
    other = merchant_create(name="Other", slug="other")
    assert shop.shopper_token_secret != other.shopper_token_secret
    token = shopper_token_issue(merchant=shop, external_id="customer-42")
    other_token = shopper_token_issue(merchant=other, external_id="x")
    new_secret = merchant_token_secret_rotate(merchant=shop)
    assert new_secret == shop.shopper_token_secret
    with pytest.raises(ShopperTokenError):
        shopper_token_read(merchant=shop, token=token)
    assert shopper_token_read(merchant=other, token=other_token).external_id == "x"
    fresh = shopper_token_issue(merchant=shop, external_id="customer-42")
    assert shopper_token_read(merchant=shop, token=fresh).external_id == "customer-42"
