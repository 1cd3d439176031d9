"""The local renderer, judged by what a person sees in its frames."""

import io
from decimal import Decimal
from itertools import combinations, pairwise
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from catalog.models import Merchant, Product
from catalog.vocabulary import Aesthetic, Climate, TimeOfDay
from personalization.context import ShopperContext
from personalization.plans import hero_plan, offer_plan, outro_plan, scene_plan
from rendering.backends import backend_for
from videokit.compositor.stage import SAFE, Stage
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.media import probe

BRAND = ("#1D3557", "#F4A261")
ORANGE = (0xE4, 0x57, 0x2E)
PROFILES = {
    "16:9": OutputProfile("16:9", 320, 180, fps=15),
    "9:16": OutputProfile("9:16", 180, 320, fps=15),
    "1:1": OutputProfile("1:1", 240, 240, fps=15),
}


def product(
    title: str = "Stormline Rain Jacket", price: str = "19.99", currency: str = "EUR"
) -> Product:
    merchant = Merchant(name="Northwind Outfitters", slug="northwind")
    return Product(
        merchant=merchant, sku="JACKET", title=title, price=Decimal(price), currency=currency,
        description="A breathable, fully taped rain shell. It packs small.",
    )  # fmt: skip


def cutout_png() -> bytes:
    """A product already cut out: an orange jacket shape on transparency."""
    image = Image.new("RGBA", (300, 360), (0, 0, 0, 0))
    ImageDraw.Draw(image).polygon(
        [(60, 40), (150, 20), (240, 40), (290, 140), (250, 160), (240, 120), (240, 340),
         (60, 340), (60, 120), (50, 160), (10, 140)],
        fill=(*ORANGE, 255),
    )  # fmt: skip
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def assets() -> RenderAssets:
    return RenderAssets(product_image=cutout_png(), hashes={"product_kind": "cutout"})


def still(plan, aspect: str = "16:9", at: float = 0.5) -> np.ndarray:  # type: ignore[no-untyped-def]
    job = RenderJob(plan=plan, profile=PROFILES[aspect], assets=assets())
    return np.asarray(backend_for("local").still(job, plan.seconds * at)).astype(float)


def scene(context: str, seconds: float = 2.0):  # type: ignore[no-untyped-def]
    return scene_plan(
        product=product(),
        context=ShopperContext.parse(context),
        brand_colors=BRAND,
        seconds=seconds,
    )


def orange_pixels(frame: np.ndarray) -> np.ndarray:
    return (np.abs(frame - np.array(ORANGE)) < 40).all(axis=-1)


@pytest.mark.parametrize("dimension", ["climate", "aesthetic", "time"])
def test_every_value_of_every_dimension_looks_different(dimension: str) -> None:
    values = {"climate": Climate.values, "aesthetic": Aesthetic.values, "time": TimeOfDay.values}[
        dimension
    ]
    base = {"climate": "overcast", "aesthetic": "minimalist", "time": "day"}
    frames = {}
    for value in values:
        context = ",".join(f"{k}={value if k == dimension else v}" for k, v in base.items())
        frames[value] = still(scene(context))
    for a, b in combinations(values, 2):
        difference = np.abs(frames[a] - frames[b]).mean()
        assert difference > 6, f"{dimension}={a} and {dimension}={b} look alike ({difference:.1f})"


def test_rain_is_cool_and_grey_sun_is_warm_and_bright() -> None:
    rainy, sunny = still(scene("climate=rainy")), still(scene("climate=sunny"))
    assert sunny.mean() > rainy.mean()
    warmth = lambda f: f[..., 0].mean() - f[..., 2].mean()  # noqa: E731
    assert warmth(sunny) > warmth(rainy) + 10


