"""Upload safety: a corpus of awkward and hostile files through ``product_image_add``.

Every file is either accepted and stored normalized (upright, 8-bit sRGB, first frame, no
metadata) or refused with the file and the reason named, leaving no row and no stored object.
"""

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

from catalog.models import ProductImage
from catalog.services import brand_kit_update, product_image_add
from catalog.uploads import ImageRefused, image_upload_check
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db


def packshot(mode: str = "RGB", size: tuple[int, int] = (120, 80)) -> Image.Image:
    """A wide product shot: red on the left half, blue on the right, so orientation shows."""
    image = Image.new("RGB", size, "#FFFFFF")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 2 - 1, size[1]), fill="#D62828")
    draw.rectangle((size[0] // 2, 0, size[0], size[1]), fill="#1D4ED8")
    return image.convert(mode)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    exif[0x8825] = {2: (52.0, 31.0, 0.0)}  # a GPS position, which must not be kept
    return encoded(packshot(), "JPEG", exif=exif)


def sixteen_bit_png() -> bytes:
    return encoded(packshot("L").convert("I;16"), "PNG")


def palette_with_transparency() -> bytes:
    image = packshot().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return encoded(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    first, second = packshot(), Image.new("RGB", (120, 80), "#00FF00")
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def srgb_tagged_png() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encoded(packshot(), "PNG", icc_profile=profile)


def broken_profile_jpeg() -> bytes:
    return encoded(packshot(), "JPEG", icc_profile=b"not an icc profile at all")


ACCEPTED: dict[str, tuple[Callable[[], bytes], str, tuple[int, int]]] = {
    # name: (file, stored format, stored size)
    "plain.jpg": (lambda: encoded(packshot(), "JPEG"), "JPEG", (120, 80)),
    "rotated-with-gps.jpg": (exif_rotated_jpeg, "JPEG", (80, 120)),
    "cmyk.jpg": (lambda: encoded(packshot("CMYK"), "JPEG"), "JPEG", (120, 80)),
    "broken-profile.jpg": (broken_profile_jpeg, "JPEG", (120, 80)),
    "srgb-tagged.png": (srgb_tagged_png, "PNG", (120, 80)),
    "sixteen-bit.png": (sixteen_bit_png, "PNG", (120, 80)),
    "palette-transparent.png": (palette_with_transparency, "PNG", (120, 80)),
    "opaque-alpha.png": (lambda: encoded(packshot("RGBA"), "PNG"), "PNG", (120, 80)),
    "grey-alpha.png": (lambda: encoded(packshot("LA"), "PNG"), "PNG", (120, 80)),
    "one-bit.png": (lambda: encoded(packshot("1"), "PNG"), "PNG", (120, 80)),
    "animated.gif": (animated_gif, "PNG", (120, 80)),
    "photo.webp": (lambda: encoded(packshot(), "WEBP", quality=90), "JPEG", (120, 80)),
    "alpha.webp": (lambda: encoded(packshot("RGBA").rotate(20), "WEBP", lossless=True), "PNG", (120, 80)),
    "scan.tiff": (lambda: encoded(packshot(), "TIFF", compression="tiff_lzw"), "PNG", (120, 80)),
    "misnamed-png.jpg": (lambda: encoded(packshot(), "PNG"), "PNG", (120, 80)),
}  # fmt: skip


def bomb_png(width: int, height: int) -> bytes:
    """A valid small PNG whose header claims ``width`` × ``height`` pixels."""
    real = encoded(Image.new("1", (8, 8)), "PNG")
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return real[:8] + patched + real[8 + 25 :]


REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty.jpg": (lambda: b"", "the file is empty"),
    "logo.svg": (
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "SVG drawing",
    ),
    "xml-svg.png": (
        lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        "SVG drawing",
    ),
    "page.html": (lambda: b"<!DOCTYPE html><html><body>hi</body></html>", "HTML page"),
    "catalog.pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "PDF document"),
    "notes.txt": (lambda: "price list: 19,99 €\n".encode(), "text file"),
    "random.bin": (lambda: bytes(range(256)) * 8, "format is not one Scenecart knows"),
    "truncated.jpg": (lambda: encoded(packshot(size=(400, 300)), "JPEG")[:900], "truncated or damaged"),
    "truncated.png": (lambda: encoded(packshot(size=(400, 300)), "PNG")[:300], "truncated or damaged"),
    "gif-polyglot.gif": (lambda: b"GIF89a<script>alert(1)</script>", "truncated or damaged"),
    "bomb.png": (lambda: bomb_png(60_000, 60_000), "decompression bomb"),
    "absurd-strip.png": (lambda: bomb_png(200_000, 1), "more than a product photo needs"),
}  # fmt: skip


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_awkward_images_are_accepted_and_stored_normalized(name: str, media_root: Path) -> None:
    make_file, stored_format, size = ACCEPTED[name]
    product = make_product(make_merchant(), with_image=False)
    row = product_image_add(product=product, filename=name, content=make_file())
    with Image.open(media_root / row.file.name) as stored:
        assert stored.format == stored_format
        assert stored.size == size == (row.width, row.height)
        assert stored.mode in ("RGB", "RGBA")
        assert not stored.getexif(), "metadata (EXIF, GPS) must not be stored"
        assert "icc_profile" not in stored.info
        pixels = stored.convert("RGB")
    if name != "one-bit.png" and "alpha" not in name and "palette" not in name:
        # Upright: red on the left (or, for the rotated photo, on top), blue opposite.
        w, h = size
        first, second = (
            ((w // 4, h // 2), (3 * w // 4, h // 2))
            if w > h
            else ((w // 2, h // 4), (w // 2, 3 * h // 4))
        )
        red, blue = pixels.getpixel(first), pixels.getpixel(second)
        grey = "sixteen" in name
        assert grey or (red[0] > 150 and red[2] < 100), (name, red)
        assert grey or (blue[2] > 150 and blue[0] < 100), (name, blue)


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_files_are_refused_naming_file_and_reason_and_store_nothing(
    name: str, media_root: Path
) -> None:
    make_file, reason = REFUSED[name]
    product = make_product(make_merchant(), with_image=False)
    before = stored_files(media_root)
    with pytest.raises(ImageRefused) as refused:
        product_image_add(product=product, filename=name, content=make_file())
    message = refused.value.messages[0]
    assert message.startswith(f"{name}: ")
    assert reason in message
    assert not ProductImage.objects.exists()
    assert stored_files(media_root) == before


def test_the_same_picture_uploaded_twice_is_stored_once(media_root: Path) -> None:
    product = make_product(make_merchant(), with_image=False)
    content = encoded(packshot(), "PNG")
    first = product_image_add(product=product, filename="front.png", content=content)
    again = product_image_add(product=product, filename="front-copy.png", content=content)
    assert again.pk == first.pk
    assert ProductImage.objects.count() == 1
    assert len(list((media_root / "products").rglob("*.png"))) == 1


def test_a_brand_logo_goes_through_the_same_check(media_root: Path) -> None:
    merchant = make_merchant()
    with pytest.raises(ImageRefused, match=r"logo\.svg: this is an SVG drawing"):
        brand_kit_update(merchant=merchant, logo=("logo.svg", b"<svg><script/></svg>"))
    assert not (media_root / "brand").exists()
    kit = brand_kit_update(merchant=merchant, logo=("logo.jpg", exif_rotated_jpeg()))
    with Image.open(media_root / kit.logo.name) as stored:
        assert stored.size == (80, 120) and not stored.getexif()


def test_the_check_needs_no_database() -> None:
    checked = image_upload_check(encoded(packshot(), "WEBP"), filename="x.webp")
    assert (checked.format, checked.source_format, checked.suffix) == ("JPEG", "WEBP", "jpg")
