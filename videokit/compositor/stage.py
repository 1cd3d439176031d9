"""The local compositor: a ScenePlan staged as layers, then moved by a camera.

Everything that does not change over time (the backdrop plate with its scenery and light, the
product sprite with contact shadow and reflection, caption cards, film grain tiles) is made once
per segment. Per frame: the camera's view of the plate (one sub-pixel resize per plane), the
product placed with parallax, weather particles from vectorized positions, captions faded in;
the Y'CbCr planes go straight to the encoder.
"""

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from videokit.job import OutputProfile, RenderAssets
from videokit.plan import ScenePlan

from . import painters
from .color import rgb
from .layers import Frame, Plate, Sprite
from .weather import FallingLayer, rain_layers, snow_layers

OVERSCAN = 1.2
PLATE_SCALE = 0.5
SAFE = 0.05  # title-safe margin on every side


def ease(t: float) -> float:
    """Ease-in-out (sine): moves start and stop softly, never jerk."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, t)))


@dataclass(frozen=True, slots=True)
class Shot:
    """Where the camera and the product are at one instant.

    ``dx_bg``/``dy_bg`` slide the view over the plate's spare margin (±0.5 reaches its edge);
    ``dx_fg``/``dy_fg`` move the product by fractions of the frame; ``zoom_fg`` scales it.
    The backdrop only slides (it is out of focus, so a dolly reads from the product's growth and
    the background's travel), which keeps its per-frame cost to a crop.
    """

    zoom_fg: float = 1.0
    dx_bg: float = 0.0
    dy_bg: float = 0.0
    dx_fg: float = 0.0
    dy_fg: float = 0.0


def shot_at(plan: ScenePlan, t: float, seconds: float) -> Shot:
    move, e, s = plan.camera, ease(t), plan.camera.strength
    # Background and product move by different amounts: that difference is the parallax.
    if move.kind == "push-in":
        return Shot(zoom_fg=1 + 0.14 * s * e, dy_bg=-0.5 * s * (e - 0.5))
    if move.kind in {"pan-left", "pan-right"}:
        sign = 1 if move.kind == "pan-right" else -1
        return Shot(dx_bg=sign * 0.9 * s * (e - 0.5), dx_fg=-sign * 0.05 * s * (e - 0.5))
    if move.kind == "orbit":
        angle = math.pi * (e - 0.5)
        return Shot(
            zoom_fg=1 + 0.05 * s * math.cos(angle),
            dx_bg=0.9 * s * math.sin(angle),
            dx_fg=-0.04 * s * math.sin(angle),
        )
    # "rise", with a small decaying bounce that keeps playful sets lively but smooth.
    bounce = 0.014 * s * abs(math.sin(t * seconds * math.pi * 1.6)) * (1 - 0.7 * t)
    return Shot(dy_bg=0.9 * s * (0.5 - e), dy_fg=0.015 * s * (0.5 - e) - bounce)


@dataclass
class Stage:
    plan: ScenePlan
    profile: OutputProfile
    assets: RenderAssets
    seed: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.profile.width, self.profile.height

    @property
    def layout(self) -> str:
        width, height = self.size
        if width > height * 1.2:
            return "landscape"
        return "portrait" if height > width * 1.2 else "square"

    @property
    def aesthetic(self) -> str:
        return str(self.plan.extras.get("aesthetic", ""))

    # --- static layers -------------------------------------------------------------------
    @cached_property
    def plate(self) -> Plate:
        width, height = self.size
        full = (round(width * OVERSCAN / 2) * 2, round(height * OVERSCAN / 2) * 2)
        # Painted at half resolution: depth of field blurs the set behind the product anyway.
        size = (round(full[0] * PLATE_SCALE), round(full[1] * PLATE_SCALE))
        painted = painters.backdrop(self.plan, size, seed=self.seed)
        picture = Image.fromarray(painted.astype(np.uint8))
        picture = picture.filter(ImageFilter.GaussianBlur(radius=max(1.0, size[0] / 320)))
        return Plate.from_rgb(np.asarray(picture.resize(full, Image.Resampling.BICUBIC)))

    @cached_property
    def product(self) -> tuple[Sprite, float, float] | None:
        """The product sprite and the frame position (fractions) of its center."""
        if self.plan.kind == "outro":
            return None
        width, height = self.size
        boxes = {
            "landscape": {"offer": (0.34, 0.56, 0.7, 0.46), "default": (0.4, 0.6, 0.64, 0.47)},
            "portrait": {"offer": (0.62, 0.34, 0.5, 0.33), "default": (0.74, 0.42, 0.5, 0.4)},
            "square": {"offer": (0.5, 0.46, 0.5, 0.38), "default": (0.6, 0.55, 0.5, 0.44)},
        }[self.layout]
        bw, bh, cx, cy = boxes.get(self.plan.kind, boxes["default"])
        if self.aesthetic == "minimalist":
            bw, bh = bw * 0.8, bh * 0.8
        photo = (
            painters.load_rgba(self.assets.product_image)
            if self.assets.product_image
            else self._placeholder()
        )
        sprite = painters.product_sprite(
            photo,
            (bw * width, bh * height),
            reflection=self.aesthetic == "luxury",
            card=self.assets.hashes.get("product_kind") == "card",
        )
        return Sprite.from_rgba(sprite), cx, cy

    def _placeholder(self) -> Image.Image:
        primary, secondary = self.plan.brand_colors
        card = Image.new("RGBA", (600, 600), (*rgb(primary), 255))
        initials = "".join(
            word[0] for word in str(self.plan.extras.get("title") or self.plan.caption).split()[:2]
        ).upper()
        ImageDraw.Draw(card).text(
            (300, 300),
            initials or "?",
            font=painters.font(self.assets.font, 220),
            fill=rgb(secondary),
            anchor="mm",
        )
        return painters.rounded(card, 40)

    @cached_property
    def caption(self) -> tuple[Sprite, int, int] | None:
        """The caption card and its top-left corner, inside the title-safe area."""
        width, height = self.size
        primary, secondary = self.plan.brand_colors
        short = min(width, height)
        margin_x, margin_y = round(width * SAFE), round(height * SAFE)
        safe_w = width - 2 * margin_x
        if self.plan.kind == "outro":
            card = painters.outro_card(
                logo=self.assets.logo,
                name=self.plan.subcaption,
                call_to_action=self.plan.caption,
                face=self.assets.font,
                size=(safe_w, height - 2 * margin_y),
                colors=(primary, secondary),
            )
            return Sprite.from_rgba(card), (width - card.width) // 2, (height - card.height) // 2
        if self.plan.kind == "offer":
            size = round(short * (0.13 if self.layout == "landscape" else 0.1))
            max_w = safe_w * (0.5 if self.layout == "landscape" else 1.0)
            card = painters.price_tag(
                self.plan.caption, self.plan.subcaption, face=self.assets.font, size=size,
                colors=(primary, secondary), max_width=max_w,
                was=str(self.plan.extras.get("was", "")),
            )  # fmt: skip
            if self.layout == "landscape":
                return (
                    Sprite.from_rgba(card),
                    margin_x + round(width * 0.02),
                    (height - card.height) // 2,
                )
            return Sprite.from_rgba(card), margin_x, height - margin_y - card.height
        title_size = round(short * (0.055 if self.layout == "landscape" else 0.06))
        lines = [(self.plan.caption, painters.font(self.assets.font, title_size), (255, 255, 255))]
        if self.plan.subcaption:
            lines.append(
                (
                    self.plan.subcaption,
                    painters.font(self.assets.font, round(title_size * 0.6)),
                    rgb(secondary),
                )
            )
        max_w = safe_w * (0.62 if self.layout == "landscape" else 1.0)
        card = painters.caption_card(
            lines,
            max_width=max_w,
            fill=rgb(primary),
            accent=rgb(secondary),
            pad=round(title_size * 0.5),
        )
        return Sprite.from_rgba(card), margin_x, height - margin_y - card.height

    @cached_property
    def flare(self) -> Sprite | None:
        if self.plan.weather != "sun":
            return None
        size = round(min(self.size) * 0.5)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
        radius = np.sqrt(xx * xx + yy * yy)
        ring = (
            np.exp(-(((radius - 0.32) / 0.03) ** 2)) * 0.35 + np.exp(-((radius / 0.12) ** 2)) * 0.6
        )
        rgba = np.zeros((size, size, 4), dtype=np.uint8)
        rgba[..., :3] = (255, 226, 170)
        rgba[..., 3] = np.clip(ring * 255, 0, 255).astype(np.uint8)
        return Sprite.from_rgba(Image.fromarray(rgba))

    @cached_property
    def grain(self) -> list[Image.Image]:
        if self.aesthetic != "vintage":
            return []
        rng = np.random.default_rng(self.seed + 3)
        width, height = self.size
        return [
            Image.fromarray(rng.integers(0, 18, size=(height, width), dtype=np.uint8))
            for _ in range(6)
        ]

    @cached_property
    def weather(self) -> list[FallingLayer]:
        if self.plan.weather == "rain":
            return rain_layers(self.size, seed=self.seed + 11)
        if self.plan.weather == "snow":
            return snow_layers(self.size, seed=self.seed + 11)
        return []

    def prepare(self) -> None:
        """Build every static layer up front (so per-frame timing is per-frame work only)."""
        for name in ("plate", "product", "caption", "flare", "grain", "weather"):
            getattr(self, name)

    # --- per frame -----------------------------------------------------------------------
    def frame(self, t: float) -> Frame:
        """The frame at ``t`` in [0, 1] of the segment."""
        seconds = self.plan.seconds
        width, height = self.size
        shot = shot_at(self.plan, t, seconds)
        frame = self.plate.view(self.size, dx=shot.dx_bg, dy=shot.dy_bg)
        if self.flare is not None:
            side = self.flare.width
            self.flare.draw(
                frame,
                width * (0.78 - shot.dx_bg * 3) - side / 2,
                height * 0.15 - side / 2,
                opacity=0.55,
            )
        if self.product is not None:
            sprite, cx, cy = self.product
            scale = shot.zoom_fg
            x = width * (cx + shot.dx_fg) - sprite.width * scale / 2
            y = height * (cy + shot.dy_fg) - sprite.height * scale / 2
            sprite.draw(frame, x, y, scale=scale)
        self._weather(frame, t * seconds)
        if self.caption is not None:
            card, x0, y0 = self.caption
            appear = min(1.0, t * seconds / 0.6)
            if appear > 0:
                lift = (1 - ease(appear)) * height * 0.02
                card.draw(frame, x0, y0 + lift, opacity=ease(appear))
        if self.grain:
            flicker = round(2 * math.sin(t * seconds * 9.0))
            frame.y = ImageChops.add(frame.y, self.grain[0], 1.0, -8 + flicker)
        return frame

    def _weather(self, frame: Frame, seconds: float) -> None:
        for layer in self.weather:
            layer.draw(frame, seconds)
