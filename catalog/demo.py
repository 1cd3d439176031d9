"""The demo shop: a merchant, its brand kit, a small outdoor-goods catalog whose product photos
are drawn here (no downloads), and a few shoppers with different contexts.

``demo_seed`` is idempotent: it creates what is missing and changes nothing that exists.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from PIL import Image, ImageDraw, ImageFilter

from .models import Membership, Merchant, Product, ShopperProfile
from .services import (
    brand_kit_update,
    membership_grant,
    merchant_create,
    product_create,
    product_image_add,
    shopper_profile_upsert,
)

DEMO_SLUG = "demo"
PHOTO_SIZE = 800

Draw = Callable[[ImageDraw.ImageDraw], None]


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    title: str
    price: str
    category: str
    description: str
    tags: tuple[str, ...]
    draw: Draw


def _jacket(d: ImageDraw.ImageDraw) -> None:
    d.polygon([(250, 190), (400, 160), (550, 190), (640, 330), (590, 360), (560, 300),
               (560, 660), (240, 660), (240, 300), (210, 360), (160, 330)], fill="#E4572E")  # fmt: skip
    d.polygon([(330, 170), (400, 250), (470, 170), (400, 150)], fill="#B83F1F")
    d.line([(400, 250), (400, 660)], fill="#7A2812", width=8)
    d.rectangle([280, 470, 360, 520], outline="#7A2812", width=6)
    d.rectangle([440, 470, 520, 520], outline="#7A2812", width=6)


def _sneaker(d: ImageDraw.ImageDraw) -> None:
    d.polygon([(150, 520), (170, 400), (300, 380), (420, 300), (500, 320), (560, 420),
               (660, 450), (680, 520)], fill="#2E86AB")  # fmt: skip
    d.rounded_rectangle([140, 510, 690, 570], radius=25, fill="#F6F5F3", outline="#C9C7C2", width=4)
    for x in range(380, 480, 24):
        d.line([(x, 330), (x + 30, 380)], fill="#F6F5F3", width=7)
    d.ellipse([560, 440, 600, 470], fill="#F18F01")


def _backpack(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle([250, 200, 550, 650], radius=90, fill="#3B7A57")
    d.rounded_rectangle([300, 420, 500, 610], radius=40, fill="#2D5E43")
    d.arc([330, 130, 470, 270], start=180, end=360, fill="#264D37", width=18)
    d.line([(300, 470), (500, 470)], fill="#F2C14E", width=8)
    d.rounded_rectangle([360, 260, 440, 300], radius=10, fill="#F2C14E")


def _mug(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle([230, 260, 520, 620], radius=40, fill="#F4EBD9", outline="#8C6A4F", width=6)
    d.arc([470, 330, 630, 530], start=-90, end=90, fill="#8C6A4F", width=26)
    d.ellipse([240, 240, 510, 300], fill="#5B3A29", outline="#8C6A4F", width=6)
    for x in (320, 380, 440):
        d.arc([x - 30, 130, x + 30, 240], start=200, end=340, fill="#C9B8A6", width=6)


def _sunglasses(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle([150, 330, 380, 500], radius=70, fill="#1B1B1E")
    d.rounded_rectangle([420, 330, 650, 500], radius=70, fill="#1B1B1E")
    d.arc([360, 330, 440, 400], start=200, end=340, fill="#C9A227", width=14)
    d.line([(150, 360), (90, 340)], fill="#C9A227", width=14)
    d.line([(650, 360), (710, 340)], fill="#C9A227", width=14)
    d.ellipse([190, 360, 260, 400], fill="#5E5E66")
    d.ellipse([460, 360, 530, 400], fill="#5E5E66")


def _beanie(d: ImageDraw.ImageDraw) -> None:
    d.chord([210, 220, 590, 640], start=180, end=360, fill="#7B2D8B")
    d.rounded_rectangle([200, 420, 600, 520], radius=20, fill="#5E1F6B")
    for x in range(230, 600, 40):
        d.line([(x, 430), (x, 510)], fill="#7B2D8B", width=10)
    d.ellipse([350, 150, 450, 250], fill="#E9D8F0")


def _bottle(d: ImageDraw.ImageDraw) -> None:
    d.rounded_rectangle([320, 230, 480, 680], radius=50, fill="#8FB8DE")
    d.rounded_rectangle([345, 160, 455, 240], radius=18, fill="#2F4858")
    d.rectangle([320, 380, 480, 470], fill="#F6F5F3")
    d.line([(340, 425), (460, 425)], fill="#2F4858", width=8)


def _blanket(d: ImageDraw.ImageDraw) -> None:
    colors = ["#C0392B", "#F5E6CA", "#2C3E50"]
    for row in range(6):
        for col in range(6):
            d.rectangle(
                [180 + col * 75, 220 + row * 60, 255 + col * 75, 280 + row * 60],
                fill=colors[(row + col) % 3],
            )
    d.rectangle([180, 580, 630, 620], fill="#A93226")


DEMO_PRODUCTS: tuple[DemoProduct, ...] = (
    DemoProduct("RAIN-JKT-01", "Stormline Rain Jacket", "129.00", "Apparel > Outerwear",
                "A breathable, fully taped rain shell that packs into its own pocket.",
                ("outerwear", "waterproof"), _jacket),
    DemoProduct("TRAIL-SNK-02", "Ridge Runner Trail Sneakers", "98.50", "Apparel > Shoes",
                "Grippy, light trail shoes with a cushioned sole for long days out.",
                ("shoes", "trail"), _sneaker),
    DemoProduct("PACK-24L-03", "Summit 24L Daypack", "74.00", "Bags > Backpacks",
                "A 24-litre pack with a padded back, hydration sleeve and rain cover.",
                ("bags", "hiking"), _backpack),
    DemoProduct("MUG-ENM-04", "Campfire Enamel Mug", "18.00", "Home > Kitchen",
                "Enamel steel mug that goes from the stove to the trail.",
                ("kitchen", "camping"), _mug),
    DemoProduct("SUN-POL-05", "Horizon Polarized Sunglasses", "59.00", "Accessories > Eyewear",
                "Polarized lenses in a light frame, UV400 protection.",
                ("eyewear", "summer"), _sunglasses),
    DemoProduct("BEANIE-06", "Merino Rib Beanie", "32.00", "Accessories > Hats",
                "Soft merino wool rib-knit beanie with a pompom.",
                ("hats", "winter"), _beanie),
    DemoProduct("BOTTLE-07", "Insulated Trail Bottle 750 ml", "27.00", "Outdoor > Hydration",
                "Keeps drinks cold for 24 hours and hot for 12.",
                ("hydration",), _bottle),
    DemoProduct("BLANKET-08", "Highland Wool Blanket", "110.00", "Home > Textiles",
                "A heavy plaid wool blanket for cabins and campfires.",
                ("home", "wool"), _blanket),
)  # fmt: skip

DEMO_SHOPPERS: tuple[dict[str, object], ...] = (
    {"external_id": "shopper-seattle", "country": "US", "region": "WA", "climate": "rainy",
     "aesthetic": "minimalist", "locale": "en-US", "personalization_consent": True},
    {"external_id": "shopper-phoenix", "country": "US", "region": "AZ", "climate": "arid",
     "aesthetic": "outdoorsy", "locale": "en-US", "personalization_consent": True},
    {"external_id": "shopper-oslo", "country": "NO", "region": "", "climate": "snowy",
     "aesthetic": "cozy", "locale": "en-GB", "personalization_consent": True},
    {"external_id": "shopper-berlin", "country": "DE", "region": "BE", "climate": "overcast",
     "aesthetic": "luxury", "locale": "de-DE", "personalization_consent": False},
)  # fmt: skip


def product_photo(draw: Draw) -> bytes:
    """A product photo as shops take them: the item on a white sweep with a soft shadow."""
    image = Image.new("RGB", (PHOTO_SIZE, PHOTO_SIZE), "#FFFFFF")
    shadow = Image.new("L", image.size, 0)
    ImageDraw.Draw(shadow).ellipse([200, 650, 600, 710], fill=70)
    image.paste((170, 170, 170), (0, 0), shadow.filter(ImageFilter.GaussianBlur(18)))
    draw(ImageDraw.Draw(image))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


@dataclass
class SeedReport:
    merchant_created: bool = False
    products_created: int = 0
    images_created: int = 0
    shoppers_created: int = 0
    staff_created: bool = False


def demo_seed(*, staff_password: str | None = None) -> SeedReport:
    report = SeedReport()
    with transaction.atomic():
        merchant = Merchant.objects.filter(slug=DEMO_SLUG).first()
        if merchant is None:
            merchant = merchant_create(name="Northwind Outfitters", slug=DEMO_SLUG)
            brand_kit_update(merchant=merchant, primary_color="#1D3557", secondary_color="#F4A261")
            report.merchant_created = True
        for item in DEMO_PRODUCTS:
            product = Product.objects.filter(merchant=merchant, sku=item.sku).first()
            if product is None:
                product = product_create(
                    merchant=merchant,
                    sku=item.sku,
                    title=item.title,
                    price=Decimal(item.price),
                    currency="USD",
                    category=item.category,
                    description=item.description,
                    tags=list(item.tags),
                )
                report.products_created += 1
            if not product.images.exists():
                product_image_add(
                    product=product,
                    filename=f"{item.sku.lower()}.png",
                    content=product_photo(item.draw),
                    alt=item.title,
                )
                report.images_created += 1
        for shopper in DEMO_SHOPPERS:
            external_id = str(shopper["external_id"])
            if not ShopperProfile.objects.filter(
                merchant=merchant, external_id=external_id
            ).exists():
                fields = {k: v for k, v in shopper.items() if k != "external_id"}
                shopper_profile_upsert(merchant=merchant, external_id=external_id, **fields)
                report.shoppers_created += 1
        if staff_password:
            user_model = get_user_model()
            user = user_model.objects.filter(username="demo").first()
            if user is None:
                user = user_model.objects.create_user(
                    username="demo", password=staff_password, is_staff=True
                )
                report.staff_created = True
            membership_grant(merchant=merchant, user=user, role=Membership.Role.OWNER)
    return report
