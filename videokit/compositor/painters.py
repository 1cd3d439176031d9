"""Static pictures of a segment, painted once: backdrops, the product sprite, caption cards.

Backdrops are painted with vectorized numpy in float RGB, graded by the plan's light (color
temperature, direction) and the aesthetic, then handed to the compositor as a Plate.
"""

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from videokit.plan import ScenePlan

from .color import kelvin_tint, rgb

HORIZON = 0.64


def backdrop(plan: ScenePlan, size: tuple[int, int], *, seed: int) -> np.ndarray:
    """The backdrop as RGB float32 (H×W×3, 0..255) at ``size``."""
    width, height = size
    sky, ground, accent = (np.array(rgb(c), dtype=np.float32) for c in plan.palette[:3])
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    aspect = width / height
    kind = plan.backdrop
    horizon = 0.7 if kind.startswith("brand") else HORIZON
    sky_part = sky * (1 - 0.3 * (y / horizon)) + ground * 0.3 * (y / horizon)
    ground_part = ground * (1.05 - 0.35 * ((y - horizon) / (1 - horizon)))
    # Declared loosely: the numpy stubs widen float32 * Python float to float64 (NEP 50 keeps
    # float32 at run time), and the layers below mix both.
    image: np.ndarray = np.where(y < horizon, sky_part, ground_part) * np.ones_like(x)
    image = _scenery(image, kind, x, y, aspect, sky, ground, accent, seed)
    aesthetic = plan.extras.get("aesthetic", "")
    image = _staging(image, aesthetic, x, y, accent, seed)
    # Key light: a broad glow where the light comes from, colored by its temperature.
    angle = math.radians(plan.light.direction_deg)
    lx, ly = 0.5 + 0.42 * math.cos(angle), 0.42 - 0.38 * math.sin(angle)
    glow = np.exp(-(((x - lx) * 1.4 * aspect) ** 2 + ((y - ly) * 1.8) ** 2) * 1.6)
    image = image * (0.72 + 0.5 * plan.light.intensity * glow)
    image = image * kelvin_tint(plan.light.temperature_k)
    image = _time_of_day(image, str(plan.extras.get("time", "")), x, y, aspect, seed)
    strength = 0.55 if aesthetic in {"vintage", "luxury"} else 0.3
    vignette = 1 - strength * (((x - 0.5) * 1.4) ** 2 + ((y - 0.5) * 1.4) ** 2)
    image = np.clip(image * vignette, 0, 255)
    if aesthetic == "vintage":
        # Faded film: lifted blacks, warm highlights, a touch of desaturation.
        mean = image.mean(axis=-1, keepdims=True)
        image = (image * 0.75 + mean * 0.25) * np.array([1.06, 1.0, 0.86], dtype=np.float32) + 14
    return np.clip(image, 0, 255).astype(np.float32)


@dataclass(frozen=True)
class Canvas:
    """What a scenery painter draws on: the backdrop so far, the pixel grid (0..1) and the
    plan's colors."""

    x: np.ndarray
    y: np.ndarray
    aspect: float
    sky: np.ndarray
    ground: np.ndarray
    accent: np.ndarray
    kind: str


def _rain_window(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    x, y, aspect = c.x, c.y, c.aspect
    for _ in range(46):  # city lights blurred behind wet glass
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0.05, 0.62), rng.uniform(0.012, 0.04)
        blob = np.exp(-(((x - cx) * aspect) ** 2 + (y - cy) ** 2) / (r * r))
        tone = c.accent if rng.random() < 0.6 else np.array([255, 196, 120], dtype=np.float32)
        image = image + blob * tone * 0.45
    frame = (np.abs(x - 0.5) < 0.005) | (np.abs(y - 0.32) < 0.009) | (x < 0.03) | (x > 0.97)
    image = np.where(frame, c.ground * 0.4, image)
    for _ in range(70):  # droplets resting on the glass
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.002, 0.006)
        drop = np.exp(-(((x - cx) * aspect) ** 2 + (y - cy) ** 2) / (r * r))
        image = image + drop * 70
    return image


