"""Product photos as shops really have them all render: odd modes, sizes and orientations."""

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw

from catalog.services import product_image_add
from personalization.context import ShopperContext
from rendering.models import Segment
from rendering.services import segment_render, video_request
from tests.support.factories import make_merchant, make_product
from videokit.media import probe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


def packshot(size: tuple[int, int] = (400, 400)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    w, h = size
    ImageDraw.Draw(image).ellipse((w * 0.25, h * 0.2, w * 0.75, h * 0.8), fill=(228, 87, 46))
    return image


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def cmyk_jpeg() -> bytes:
    return encoded(packshot().convert("CMYK"), "JPEG")


def sixteen_bit_png() -> bytes:
    grey = (np.asarray(packshot().convert("L")).astype(np.uint16) * 257).astype(np.uint16)
    return encoded(Image.fromarray(grey), "PNG")


def palette_png_with_transparency() -> bytes:
    image = packshot().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encoded(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    frames = [packshot(), packshot().rotate(90)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    return encoded(packshot((400, 240)), "JPEG", exif=exif)


def tiny_png() -> bytes:
    return encoded(packshot((64, 64)), "PNG")


def panorama_jpeg() -> bytes:
    return encoded(packshot((4000, 300)), "JPEG")


@pytest.mark.parametrize(
    "make",
    [
        cmyk_jpeg,
        sixteen_bit_png,
        palette_png_with_transparency,
        animated_gif,
        exif_rotated_jpeg,
        tiny_png,
        panorama_jpeg,
    ],
)
def test_awkward_photo_renders_a_segment(make: Callable[[], bytes]) -> None:
    product = make_product(make_merchant(), with_image=False)
    product_image_add(product=product, filename=f"{make.__name__}.img", content=make())
    request = video_request(
        product=product, context=ShopperContext.parse("climate=rainy"), aspect="9:16"
    )
    hero = segment_render(segment=request.segments[0])
    assert hero.status == Segment.Status.READY, hero.error
    found = probe(Path(default_storage.path(hero.file.name)))
    assert (found.width, found.height) == (180, 320)
    assert found.duration == pytest.approx(1.0, abs=0.1)
