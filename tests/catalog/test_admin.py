"""Admin tenancy: a merchant's staff see and edit only their own merchant's rows.

catalog/admin.py (MerchantScopedMixin) scopes every merchant-owned admin; rendering/admin.py
reuses it for videos and segments.
"""

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product, ProductImage, ShopperProfile
from catalog.services import membership_grant, shopper_profile_upsert
from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import video_request
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalog/product/"
SHOPPERS = "/admin/catalog/shopperprofile/"
VIDEOS = "/admin/rendering/video/"
SEGMENTS = "/admin/rendering/segment/"
NOT_FOUND = "doesn’t exist"  # Django admin's message for a row the user may not see.


@dataclass
class Tenants:
    a: Merchant
    b: Merchant
    a_product: Product
    b_product: Product
    a_shopper: ShopperProfile
    b_shopper: ShopperProfile
    alice: AbstractUser
    bob: AbstractUser
    root: AbstractUser


def staff(username: str, **extra: object) -> AbstractUser:
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True, **extra
    )


@pytest.fixture
def tenants() -> Tenants:
    a = make_merchant(slug="alpha", name="Alpha Outfitters")
    b = make_merchant(slug="bravo", name="Bravo Provisions")
    alice, bob = staff("alice"), staff("bob")
    membership_grant(merchant=a, user=alice)
    membership_grant(merchant=b, user=bob)
    return Tenants(
        a=a,
        b=b,
        a_product=make_product(a, sku="A-1", title="Alpha Rain Jacket"),
        b_product=make_product(b, sku="B-1", title="Bravo Camp Stove", color="#2E86AB"),
        a_shopper=shopper_profile_upsert(merchant=a, external_id="alpha-shopper-1"),
        b_shopper=shopper_profile_upsert(merchant=b, external_id="bravo-shopper-1"),
        alice=alice,
        bob=bob,
        root=get_user_model().objects.create_superuser(username="root", password="pw-for-tests"),
    )


def login(client: Client, user: AbstractUser) -> Client:
    client.force_login(user)
    return client


def change_url(obj: Product | Merchant) -> str:
    return reverse(f"admin:catalog_{obj._meta.model_name}_change", args=[obj.pk])