def test_night_is_darker_than_day() -> None:
    assert still(scene("time=night")).mean() + 15 < still(scene("time=day")).mean()


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
@pytest.mark.parametrize("kind", ["hero", "scene", "offer"])
def test_the_product_is_whole_and_in_frame_in_every_aspect(aspect: str, kind: str) -> None:
    p = product()
    plan = {
        "hero": hero_plan(product=p, brand_colors=BRAND, seconds=2),
        "scene": scene("climate=snowy,aesthetic=luxury"),
        "offer": offer_plan(product=p, locale="de-DE", brand_colors=BRAND, seconds=2),
    }[kind]
    for at in (0.0, 1.0):  # the camera moves: check both ends
        frame = still(plan, aspect, at)
        mask = orange_pixels(frame)
        assert mask.sum() > frame.shape[0] * frame.shape[1] * 0.03
        rows, cols = np.where(mask.any(axis=1))[0], np.where(mask.any(axis=0))[0]
        # Unclipped: the product never touches the frame's edge.
        assert rows.min() > 0 and cols.min() > 0
        assert rows.max() < frame.shape[0] - 1 and cols.max() < frame.shape[1] - 1


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
@pytest.mark.parametrize("kind", ["hero", "scene", "offer", "outro"])
def test_captions_stay_inside_the_title_safe_area(aspect: str, kind: str) -> None:
    long_title = "Ultralight Packable Waterproof Breathable Three-Layer Storm Shell Jacket"
    p = product(title=long_title, price="1234567.89")
    plan = {
        "hero": hero_plan(product=p, brand_colors=BRAND, seconds=2),
        "scene": scene_plan(
            product=p, context=ShopperContext.parse("climate=rainy"), brand_colors=BRAND, seconds=2
        ),
        "offer": offer_plan(product=p, locale="fr-FR", brand_colors=BRAND, seconds=2),
        "outro": outro_plan(
            merchant_name="Northwind Outfitters International",
            call_to_action="Shop the whole collection now",
            brand_colors=BRAND,
            seconds=2,
        ),
    }[kind]
    profile = PROFILES[aspect]
    stage = Stage(plan=plan, profile=profile, assets=assets())
    card, x, y = stage.caption  # type: ignore[misc]
    margin_x, margin_y = profile.width * SAFE, profile.height * SAFE
    assert x >= margin_x - 1 and y >= margin_y - 1
    assert x + card.width <= profile.width - margin_x + 1
    assert y + card.height <= profile.height - margin_y + 1


def test_offer_and_outro_show_price_and_call_to_action() -> None:
    p = product(price="19.99", currency="EUR")
    offer = offer_plan(product=p, locale="de-DE", brand_colors=BRAND, seconds=2)
    assert offer.caption == "19,99\xa0€"
    frame = still(offer)
    accent = (np.abs(frame - np.array((0xF4, 0xA2, 0x61))) < 30).all(axis=-1)
    assert accent.sum() > 200  # the price tag in the brand's secondary color
    outro = still(
        outro_plan(
            merchant_name="Northwind", call_to_action="Shop now", brand_colors=BRAND, seconds=2
        )
    )
    assert not orange_pixels(outro).any()  # no product on the closing card
    assert (np.abs(outro - np.array((0xF4, 0xA2, 0x61))) < 30).all(axis=-1).sum() > 200


def test_a_rendered_scene_is_the_house_format(tmp_path: Path) -> None:
    plan = scene("climate=rainy,aesthetic=vintage", seconds=1.5)
    out = tmp_path / "scene.mp4"
    backend_for("local").render(
        RenderJob(plan=plan, profile=PROFILES["9:16"], assets=assets()), out
    )
    found = probe(out)
    assert (found.width, found.height, found.fps, found.codec, found.pix_fmt) == (
        180,
        320,
        15,
        "h264",
        "yuv420p",
    )
    assert found.frames == 22 or found.duration == pytest.approx(1.5, abs=0.07)


def test_camera_moves_are_smooth() -> None:
    """Consecutive frames change by similar small amounts: no jumps, no stalls."""
    plan = scene("climate=sunny,aesthetic=outdoorsy", seconds=2.0)
    stage = Stage(plan=plan, profile=PROFILES["16:9"], assets=assets())
    frames = [np.asarray(stage.frame(i / 29).y).astype(float) for i in range(30)]
    steps = [np.abs(b - a).mean() for a, b in pairwise(frames)]
    middle = steps[5:-5]
    assert max(middle) < 3 * (np.median(middle) + 0.05)
