"""Builders for test rows, through the same services the app uses."""

import io
import itertools
from decimal import Decimal

from PIL import Image, ImageDraw

from catalog.models import Merchant, Product
from catalog.services import merchant_create, product_create, product_image_add
from personalization.context import ShopperContext
from rendering.models import Video
from rendering.services import segment_render, video_assemble, video_request

_counter = itertools.count(1)


def photo_bytes(
    color: str = "#E4572E", size: tuple[int, int] = (240, 240), fmt: str = "PNG"
) -> bytes:
    """A small product photo: a colored shape on white, like a shop's packshot."""
    image = Image.new("RGB", size, "#FFFFFF")
    w, h = size
    ImageDraw.Draw(image).rounded_rectangle(
        (w * 0.2, h * 0.15, w * 0.8, h * 0.85), radius=max(2, w // 12), fill=color
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def make_merchant(slug: str | None = None, name: str | None = None) -> Merchant:
    n = next(_counter)
    slug = slug or f"shop-{n}"
    return merchant_create(name=name or f"Shop {n}", slug=slug)


def make_product(
    merchant: Merchant,
    sku: str | None = None,
    title: str = "Stormline Rain Jacket",
    price: str = "129.00",
    with_image: bool = True,
    color: str = "#E4572E",
) -> Product:
    product = product_create(
        merchant=merchant,
        sku=sku or f"SKU-{next(_counter)}",
        title=title,
        price=Decimal(price),
        currency="USD",
        category="Apparel > Outerwear",
    )
    if with_image:
        product_image_add(product=product, filename="photo.png", content=photo_bytes(color))
    return product


def make_ready_video(product: Product, context: str = "generic", aspect: str = "16:9") -> Video:
    """A READY variant rendered and assembled in-process (no worker); with the
    ``small_videos`` fixture it takes about a second."""
    request = video_request(product=product, context=ShopperContext.parse(context), aspect=aspect)
    for segment in request.segments:
        segment_render(segment=segment)
    video = video_assemble(video=request.video)
    assert video.status == Video.Status.READY, video.error
    return video
