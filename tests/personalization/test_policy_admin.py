"""The bucket policy and storefront settings in the merchant workspace."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant
from catalog.services import membership_grant
from personalization.models import BucketPolicy
from personalization.policy import policy_for
from personalization.services import bucket_policy_update
from personalization.tokens import ShopperTokenError, shopper_token_issue, shopper_token_read
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client: Client) -> tuple[Client, Merchant, Merchant]:
    """Staff of alpha, logged in; bravo is another shop with a policy of its own."""
    alpha, bravo = make_merchant(slug="alpha"), make_merchant(slug="bravo")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=alpha, user=user)
    bucket_policy_update(merchant=bravo, approved_buckets=["climate=arid"])
    client.force_login(user)
    return client, alpha, bravo


def policy_form(merchant: Merchant, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "merchant": merchant.pk,
        "dimensions": ["climate", "aesthetic"],
        "approved_buckets": "climate=rainy\naesthetic=cozy , climate=snowy",
        "holdout_percent": 10,
        "allow_public_hints": "on",
    }
    form.update(changes)
    return form


def test_a_merchant_sets_its_policy_and_the_storefront_sees_it(
    alice: tuple[Client, Merchant, Merchant],
) -> None:
    client, alpha, _ = alice
    assert policy_for(merchant=alpha).approved == frozenset()  # cached default
    response = client.post(reverse("admin:personalization_bucketpolicy_add"), policy_form(alpha))
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = BucketPolicy.objects.get(merchant=alpha)
    # Buckets are stored canonically (keys in the fixed order), whatever the merchant typed.
    assert saved.approved_buckets == ["climate=rainy", "climate=snowy,aesthetic=cozy"]
    assert policy_for(merchant=alpha).approved == {"climate=rainy", "climate=snowy,aesthetic=cozy"}
    assert policy_for(merchant=alpha).allow_public_hints is True


def test_a_bad_variant_is_refused_naming_it(alice: tuple[Client, Merchant, Merchant]) -> None:
    client, alpha, _ = alice
    url = reverse("admin:personalization_bucketpolicy_add")
    foggy = client.post(url, policy_form(alpha, approved_buckets="climate=rainy\nclimate=foggy"))
    assert "climate=&#x27;foggy&#x27; is not a known climate" in foggy.content.decode()
    uncounted = client.post(url, policy_form(alpha, approved_buckets="time=night"))
    assert "uses time, which this policy does not count" in uncounted.content.decode()
    assert not BucketPolicy.objects.filter(merchant=alpha).exists()


def test_a_policy_counting_no_dimension_serves_everyone_the_generic_video(
    alice: tuple[Client, Merchant, Merchant], small_videos: None
) -> None:
    client, alpha, _ = alice
    jacket = make_product(alpha, sku="JACKET")
    generic = make_ready_video(jacket, "generic")
    make_ready_video(jacket, "climate=rainy")
    # No box ticked: the browser sends no "dimensions" at all.
    form = policy_form(alpha, approved_buckets="")
    del form["dimensions"]
    response = client.post(reverse("admin:personalization_bucketpolicy_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = BucketPolicy.objects.get(merchant=alpha)
    assert saved.dimensions == []
    listing = client.get(reverse("admin:personalization_bucketpolicy_changelist"))
    assert "none (generic only)" in listing.content.decode()
    # A rainy shopper in rainy Britain still gets the generic video: nothing is counted.
    lookup = client.get(
        reverse("storefront:video-lookup", args=["alpha", "JACKET"]),
        {"climate": "rainy", "tz": "Europe/London"},
        headers={"CF-IPCountry": "GB", "Accept-Language": "en-GB"},
    )
    assert lookup.status_code == 200, lookup.content
    body = lookup.json()
    assert (body["status"], body["variant"], body["video"]) == ("ready", "generic", generic.pk)
    assert body["personalized"] is False
    # A variant naming a dimension is refused while none is counted, naming the field.
    uncounted = client.post(
        reverse("admin:personalization_bucketpolicy_change", args=[saved.pk]),
        {**form, "approved_buckets": "climate=rainy"},
    )
    assert "uses climate, which this policy does not count (dimensions: none)" in (
        uncounted.content.decode()
    )


def test_another_shops_policy_is_out_of_reach(alice: tuple[Client, Merchant, Merchant]) -> None:
    client, _alpha, bravo = alice
    theirs = BucketPolicy.objects.get(merchant=bravo)
    listing = client.get(reverse("admin:personalization_bucketpolicy_changelist"))
    assert listing.status_code == 200 and "bravo" not in listing.content.decode().lower()
    change = reverse("admin:personalization_bucketpolicy_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 404)
    client.post(change, policy_form(bravo, approved_buckets="climate=rainy"))
    theirs.refresh_from_db()
    assert theirs.approved_buckets == ["climate=arid"]
    # Nor can a policy be created for them through the add form.
    response = client.post(reverse("admin:personalization_bucketpolicy_add"), policy_form(bravo))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_rotating_the_secret_shows_it_once_and_revokes_old_tokens(
    alice: tuple[Client, Merchant, Merchant],
) -> None:
    client, alpha, bravo = alice
    old = shopper_token_issue(merchant=alpha, external_id="c")
    page = client.get(reverse("admin:catalog_merchant_change", args=[alpha.pk])).content.decode()
    assert alpha.shopper_token_secret not in page  # never shown back in full
    response = client.post(
        reverse("admin:catalog_merchant_changelist"),
        {"action": "rotate_token_secret", "_selected_action": [alpha.pk, bravo.pk]},
        follow=True,
    )
    alpha.refresh_from_db()
    assert alpha.shopper_token_secret in response.content.decode()
    with pytest.raises(ShopperTokenError):
        shopper_token_read(merchant=alpha, token=old)
    # bravo was not Alice's to rotate.
    assert Merchant.objects.get(pk=bravo.pk).shopper_token_secret == bravo.shopper_token_secret


def test_storefront_origins_are_checked_and_normalized(
    alice: tuple[Client, Merchant, Merchant],
) -> None:
    client, alpha, _ = alice
    url = reverse("admin:catalog_merchant_change", args=[alpha.pk])
    form = {"name": alpha.name, "slug": alpha.slug}
    bad = client.post(url, {**form, "storefront_origins": "shop.example.com/products"})
    assert "is not an origin like https://shop.example.com" in bad.content.decode()
    client.post(
        url, {**form, "storefront_origins": "https://Shop.example.com/\nhttp://localhost:3000"}
    )
    alpha.refresh_from_db()
    assert alpha.origins == ["https://shop.example.com", "http://localhost:3000"]
