"""The product cut-out: what a shopper sees of the photo in every video.

Photos are drawn here with Pillow the way shops shoot them (a product on white with a soft
shadow, on a colored sweep, on a real scene) and as awkward files (CMYK, 16-bit, palette,
animated, rotated by EXIF, tiny, panoramic, broken).
"""

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw, ImageFilter

from catalog.cutout import Cutout, make_cutout
from catalog.models import ProductImage
from catalog.services import product_image_add, product_image_cutout
from catalog.tasks import cutout_product_image
from scenecart.celery import app
from tests.support.factories import make_merchant, make_product, photo_bytes

RED = (200, 60, 40)


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def packshot(
    size: int = 600,
    color: tuple[int, int, int] = RED,
    background: tuple[int, int, int] = (255, 255, 255),
    sweep_to: tuple[int, int, int] | None = None,
    logo: bool = True,
    shadow: bool = True,
) -> Image.Image:
    """A product (a rounded box with a white round logo) standing on a backdrop with a soft
    contact shadow, drawn at 4x and reduced, so its edges are anti-aliased like a photo."""
    big = size * 4
    if sweep_to is None:
        image = Image.new("RGB", (big, big), background)
    else:
        t = np.linspace(0.0, 1.0, big)[:, None, None]
        ramp = np.array(background) * (1 - t) + np.array(sweep_to) * t
        image = Image.fromarray(np.repeat(ramp, big, axis=1).astype(np.uint8))
    if shadow:
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).ellipse((big * 0.25, big * 0.8, big * 0.75, big * 0.88), fill=66)
        image.paste((0, 0, 0), (0, 0), mask.filter(ImageFilter.GaussianBlur(big / 40)))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (big * 0.3, big * 0.2, big * 0.7, big * 0.84), radius=big // 20, fill=color
    )
    if logo:
        draw.ellipse((big * 0.42, big * 0.4, big * 0.58, big * 0.56), fill=(255, 255, 255))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def busy_scene(size: tuple[int, int] = (640, 480), seed: int = 7) -> Image.Image:
    """A product photographed in a room: everything around it is texture and detail."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8))
    scene = noise.filter(ImageFilter.GaussianBlur(2))
    w, h = size
    ImageDraw.Draw(scene).rectangle((w * 0.35, h * 0.3, w * 0.65, h * 0.8), fill=RED)
    return scene


def rgba(cutout: Cutout) -> np.ndarray:
    image = Image.open(io.BytesIO(cutout.png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.size == (cutout.width, cutout.height)
    return np.asarray(image).astype(int)


def corners(pixels: np.ndarray, inset: int = 0) -> list[np.ndarray]:
    i = inset
    return [pixels[i, i], pixels[i, -1 - i], pixels[-1 - i, i], pixels[-1 - i, -1 - i]]


# --- a product on a plain background --------------------------------------------------------


def test_a_product_on_white_is_cut_out_with_its_white_logo_kept() -> None:
    cutout = make_cutout(encode(packshot(), "JPEG", quality=90), filename="jacket.jpg")
    pixels = rgba(cutout)
    h, w = pixels.shape[:2]

    assert cutout.kind == "cutout"
    # Trimmed to the product (60 % of a 600 px frame wide, 64 % high) plus a small margin; the
    # shadow under it is not part of the box.
    assert 240 <= w <= 275 and 384 <= h <= 420
    assert all(corner[3] < 10 for corner in corners(pixels))
    # The product keeps its color and is opaque, the white logo inside it too.
    body = pixels[h // 5, w // 2]
    assert body[3] == 255 and np.abs(body[:3] - RED).max() <= 6
    logo = pixels[round(h * 0.4), w // 2]
    assert logo[3] == 255 and logo[:3].min() >= 245


def test_the_cut_has_a_soft_edge_without_a_white_fringe() -> None:
    pixels = rgba(make_cutout(encode(packshot()), filename="jacket.png"))
    row = pixels[pixels.shape[0] // 4]
    ramp = row[: row.shape[0] // 4]  # from the left margin into the product
    partial = ramp[(ramp[:, 3] > 0) & (ramp[:, 3] < 255)]

    assert ramp[0, 3] == 0 and ramp[-1, 3] == 255
    assert len(partial) >= 2  # alpha steps down over a few pixels, not a hard jag
    # Laid over black, no edge pixel is lighter than the product: the white background
    # was taken out of the edge colors, not just made transparent.
    over_black = partial[:, :3] * partial[:, 3:] / 255
    assert over_black[:, 1].max() <= RED[1] + 8


def test_the_soft_shadow_under_the_product_is_removed_not_left_as_a_grey_blob() -> None:
    pixels = rgba(make_cutout(encode(packshot(logo=False)), filename="boot.png"))
    visible = pixels[pixels[..., 3] > 64][:, :3]
    grey = (np.ptp(visible, axis=1) < 12) & (visible.max(axis=1) < 240)

    assert grey.sum() < 0.002 * len(visible)


def test_a_grey_product_is_not_mistaken_for_its_shadow() -> None:
    grey = (150, 150, 150)
    pixels = rgba(make_cutout(encode(packshot(color=grey, logo=False)), filename="kettle.png"))
    w = pixels.shape[1]
    visible = pixels[..., 3] >= 128

    # The whole box is there: 64 % of 600 px (384 px) high, down to its bottom edge.
    rows = np.nonzero(visible[:, w // 2])[0]
    assert rows[-1] - rows[0] + 1 >= 382
    bottom = pixels[rows[-1] - 3, w // 2]
    assert np.abs(bottom[:3] - grey).max() <= 6


def test_a_product_on_a_colored_sweep_is_cut_out() -> None:
    photo = packshot(color=(240, 200, 40), background=(150, 190, 230), sweep_to=(90, 130, 180))
    cutout = make_cutout(encode(photo, "JPEG", quality=88), filename="bottle.jpg")
    pixels = rgba(cutout)

    assert cutout.kind == "cutout"
    assert all(corner[3] < 10 for corner in corners(pixels))
    assert pixels[pixels.shape[0] // 5, pixels.shape[1] // 2][3] == 255


def test_a_photo_already_transparent_keeps_its_alpha() -> None:
    image = Image.new("RGBA", (500, 500), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((50, 50, 450, 450), fill=(30, 140, 90, 128))  # a half-transparent glass rim
    draw.ellipse((100, 100, 400, 400), fill=(30, 140, 90, 255))
    cutout = make_cutout(encode(image), filename="glass.png")
    pixels = rgba(cutout)
    h, w = pixels.shape[:2]

    assert cutout.kind == "alpha"
    assert all(corner[3] == 0 for corner in corners(pixels))
    assert pixels[h // 2, w // 2][3] == 255
    rim = pixels[h // 2, 15:55, 3]  # 10 px margin, then the 50 px rim
    assert np.all(np.abs(rim - 128) <= 2)  # the rim is as see-through as it was


def test_a_photo_on_a_busy_scene_becomes_a_framed_card() -> None:
    cutout = make_cutout(encode(busy_scene(), "JPEG", quality=90), filename="room.jpg")
    pixels = rgba(cutout)

    assert cutout.kind == "card"
    assert (cutout.width, cutout.height) == (640, 480)  # the whole photo
    assert all(corner[3] == 0 for corner in corners(pixels))  # rounded corners
    edge = pixels[240, 1]
    assert edge[3] == 255 and edge[:3].min() >= 250  # a thin white border
    middle = pixels[240, 320]
    assert np.abs(middle[:3] - RED).max() <= 8


# --- awkward files ----------------------------------------------------------------------------


def test_a_cmyk_jpeg_comes_out_as_srgb() -> None:
    cmyk = Image.new("CMYK", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(cmyk).rectangle((120, 100, 280, 300), fill=(0, 255, 255, 0))  # red ink
    cutout = make_cutout(encode(cmyk, "JPEG", quality=92), filename="print.jpg")
    pixels = rgba(cutout)
    middle = pixels[pixels.shape[0] // 2, pixels.shape[1] // 2]

    assert cutout.kind == "cutout"
    assert middle[3] == 255 and middle[0] > 230 and middle[1] < 30 and middle[2] < 30


def test_a_cmyk_jpeg_with_a_broken_color_profile_still_converts() -> None:
    cmyk = Image.new("CMYK", (300, 300), (0, 0, 0, 0))
    ImageDraw.Draw(cmyk).rectangle((100, 100, 200, 200), fill=(0, 255, 255, 0))
    content = encode(cmyk, "JPEG", quality=92, icc_profile=b"not a real profile" * 10)
    cutout = make_cutout(content, filename="print.jpg")

    assert rgba(cutout)[cutout.height // 2, cutout.width // 2][0] > 230


def test_a_16_bit_grey_png_keeps_its_mid_grey() -> None:
    deep = np.full((400, 400), 65535, dtype=np.uint16)
    deep[100:300, 120:280] = 32768  # mid grey: 128 in 8 bits, not clipped to white
    cutout = make_cutout(encode(Image.fromarray(deep)), filename="scan.png")
    middle = rgba(cutout)[cutout.height // 2, cutout.width // 2]

    assert cutout.kind == "cutout"
    assert middle[3] == 255 and np.all(np.abs(middle[:3] - 128) <= 2)


def test_a_palette_png_with_a_transparent_index_is_transparent_there() -> None:
    image = Image.new("P", (300, 300), 0)
    image.putpalette([255, 255, 255, 200, 60, 40] + [0, 0, 0] * 254)
    ImageDraw.Draw(image).rectangle((60, 60, 240, 240), fill=1)
    cutout = make_cutout(encode(image, transparency=0), filename="icon.png")
    pixels = rgba(cutout)

    assert cutout.kind == "alpha"
    assert all(corner[3] == 0 for corner in corners(pixels))
    assert tuple(pixels[cutout.height // 2, cutout.width // 2]) == (*RED, 255)


def test_an_animated_gif_gives_its_first_frame() -> None:
    first = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(first).rectangle((80, 80, 220, 220), fill=RED)
    second = Image.new("RGB", (300, 300), (20, 60, 200))
    content = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    cutout = make_cutout(content, filename="spin.gif")
    middle = rgba(cutout)[cutout.height // 2, cutout.width // 2]

    assert cutout.kind == "cutout"
    assert middle[3] == 255 and np.abs(middle[:3] - RED).max() <= 12


def test_exif_orientation_is_applied() -> None:
    # Stored landscape, with EXIF orientation 6 ("rotate 90° clockwise to view"): a phone
    # photo taken upright.
    stored = busy_scene(size=(600, 400))
    exif = Image.Exif()
    exif[0x0112] = 6
    cutout = make_cutout(encode(stored, "JPEG", quality=90, exif=exif), filename="phone.jpg")

    assert (cutout.width, cutout.height) == (400, 600)


def test_a_tiny_photo_is_enlarged() -> None:
    cutout = make_cutout(photo_bytes(size=(64, 64)), filename="thumb.png")

    assert cutout.kind == "cutout"
    assert max(cutout.width, cutout.height) >= 256


def test_a_panorama_is_reduced_keeping_its_aspect() -> None:
    cutout = make_cutout(encode(busy_scene(size=(4000, 300)), "JPEG"), filename="banner.jpg")

    assert cutout.width == 2048
    assert cutout.width / cutout.height == pytest.approx(4000 / 300, rel=0.01)


@pytest.mark.parametrize(
    ("filename", "content"),
    [("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"), ("empty.png", b"")],
)
def test_a_file_that_is_not_an_image_is_refused_by_name(filename: str, content: bytes) -> None:
    with pytest.raises(ValueError, match=filename):
        make_cutout(content, filename=filename)


# --- storing it -----------------------------------------------------------------------------


def cutout_path(media_root: Path, image: ProductImage) -> Path:
    slug = image.product.merchant.slug
    return (
        media_root / "products" / slug / image.content_hash[:2] / f"{image.content_hash}.cutout.png"
    )


@pytest.mark.django_db
def test_product_image_cutout_stores_the_png_beside_the_original(media_root: Path) -> None:
    product = make_product(make_merchant(slug="alpine"))
    image = product.images.get()

    made = product_image_cutout(image=image)

    expected = f"products/alpine/{image.content_hash[:2]}/{image.content_hash}.cutout.png"
    assert made.cutout.name == expected
    assert Path(made.file.path).parent == cutout_path(media_root, image).parent
    stored = default_storage.open(expected).read()
    assert made.cutout_hash == hashlib.sha256(stored).hexdigest()
    assert made.cutout_kind == ProductImage.CutoutKind.CUTOUT
    saved = ProductImage.objects.get(pk=image.pk)
    assert (saved.cutout.name, saved.cutout_hash, saved.cutout_kind) == (
        expected,
        made.cutout_hash,
        "cutout",
    )


@pytest.mark.django_db
def test_product_image_cutout_is_done_once_unless_forced(media_root: Path) -> None:
    image = make_product(make_merchant()).images.get()
    made = product_image_cutout(image=image)
    path = cutout_path(media_root, image)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # an old file, to see any rewrite

    again = product_image_cutout(image=made)
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert again.cutout_hash == made.cutout_hash

    forced = product_image_cutout(image=made, force=True)
    assert path.stat().st_mtime_ns != 1_000_000_000
    assert forced.cutout.name == made.cutout.name  # replaced in place, not renamed
    assert forced.cutout_hash == made.cutout_hash  # the same photo gives the same cut-out


@pytest.mark.django_db
def test_product_image_cutout_replaces_a_leftover_and_remakes_a_lost_file(
    media_root: Path,
) -> None:
    image = make_product(make_merchant()).images.get()
    path = cutout_path(media_root, image)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half-written by a worker that died")

    made = product_image_cutout(image=image)
    assert made.cutout.name.endswith(f"{image.content_hash}.cutout.png")
    assert path.read_bytes().startswith(b"\x89PNG")

    path.unlink()
    remade = product_image_cutout(image=made)
    assert path.exists() and remade.cutout_hash == made.cutout_hash


@pytest.mark.django_db
def test_product_image_add_asks_for_the_cutout_once_committed(
    django_capture_on_commit_callbacks: pytest.FixtureRequest,
) -> None:
    product = make_product(make_merchant(), with_image=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # type: ignore[operator]
        image = product_image_add(product=product, filename="a.png", content=photo_bytes())
    queued = [cb.args[0] for cb in callbacks if hasattr(cb, "keywords")]
    # The cut-out, and the product's videos re-planned (a new photo may be the one they show).
    assert queued == ["catalog.cutout_product_image", "rendering.refresh_videos"]

    # The same bytes again are the same row: nothing new to cut out.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # type: ignore[operator]
        product_image_add(product=product, filename="again.png", content=photo_bytes())
    assert callbacks == []

    # Run the queued callback with the task executed in-process instead of sent to a broker.
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            image = product_image_add(
                product=product, filename="b.png", content=photo_bytes("#2E86AB")
            )
    finally:
        app.conf.task_always_eager = False
    image.refresh_from_db()
    assert image.cutout_kind == "cutout" and image.cutout_hash


@pytest.mark.django_db
def test_the_cutout_task_ignores_an_image_deleted_meanwhile() -> None:
    image = make_product(make_merchant()).images.get()
    image_id = image.pk
    image.delete()

    assert cutout_product_image(image_id) is None
