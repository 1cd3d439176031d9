"""catalog.services: the only way rows and files get into the catalog, and the demo seed."""

import hashlib
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command

from catalog.demo import demo_seed
from catalog.models import BrandKit, Merchant, Product, ProductImage, ShopperProfile
from catalog.services import (
    brand_kit_update,
    merchant_create,
    product_create,
    product_image_add,
    shopper_profile_upsert,
)
from tests.support.factories import make_merchant, make_product, photo_bytes

pytestmark = pytest.mark.django_db


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- merchants and products ------------------------------------------------------------------


def test_merchant_create_gives_the_merchant_a_default_brand_kit() -> None:
    merchant = merchant_create(name="Alpine Goods", slug="alpine")
    kit = BrandKit.objects.get(merchant=merchant)
    assert Merchant.objects.get(slug="alpine").name == "Alpine Goods"
    assert (kit.primary_color, kit.secondary_color) == ("#1F2937", "#F59E0B")
    assert not kit.logo and not kit.font


def test_merchant_create_rejects_a_taken_slug_without_a_second_brand_kit() -> None:
    merchant_create(name="Alpine Goods", slug="alpine")
    with pytest.raises(ValidationError) as excinfo:
        merchant_create(name="Alpine Again", slug="alpine")
    assert "slug" in excinfo.value.message_dict
    assert Merchant.objects.count() == 1
    assert BrandKit.objects.count() == 1


def test_product_create_rejects_a_duplicate_sku_within_a_merchant() -> None:
    merchant = make_merchant()
    make_product(merchant, sku="JKT-1", title="First Jacket", with_image=False)
    with pytest.raises(ValidationError) as excinfo:
        product_create(merchant=merchant, sku="JKT-1", title="Second Jacket", price="10.00")
    assert "SKU" in str(excinfo.value)
    assert list(Product.objects.filter(merchant=merchant).values_list("title", flat=True)) == [
        "First Jacket"
    ]


def test_the_same_sku_is_fine_in_another_merchant() -> None:
    first, second = make_merchant(), make_merchant()
    make_product(first, sku="JKT-1", with_image=False)
    other = product_create(merchant=second, sku="JKT-1", title="Their Jacket", price="10.00")
    assert other.merchant == second
    assert Product.objects.filter(sku="JKT-1").count() == 2


@pytest.mark.parametrize(
    ("field", "changes"),
    [("currency", {"currency": "usd"}), ("price", {"price": Decimal("-0.01")})],
)
def test_product_create_names_the_bad_field(field: str, changes: dict[str, object]) -> None:
    merchant = make_merchant()
    values: dict[str, object] = {"sku": "X-1", "title": "Mug", "price": "5.00", "currency": "USD"}
    values.update(changes)
    with pytest.raises(ValidationError) as excinfo:
        product_create(merchant=merchant, **values)  # type: ignore[arg-type]
    assert list(excinfo.value.message_dict) == [field]
    assert not Product.objects.exists()


# --- product images --------------------------------------------------------------------------


def test_product_image_add_stores_the_photo_with_its_size_and_hash(media_root: Path) -> None:
    product = make_product(make_merchant(), with_image=False)
    content = photo_bytes(size=(320, 200))
    image = product_image_add(product=product, filename="front.png", content=content, alt="Front")

    image.refresh_from_db()
    assert (image.width, image.height) == (320, 200)
    assert image.content_hash == hashlib.sha256(content).hexdigest()
    assert image.position == 1
    assert default_storage.exists(image.file.name)
    assert image.file.name.startswith("products/")
    assert (media_root / image.file.name).read_bytes() == content


def test_the_same_photo_added_twice_is_stored_once(media_root: Path) -> None:
    product = make_product(make_merchant(), with_image=False)
    content = photo_bytes()
    first = product_image_add(product=product, filename="a.png", content=content)
    second = product_image_add(product=product, filename="b.png", content=content)
    assert second.pk == first.pk
    assert product.images.count() == 1
    assert stored_files(media_root / "products") == [media_root / first.file.name]


def test_a_second_different_photo_goes_after_the_first() -> None:
    product = make_product(make_merchant(), with_image=False)
    product_image_add(product=product, filename="a.png", content=photo_bytes("#111111"))
    second = product_image_add(product=product, filename="b.jpg", content=photo_bytes(fmt="JPEG"))
    assert second.position == 2
    assert second.file.name.endswith(".jpg")
    assert product.images.count() == 2