def product_form(product: Product, **changes: str) -> dict[str, str]:
    """A complete, valid change-form POST for ``product`` (its images inline left untouched)."""
    data = {
        "merchant": str(product.merchant_id),
        "sku": product.sku,
        "title": product.title,
        "description": product.description,
        "price": str(product.price),
        "currency": product.currency,
        "category": product.category,
        "tags": "[]",
        "attributes": "{}",
        "status": product.status,
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
        "image_sources-TOTAL_FORMS": "0",
        "image_sources-INITIAL_FORMS": "0",
        "image_sources-MIN_NUM_FORMS": "0",
        "image_sources-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


# --- products --------------------------------------------------------------------------------


def test_staff_see_only_their_merchants_products(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.alice).get(PRODUCTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alpha Rain Jacket" in page
    assert "Bravo Camp Stove" not in page


def test_another_merchants_product_cannot_be_opened(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.alice).get(change_url(tenants.b_product), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    page = response.content.decode()
    assert NOT_FOUND in page
    assert "Bravo Camp Stove" not in page


def product_unlike_its_images(merchant: Merchant) -> Product:
    """A product of ``merchant`` with a photo, whose id is the id of none of the merchant's images.

    Product and image ids usually advance in step, so the first product of a test often has
    the id of its own first image; an image-less product in between breaks the tie.
    """
    for n in range(5):
        make_product(merchant, sku=f"SPACER-{n}", title="Spacer", with_image=False)
        product = make_product(merchant, sku=f"MUG-{n}", title="Alpha Enamel Mug", color="#5B3A29")
        if not ProductImage.objects.filter(product__merchant=merchant, pk=product.pk).exists():
            return product
    raise AssertionError("could not make a product whose id differs from its images' ids")


def test_staff_can_open_their_own_product_with_its_photos(client: Client, tenants: Tenants) -> None:
    login(client, tenants.alice)
    for product in (tenants.a_product, product_unlike_its_images(tenants.a)):
        response = client.get(change_url(product))
        assert response.status_code == 200
        page = response.content.decode()
        assert f'value="{product.title}"' in page
        assert product.images.get().file.url in page, f"no photo on product {product.pk}"


def test_staff_can_change_their_own_product(client: Client, tenants: Tenants) -> None:
    """The control for the next test: the same kind of POST does save for one's own row."""
    product = tenants.a_product
    response = login(client, tenants.alice).post(
        change_url(product), product_form(product, title="Alpha Rain Jacket v2")
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.title == "Alpha Rain Jacket v2"


def test_another_merchants_product_cannot_be_changed(client: Client, tenants: Tenants) -> None:
    product = tenants.b_product
    response = login(client, tenants.alice).post(
        change_url(product), product_form(product, title="Taken over", price="0.01"), follow=True
    )
    assert NOT_FOUND in response.content.decode()
    product.refresh_from_db()
    assert (product.title, product.price) == ("Bravo Camp Stove", 129)


def test_add_form_offers_only_the_users_merchants(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.alice).get(reverse("admin:catalog_product_add"))
    assert response.status_code == 200
    choices = response.context["adminform"].form.fields["merchant"].queryset
    assert list(choices) == [tenants.a]
    page = response.content.decode()
    assert "Alpha Outfitters" in page
    assert "Bravo Provisions" not in page


def test_staff_cannot_add_a_product_to_another_merchant(client: Client, tenants: Tenants) -> None:
    data = product_form(tenants.a_product, sku="NEW-1", title="Sneaked In")
    data["merchant"] = str(tenants.b.pk)
    response = login(client, tenants.alice).post(reverse("admin:catalog_product_add"), data)
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_staff_without_a_membership_are_forbidden(client: Client, tenants: Tenants) -> None:
    response = login(client, staff("drifter")).get(PRODUCTS)
    assert response.status_code == 403


def test_superuser_sees_every_merchants_products(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.root).get(PRODUCTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alpha Rain Jacket" in page
    assert "Bravo Camp Stove" in page


# --- shoppers and merchants ------------------------------------------------------------------


def test_staff_see_only_their_merchants_shoppers(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.alice).get(SHOPPERS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "alpha-shopper-1" in page
    assert "bravo-shopper-1" not in page


def test_another_merchant_cannot_be_opened(client: Client, tenants: Tenants) -> None:
    response = login(client, tenants.alice).get(change_url(tenants.b), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert NOT_FOUND in page
    assert "Bravo Provisions" not in page
    # Her own merchant opens.
    own = client.get(change_url(tenants.a))
    assert own.status_code == 200
    assert 'value="Alpha Outfitters"' in own.content.decode()


# --- rendering admins (reuse MerchantScopedAdmin) ---------------------------------------------


def test_video_and_segment_lists_hide_another_merchants_renders(
    client: Client, tenants: Tenants
) -> None:
    video_request(product=tenants.b_product, context=ShopperContext(), aspect="16:9")
    assert Video.objects.filter(product=tenants.b_product).count() == 1
    assert Segment.objects.filter(merchant=tenants.b).exists()

    login(client, tenants.alice)
    for url in (VIDEOS, SEGMENTS):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count == 0, url
    assert "Bravo Camp Stove" not in client.get(VIDEOS).content.decode()

    # Bob, B's own staff, does see them.
    login(client, tenants.bob)
    videos = client.get(VIDEOS)
    assert videos.context["cl"].result_count == 1
    assert "Bravo Camp Stove" in videos.content.decode()
    segments = client.get(SEGMENTS)
    assert segments.context["cl"].result_count == Segment.objects.count()