def _desert_dunes(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    for i, phase in enumerate((0.3, 1.7, 2.9)):
        crest = HORIZON - 0.1 + 0.07 * i + 0.04 * np.sin(c.x * (5 + 2 * i) + phase)
        band = c.y > crest
        image = np.where(band, image * (0.95 - 0.06 * i) + c.accent * 0.08, image)
    haze = np.exp(-(((c.y - HORIZON + 0.08) / 0.05) ** 2))
    return image + haze * 40


def _hills(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    """Rolling ridges: green under a sun for the trail, white with distant pines for snow."""
    x, y, aspect = c.x, c.y, c.aspect
    sunny = c.kind == "sun-trail"
    for i, phase in enumerate((0.5, 2.2, 4.0)):
        ridge = HORIZON - 0.14 + 0.06 * i + 0.045 * np.sin(x * (4 + 3 * i) + phase)
        if sunny:
            shade = c.ground * (0.6 + 0.12 * i) + np.array([0, 18, 0], dtype=np.float32)
        else:
            shade = c.ground * (0.86 + 0.05 * i)
        image = np.where((y > ridge) & (y < HORIZON + 0.05 * i), shade, image)
    if sunny:
        sun = np.exp(-(((x - 0.8) * aspect) ** 2 + (y - 0.18) ** 2) / 0.004)
        halo = np.exp(-(((x - 0.8) * aspect) ** 2 + (y - 0.18) ** 2) / 0.05)
        return image + (sun * 0.9 + halo * 0.35) * np.array([255, 232, 180], dtype=np.float32)
    for _ in range(24):  # distant pines
        cx, base = rng.uniform(0, 1), HORIZON - 0.08 + rng.uniform(0, 0.05)
        tall = rng.uniform(0.06, 0.14)
        tree = (y < base) & (y > base - tall) & (np.abs(x - cx) * aspect < (y - base + tall) * 0.35)
        image = np.where(tree, image * 0.55 + np.array([10, 30, 35], dtype=np.float32), image)
    return image


def _overcast_street(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    x, y = c.x, c.y
    for _ in range(16):
        left, wide = rng.uniform(-0.05, 1), rng.uniform(0.05, 0.13)
        top = rng.uniform(0.18, 0.42)
        block = (x > left) & (x < left + wide) & (y > top) & (y < HORIZON)
        image = np.where(block, image * rng.uniform(0.7, 0.85), image)
        windows = block & (np.sin(x * 260) > 0.6) & (np.sin(y * 200) > 0.5)
        image = np.where(windows, image * 1.18, image)
    return image


def _tropical_garden(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    x, y, aspect = c.x, c.y, c.aspect
    for _ in range(34):
        cx, cy = rng.uniform(0, 1), rng.uniform(-0.05, 0.75)
        rx, ry = rng.uniform(0.03, 0.08) / aspect * 1.7, rng.uniform(0.07, 0.18)
        angle = rng.uniform(-0.8, 0.8)
        u = ((x - cx) * math.cos(angle) + (y - cy) * math.sin(angle)) / rx
        v = (-(x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)) / ry
        leaf = u * u + v * v < 1
        image = np.where(
            leaf,
            image * rng.uniform(0.55, 0.95) + np.array([0, 12, 0], dtype=np.float32),
            image,
        )
    return image * 0.9 + 22  # humid haze


def _brand_studio(image: np.ndarray, c: Canvas, rng: np.random.Generator) -> np.ndarray:
    """A seamless studio sweep in the brand colors with a soft accent light behind."""
    x, y, aspect = c.x, c.y, c.aspect
    sweep = np.exp(-(((x - 0.5) * aspect * 0.9) ** 2 + ((y - 0.38) * 1.6) ** 2) * 2.2)
    image = image + sweep[..., :] * (c.accent * 0.25 + 30)
    if c.kind == "brand-offer":
        stripe = (np.abs((x * aspect - y) * 6 % 1 - 0.5) < 0.04) & (y < HORIZON)
        image = np.where(stripe, image * 1.06, image)
    return image


# The shapes that tell each place apart, by the plan's backdrop.
SCENERIES: dict[str, Callable[[np.ndarray, Canvas, np.random.Generator], np.ndarray]] = {
    "rain-window": _rain_window,
    "desert-dunes": _desert_dunes,
    "sun-trail": _hills,
    "snow-field": _hills,
    "overcast-street": _overcast_street,
    "tropical-garden": _tropical_garden,
    "brand-studio": _brand_studio,
    "brand-offer": _brand_studio,
    "brand-outro": _brand_studio,
}


def _scenery(
    image: np.ndarray,
    kind: str,
    x: np.ndarray,
    y: np.ndarray,
    aspect: float,
    sky: np.ndarray,
    ground: np.ndarray,
    accent: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Shapes that tell the place apart: a wet window, dunes, hills, a street, leaves, a sun."""
    painter = SCENERIES.get(kind)
    if painter is None:
        return image
    canvas = Canvas(x=x, y=y, aspect=aspect, sky=sky, ground=ground, accent=accent, kind=kind)
    return painter(image, canvas, np.random.default_rng(seed + 7))


# Exposure and grade per time of day, on top of the key light's color temperature.
TIME_GRADES: dict[str, tuple[float, tuple[float, float, float]]] = {
    "morning": (1.02, (0.96, 1.0, 1.06)),
    "day": (1.06, (1.0, 1.0, 1.0)),
    "golden-hour": (0.95, (1.22, 0.96, 0.68)),
    "evening": (0.68, (1.08, 0.82, 1.1)),
    "night": (0.4, (0.72, 0.85, 1.3)),
}


def _time_of_day(
    image: np.ndarray, time: str, x: np.ndarray, y: np.ndarray, aspect: float, seed: int
) -> np.ndarray:
    if time not in TIME_GRADES:
        return image
    exposure, tint = TIME_GRADES[time]
    image = image * exposure * np.array(tint, dtype=np.float32)
    if time in {"evening", "night"}:
        # Warm windows and street lamps come on.
        rng = np.random.default_rng(seed + 29)
        for _ in range(18 if time == "night" else 9):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0.1, 0.6), rng.uniform(0.01, 0.025)
            blob = np.exp(-(((x - cx) * aspect) ** 2 + (y - cy) ** 2) / (r * r))
            image = image + blob * np.array([255, 190, 110], dtype=np.float32) * 0.55
    return image


def _staging(
    image: np.ndarray, aesthetic: str, x: np.ndarray, y: np.ndarray, accent: np.ndarray, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed + 13)
    if aesthetic == "cozy":
        # Warm lamp bokeh and a soft knitted texture in the ground.
        for _ in range(14):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0.05, 0.5), rng.uniform(0.02, 0.05)
            blob = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (r * r)))
            image = image + blob * np.array([255, 170, 90], dtype=np.float32) * 0.5
        knit = 1 + 0.05 * np.sin(x * 220) * np.sin(y * 140)
        image = np.where(y > HORIZON, image * knit, image)
    elif aesthetic == "luxury":
        # A glossy dark floor with a thin specular line at the horizon.
        line = np.exp(-(((y - HORIZON) / 0.004) ** 2)) * np.exp(-(((x - 0.5) / 0.35) ** 2))
        image = image + line * np.array([255, 236, 190], dtype=np.float32) * 0.7
    elif aesthetic == "playful":
        for _ in range(30):  # confetti dots in saturated colors
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 0.95), rng.uniform(0.006, 0.014)
            dot = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
            color = np.array(
                rng.choice([[255, 79, 163], [255, 214, 0], [0, 200, 255], [120, 230, 80]]),
                dtype=np.float32,
            )
            image = np.where(dot, color, image)
    elif aesthetic == "minimalist":
        # Negative space: flatten the scene toward a light, even tone.
        image = image * 0.55 + 255 * 0.4
    elif aesthetic == "outdoorsy":
        depth = np.clip((HORIZON - y) / HORIZON, 0, 1)
        image = (
            image * (1 - 0.25 * depth) + np.array([170, 200, 230], dtype=np.float32) * 0.25 * depth
        )
    return image


def load_rgba(content: bytes) -> Image.Image:
    with Image.open(io.BytesIO(content)) as source:
        source.seek(0)
        return ImageOps.exif_transpose(source).convert("RGBA")


def product_sprite(
    photo: Image.Image, box: tuple[float, float], *, reflection: bool, card: bool
) -> Image.Image:
    """The product fitted into ``box`` (w, h) with a contact shadow, and on luxury sets a
    fading reflection below it."""
    # A "card" cutout comes framed already; an opaque original (no cutout) is framed here.
    if not card and np.asarray(photo.getchannel("A")).min() >= 250:
        border = max(6, round(min(photo.size) * 0.035))
        framed = Image.new(
            "RGBA", (photo.width + 2 * border, photo.height + 2 * border), (255, 255, 255, 255)
        )
        framed.paste(photo, (border, border))
        photo = rounded(framed, border * 2)
    scale = min(box[0] / photo.width, box[1] / photo.height)
    photo = photo.resize(
        (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
        Image.Resampling.LANCZOS,
    )
    below = round(photo.height * (0.45 if reflection else 0.12))
    pad = round(photo.width * 0.12)
    sprite = Image.new("RGBA", (photo.width + 2 * pad, photo.height + below + pad), (0, 0, 0, 0))
    shadow = Image.new("L", sprite.size, 0)
    base = pad + photo.height
    ImageDraw.Draw(shadow).ellipse(
        (
            pad + photo.width * 0.06,
            base - photo.height * 0.045,
            pad + photo.width * 0.94,
            base + photo.height * 0.05,
        ),
        fill=170,
    )
    shadow = shadow.filter(ImageFilter.GaussianBlur(radius=max(2, photo.height / 40)))
    sprite.paste((0, 0, 0, 255), (0, 0), shadow)
    if reflection:
        mirrored = ImageOps.flip(photo)
        fade = np.linspace(0.35, 0.0, mirrored.height, dtype=np.float32)[:, None]
        alpha = (np.asarray(mirrored.getchannel("A")).astype(np.float32) * fade).astype(np.uint8)
        mirrored.putalpha(Image.fromarray(alpha))
        sprite.alpha_composite(mirrored, (pad, base + 2))
    sprite.alpha_composite(photo, (pad, pad))
    return sprite


def rounded(image: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, image.width - 1, image.height - 1), radius=radius, fill=255
    )
    out = image.copy()
    out.putalpha(Image.fromarray(np.minimum(np.asarray(mask), np.asarray(image.getchannel("A")))))
    return out


# The caption face when the brand kit has none: Source Sans Pro (SIL Open Font License), from
# a PyPI package, because Pillow's built-in font has no glyphs for € or a no-break space.
DEFAULT_FACE = resources.files("font_source_sans_pro") / "files" / "SourceSansPro-Semibold.ttf"


@cache
def _default_face_bytes() -> bytes:
    return DEFAULT_FACE.read_bytes()


def font(content: bytes | None, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(io.BytesIO(content or _default_face_bytes()), size=size)


def fit_text(text: str, face: ImageFont.FreeTypeFont, max_width: float) -> str:
    """Shorten a line with an ellipsis until it fits the safe area."""
    if face.getlength(text) <= max_width:
        return text
    while text and face.getlength(text + "…") > max_width:
        text = text[:-1]
    return text.rstrip() + "…"


def caption_card(
    lines: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int]]],
    *,
    max_width: float,
    fill: tuple[int, int, int],
    accent: tuple[int, int, int],
    pad: int,
) -> Image.Image:
    """A translucent card in the brand color with an accent bar, holding one or more lines."""
    fitted = [
        (fit_text(text, face, max_width - 2.6 * pad), face, color)
        for text, face, color in lines
        if text
    ]
    text_w = max(face.getlength(text) for text, face, _ in fitted)
    heights = [face.getbbox("Ag")[3] + round(pad * 0.35) for _, face, _ in fitted]
    card_w, card_h = round(text_w + 2.6 * pad), round(sum(heights) + 1.6 * pad)
    card = Image.new("RGBA", (card_w, card_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((0, 0, card_w - 1, card_h - 1), radius=pad, fill=(*fill, 222))
    draw.rounded_rectangle((0, 0, round(pad * 0.4), card_h - 1), radius=2, fill=(*accent, 255))
    # float: Pillow annotates FreeTypeFont.getbbox as floats (a fractional stroke width).
    cursor: float = round(pad * 0.8)
    for (text, face, color), step in zip(fitted, heights, strict=True):
        draw.text((round(pad * 1.6), cursor), text, font=face, fill=color)
        cursor += step
    return card


def price_tag(
    price: str,
    claim: str,
    *,
    face: bytes | None,
    size: int,
    colors: tuple[str, str],
    max_width: float,
    was: str = "",
) -> Image.Image:
    """The offer's price, large, on the accent color, with the claim beneath it; on a sale, the
    price before it (``was``) above the tag, struck through."""
    primary, secondary = rgb(colors[0]), rgb(colors[1])
    big = font(face, size)
    small = font(face, max(12, round(size * 0.36)))
    price_text = fit_text(price, big, max_width)
    claim_text = fit_text(claim, small, max_width) if claim else ""
    was_text = fit_text(was, small, max_width) if was else ""
    pad = round(size * 0.35)
    price_w = big.getlength(price_text)
    claim_w = small.getlength(claim_text) if claim_text else 0
    was_w = small.getlength(was_text) if was_text else 0
    line = small.getbbox("Ag")[3]
    top = round(line + pad * 0.4) if was_text else 0
    width = round(max(price_w + 2 * pad, claim_w, was_w) + 2)
    price_h = big.getbbox("0")[3] + pad
    height = round(top + price_h + pad + (line + pad * 0.6 if claim_text else 0))
    card = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    if was_text:
        draw.text((2, 0), was_text, font=small, fill=(235, 235, 235))
        strike_y = round(
            small.getbbox("0")[1] + (small.getbbox("0")[3] - small.getbbox("0")[1]) / 2
        )
        draw.line(
            (0, strike_y, round(was_w) + 4, strike_y),
            fill=(*secondary, 255),
            width=max(2, size // 18),
        )
    draw.rounded_rectangle(
        (0, top, price_w + 2 * pad, top + price_h + pad * 0.4), radius=pad, fill=(*secondary, 255)
    )
    draw.text((pad, top + pad * 0.45), price_text, font=big, fill=primary)
    if claim_text:
        draw.text((2, top + price_h + pad), claim_text, font=small, fill=(255, 255, 255))
    return card


def outro_card(
    *,
    logo: bytes | None,
    name: str,
    call_to_action: str,
    face: bytes | None,
    size: tuple[int, int],
    colors: tuple[str, str],
) -> Image.Image:
    """Logo (or the shop's name set in the brand font) above a call-to-action pill."""
    width, height = size
    primary, secondary = rgb(colors[0]), rgb(colors[1])
    short = min(width, height)
    parts: list[Image.Image] = []
    if logo:
        mark = load_rgba(logo)
        scale = min(width * 0.5 / mark.width, short * 0.28 / mark.height)
        parts.append(
            mark.resize(
                (max(1, round(mark.width * scale)), max(1, round(mark.height * scale))),
                Image.Resampling.LANCZOS,
            )
        )
    else:
        name_size = round(short * 0.11)
        face_big = font(face, name_size)
        while name_size > 12 and face_big.getlength(name) > width * 0.85:  # shrink, not cut
            name_size = round(name_size * 0.9)
            face_big = font(face, name_size)
        text = fit_text(name, face_big, width * 0.85)
        box = face_big.getbbox(text)
        mark = Image.new("RGBA", (round(box[2]) + 4, round(box[3]) + 4), (0, 0, 0, 0))
        ImageDraw.Draw(mark).text((2, 2), text, font=face_big, fill=(255, 255, 255))
        parts.append(mark)
    face_cta = font(face, round(short * 0.06))
    cta = fit_text(call_to_action, face_cta, width * 0.7)
    pad = round(short * 0.03)
    cta_w, cta_h = (
        round(face_cta.getlength(cta) + 4 * pad),
        round(face_cta.getbbox("Ag")[3] + 2 * pad),
    )
    pill = Image.new("RGBA", (cta_w, cta_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(pill)
    draw.rounded_rectangle((0, 0, cta_w - 1, cta_h - 1), radius=cta_h // 2, fill=(*secondary, 255))
    draw.text((cta_w / 2, cta_h / 2), cta, font=face_cta, fill=primary, anchor="mm")
    parts.append(pill)
    gap = round(short * 0.06)
    total_w = max(p.width for p in parts)
    total_h = sum(p.height for p in parts) + gap * (len(parts) - 1)
    card = Image.new("RGBA", (total_w, total_h), (0, 0, 0, 0))
    cursor = 0
    for part in parts:
        card.alpha_composite(part, ((total_w - part.width) // 2, cursor))
        cursor += part.height + gap
    return card