@pytest.mark.parametrize(
    ("filename", "content"), [("notes.txt", b"hello"), ("blank.png", b"")], ids=["text", "empty"]
)
def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_stored(
    media_root: Path, filename: str, content: bytes
) -> None:
    product = make_product(make_merchant(), with_image=False)
    with pytest.raises(ValidationError) as excinfo:
        product_image_add(product=product, filename=filename, content=content)
    assert filename in " ".join(excinfo.value.messages)
    assert not ProductImage.objects.exists()
    assert stored_files(media_root / "products") == []


# --- brand kits ------------------------------------------------------------------------------


def test_brand_kit_update_changes_colors() -> None:
    merchant = make_merchant()
    brand_kit_update(merchant=merchant, primary_color="#123456")
    kit = BrandKit.objects.get(merchant=merchant)
    assert (kit.primary_color, kit.secondary_color) == ("#123456", "#F59E0B")


def test_brand_kit_update_rejects_a_short_color_and_keeps_the_old_one() -> None:
    merchant = make_merchant()
    with pytest.raises(ValidationError) as excinfo:
        brand_kit_update(merchant=merchant, primary_color="#12345")
    assert "primary_color" in excinfo.value.message_dict
    assert BrandKit.objects.get(merchant=merchant).primary_color == "#1F2937"


def test_brand_kit_update_rejects_a_file_that_is_not_a_font(media_root: Path) -> None:
    merchant = make_merchant()
    with pytest.raises(ValidationError) as excinfo:
        brand_kit_update(merchant=merchant, font=("Brand.ttf", b"definitely not a font"))
    assert "Brand.ttf" in " ".join(excinfo.value.messages)
    kit = BrandKit.objects.get(merchant=merchant)
    assert not kit.font and kit.font_hash == ""
    assert stored_files(media_root / "brand") == []


# --- shopper profiles ------------------------------------------------------------------------


def test_shopper_profile_upsert_updates_the_same_shopper_in_place() -> None:
    merchant = make_merchant()
    first = shopper_profile_upsert(merchant=merchant, external_id="cust-42", climate="rainy")
    second = shopper_profile_upsert(
        merchant=merchant, external_id="cust-42", climate="snowy", country="NO"
    )
    assert second.pk == first.pk
    profile = ShopperProfile.objects.get()
    assert (profile.external_id, profile.climate, profile.country) == ("cust-42", "snowy", "NO")


def test_shopper_profile_upsert_rejects_an_unknown_climate() -> None:
    merchant = make_merchant()
    with pytest.raises(ValidationError) as excinfo:
        shopper_profile_upsert(merchant=merchant, external_id="cust-42", climate="tornado")
    assert "climate" in excinfo.value.message_dict
    assert not ShopperProfile.objects.exists()


# --- the demo seed ---------------------------------------------------------------------------


def catalog_state() -> dict[str, object]:
    return {
        "merchants": Merchant.objects.count(),
        "products": Product.objects.count(),
        "images": sorted(ProductImage.objects.values_list("product__sku", "content_hash")),
        "shoppers": ShopperProfile.objects.count(),
    }


def test_demo_seed_creates_a_shop_with_photos_and_shoppers() -> None:
    report = demo_seed()
    merchant = Merchant.objects.get(slug="demo")
    products = list(Product.objects.filter(merchant=merchant))
    assert report.merchant_created is True
    assert report.products_created == len(products) >= 6
    assert all(p.images.count() == 1 for p in products)
    assert report.images_created == len(products)
    assert ShopperProfile.objects.filter(merchant=merchant).count() >= 3
    assert report.shoppers_created == ShopperProfile.objects.count()


def test_demo_seed_a_second_time_changes_nothing(media_root: Path) -> None:
    demo_seed()
    before = catalog_state()
    files_before = stored_files(media_root)

    report = demo_seed()

    assert report.merchant_created is False
    assert (report.products_created, report.images_created, report.shoppers_created) == (0, 0, 0)
    assert catalog_state() == before
    assert stored_files(media_root) == files_before


def test_seed_demo_command_says_when_nothing_changed() -> None:
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    assert "created" in first.getvalue()
    assert "nothing changed" not in first.getvalue()
    assert "nothing changed" in second.getvalue()
