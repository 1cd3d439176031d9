"""The local compositor: a ScenePlan staged as layers, then moved by a camera.

Everything that does not change over time (backdrop with its scenery and light, the product
sprite with its contact shadow, the captions) is drawn once per segment. Per frame we only crop
and scale the backdrop for the camera, place the product with parallax, draw weather particles
(vectorized positions) and fade captions in; frames go straight to the encoder.
"""

import io
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from personalization.plans import ScenePlan
from rendering.backends.base import RenderAssets
from rendering.profiles import OutputProfile

# The backdrop is drawn larger than the frame so the camera can push in and pan without
# showing an edge; it is stored at half resolution because depth of field blurs it anyway.
OVERSCAN = 1.25
BACKDROP_SCALE = 0.5


def rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def kelvin_tint(kelvin: int) -> np.ndarray:
    """RGB multipliers for a light of this color temperature (Tanner Helland's fit), 6500 K = 1."""

    def channel(k: float) -> tuple[float, float, float]:
        k /= 100
        r = 255.0 if k <= 66 else 329.698727446 * (k - 60) ** -0.1332047592
        g = (
            99.4708025861 * math.log(k) - 161.1195681661
            if k <= 66
            else 288.1221695283 * (k - 60) ** -0.0755148492
        )
        b = (
            255.0
            if k >= 66
            else (0.0 if k <= 19 else 138.5177312231 * math.log(k - 10) - 305.0447927307)
        )
        return tuple(min(255.0, max(0.0, v)) for v in (r, g, b))  # type: ignore[return-value]

    tint = np.array(channel(kelvin)) / np.array(channel(6500))
    return tint.astype(np.float32)


def ease(t: float) -> float:
    """Ease-in-out (sine): camera moves start and stop softly, never jerk."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, t)))


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
    def portrait(self) -> bool:
        return self.profile.height > self.profile.width

    # --- static layers -------------------------------------------------------------------
    @cached_property
    def backdrop(self) -> Image.Image:
        width, height = self.size
        bw = round(width * OVERSCAN * BACKDROP_SCALE)
        bh = round(height * OVERSCAN * BACKDROP_SCALE)
        sky, ground, accent = (np.array(rgb(c), dtype=np.float32) for c in self.plan.palette[:3])
        y = np.linspace(0.0, 1.0, bh, dtype=np.float32)[:, None, None]
        x = np.linspace(0.0, 1.0, bw, dtype=np.float32)[None, :, None]
        horizon = 0.64
        # Sky fades toward the horizon, the ground plane is a separate, slightly lit gradient.
        sky_part = sky * (1 - 0.35 * (y / horizon)) + ground * 0.35 * (y / horizon)
        ground_part = ground * (1.08 - 0.3 * ((y - horizon) / (1 - horizon)))
        image = np.where(y < horizon, sky_part, ground_part) * np.ones_like(x)
        image = self._scenery(image, x, y, horizon, sky, ground, accent)
        # Key light: a broad glow where the light comes from, colored by its temperature.
        angle = math.radians(self.plan.light.direction_deg)
        lx, ly = 0.5 + 0.45 * math.cos(angle), 0.45 - 0.4 * math.sin(angle)
        glow = np.exp(-(((x - lx) * 1.6) ** 2 + ((y - ly) * 2.2) ** 2) * 3.0)
        image = image * (0.78 + 0.42 * self.plan.light.intensity * glow)
        image = image * kelvin_tint(self.plan.light.temperature_k)
        # Vignette keeps the eye on the product.
        vignette = 1 - 0.35 * (((x - 0.5) * 1.5) ** 2 + ((y - 0.5) * 1.5) ** 2)
        image = np.clip(image * vignette, 0, 255).astype(np.uint8)
        picture = Image.fromarray(image)
        return picture.filter(ImageFilter.GaussianBlur(radius=max(1.0, bw / 400)))

    def _scenery(
        self,
        image: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        horizon: float,
        sky: np.ndarray,
        ground: np.ndarray,
        accent: np.ndarray,
    ) -> np.ndarray:
        """Shapes that tell the place apart: a window, dunes, hills, a city, leaves, a sun."""
        rng = np.random.default_rng(self.seed + 7)
        kind = self.plan.backdrop
        if kind == "rain-window":
            # Blurry city lights behind the glass, then window mullions in front.
            for _ in range(40):
                cx, cy, r = rng.uniform(0, 1), rng.uniform(0.1, 0.6), rng.uniform(0.01, 0.035)
                blob = np.exp(-(((x - cx) ** 2 + ((y - cy) * 0.56) ** 2) / (r * r)))
                image = image + blob * accent * 0.35
            frame = (
                (np.abs(x - 0.5) < 0.006) | (np.abs(y - 0.33) < 0.01) | (x < 0.035) | (x > 0.965)
            )
            image = np.where(frame, ground * 0.45, image)
        elif kind == "desert-dunes":
            for i, phase in enumerate((0.3, 1.7, 2.9)):
                crest = horizon - 0.08 + 0.06 * i + 0.035 * np.sin(x * (5 + 2 * i) + phase)
                image = np.where(y > crest, image * (0.92 - 0.05 * i) + accent * 0.06, image)
        elif kind in {"sun-trail", "snow-field"}:
            for i, phase in enumerate((0.5, 2.2)):
                ridge = horizon - 0.1 + 0.07 * i + 0.04 * np.sin(x * (4 + 3 * i) + phase)
                shade = (
                    ground * (0.75 + 0.1 * i) if kind == "sun-trail" else ground * (0.9 + 0.05 * i)
                )
                image = np.where((y > ridge) & (y < horizon), shade, image)
            if kind == "sun-trail":
                sun = np.exp(-(((x - 0.78) ** 2 + ((y - 0.2) * 0.56) ** 2) / 0.004))
                image = image + sun[..., :] * np.array([255, 230, 170], dtype=np.float32) * 0.9
        elif kind == "overcast-street":
            for _ in range(14):
                left, width = rng.uniform(0, 1), rng.uniform(0.04, 0.12)
                top = rng.uniform(0.2, 0.45)
                block = (x > left) & (x < left + width) & (y > top) & (y < horizon)
                image = np.where(block, image * 0.82, image)
        elif kind == "tropical-garden":
            for _ in range(26):
                cx, cy = rng.uniform(0, 1), rng.uniform(0.0, 0.7)
                rx, ry = rng.uniform(0.03, 0.08), rng.uniform(0.06, 0.16)
                leaf = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1
                image = np.where(leaf, image * rng.uniform(0.6, 1.15), image)
        return image

    @cached_property
    def product(self) -> Image.Image:
        """The product on a transparent sprite with its contact shadow, sized for the aspect."""
        width, height = self.size
        photo = self._product_photo()
        box_w = width * (0.62 if self.portrait else 0.42)
        box_h = height * (0.42 if self.portrait else 0.6)
        scale = min(box_w / photo.width, box_h / photo.height)
        photo = photo.resize(
            (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
            Image.LANCZOS,
        )
        pad = round(photo.height * 0.14)
        sprite = Image.new("RGBA", (photo.width + 2 * pad, photo.height + 2 * pad), (0, 0, 0, 0))
        shadow = Image.new("L", sprite.size, 0)
        ImageDraw.Draw(shadow).ellipse(
            (pad + photo.width * 0.08, pad + photo.height * 0.93,
             pad + photo.width * 0.92, pad + photo.height * 1.07),
            fill=150,
        )  # fmt: skip
        shadow = shadow.filter(ImageFilter.GaussianBlur(radius=max(2, pad / 3)))
        sprite.paste((0, 0, 0, 255), (0, 0), shadow)
        sprite.alpha_composite(photo, (pad, pad))
        return sprite

    def _product_photo(self) -> Image.Image:
        """The product image as RGBA; a photo without transparency is shown as a framed card."""
        primary, secondary = self.plan.brand_colors
        if self.assets.product_image is None:
            card = Image.new("RGBA", (600, 600), (*rgb(primary), 255))
            draw = ImageDraw.Draw(card)
            initials = "".join(word[0] for word in self.plan.caption.split()[:2]).upper() or "?"
            draw.text((300, 300), initials, font=self.font(220), fill=rgb(secondary), anchor="mm")
            return _rounded(card, 40)
        with Image.open(io.BytesIO(self.assets.product_image)) as source:
            photo = ImageOps.exif_transpose(source).convert("RGBA")
        alpha = np.asarray(photo.getchannel("A"))
        if alpha.min() < 250:
            return photo
        border = max(6, round(min(photo.size) * 0.03))
        card = Image.new(
            "RGBA", (photo.width + 2 * border, photo.height + 2 * border), (255, 255, 255, 255)
        )
        card.paste(photo, (border, border))
        return _rounded(card, border * 2)

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        if self.assets.font:
            return ImageFont.truetype(io.BytesIO(self.assets.font), size=size)
        return ImageFont.load_default(size=size)  # type: ignore[return-value]

    @cached_property
    def caption(self) -> tuple[Image.Image, tuple[int, int]]:
        """The caption card and where it goes: inside the title-safe area (5 % margins)."""
        width, height = self.size
        primary, secondary = self.plan.brand_colors
        title_size = round(min(width, height) * (0.06 if self.portrait else 0.058))
        sub_size = round(title_size * 0.55)
        max_text = width * 0.9 - 2 * title_size * 0.6
        title_font = self.font(title_size)
        title = _fit(self.plan.caption, title_font, max_text)
        lines = [(title, title_font, (255, 255, 255))]
        if self.plan.subcaption:
            lines.append((self.plan.subcaption, self.font(sub_size), rgb(secondary)))
        pad = round(title_size * 0.5)
        text_w = max(font.getbbox(text)[2] for text, font, _ in lines)
        line_h = [font.getbbox("Ag")[3] + round(title_size * 0.2) for _, font, _ in lines]
        card_w, card_h = round(text_w + 2 * pad + pad * 0.6), round(sum(line_h) + 2 * pad)
        card = Image.new("RGBA", (card_w, card_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(card)
        draw.rounded_rectangle(
            (0, 0, card_w - 1, card_h - 1), radius=pad, fill=(*rgb(primary), 215)
        )
        draw.rounded_rectangle(
            (0, 0, round(pad * 0.35), card_h - 1), radius=2, fill=(*rgb(secondary), 255)
        )
        cursor = pad
        for (text, font, color), step in zip(lines, line_h, strict=True):
            draw.text((pad + pad * 0.6, cursor), text, font=font, fill=color)
            cursor += step
        margin_x, margin_y = round(width * 0.05), round(height * 0.05)
        position = (margin_x, height - margin_y - card_h)
        return card, position

    # --- per frame -----------------------------------------------------------------------
    def frame(self, t: float, seconds: float) -> np.ndarray:
        """The frame at ``t`` in [0, 1] of the segment."""
        move = self.plan.camera
        e = ease(t)
        strength = move.strength
        # Background and product move by different amounts: that difference is the parallax.
        zoom_bg, zoom_fg, dx_bg, dx_fg, dy_bg, dy_fg = 1.0, 1.0, 0.0, 0.0, 0.0, 0.0
        if move.kind == "push-in":
            zoom_bg, zoom_fg = 1 + 0.08 * strength * e, 1 + 0.16 * strength * e
        elif move.kind in {"pan-left", "pan-right"}:
            sign = 1 if move.kind == "pan-right" else -1
            dx_bg, dx_fg = sign * 0.07 * strength * (e - 0.5), sign * 0.16 * strength * (e - 0.5)
            zoom_bg = zoom_fg = 1.02
        elif move.kind == "orbit":
            angle = math.pi * (e - 0.5)
            dx_bg, dx_fg = 0.08 * strength * math.sin(angle), -0.05 * strength * math.sin(angle)
            zoom_bg, zoom_fg = 1.03, 1 + 0.04 * strength * math.cos(angle)
        elif move.kind == "rise":
            dy_bg, dy_fg = 0.06 * strength * (e - 0.5), 0.02 * strength * (e - 0.5)
            # A small decaying bounce on the product keeps "playful" lively but smooth.
            dy_fg += 0.012 * strength * math.sin(t * seconds * 2 * math.pi * 1.2) * (1 - 0.6 * t)
            zoom_bg = 1.03
        frame = self._background(zoom_bg, dx_bg, dy_bg)
        self._place_product(frame, zoom_fg, dx_fg, dy_fg)
        self._weather(frame, t * seconds)
        card, position = self.caption
        fade = min(1.0, t * seconds / 0.5)
        if fade >= 1.0:
            frame.paste(card, position, card)
        elif fade > 0:
            alpha = card.getchannel("A").point(lambda a: round(a * fade))
            frame.paste(card, position, alpha)
        return np.asarray(frame)

    def _background(self, zoom: float, dx: float, dy: float) -> Image.Image:
        width, height = self.size
        back = self.backdrop
        view_w, view_h = back.width / OVERSCAN / zoom, back.height / OVERSCAN / zoom
        cx = back.width / 2 + dx * back.width
        cy = back.height / 2 + dy * back.height
        left = min(max(0.0, cx - view_w / 2), back.width - view_w)
        top = min(max(0.0, cy - view_h / 2), back.height - view_h)
        return back.resize(
            (width, height), Image.BILINEAR, box=(left, top, left + view_w, top + view_h)
        )

    def _place_product(self, frame: Image.Image, zoom: float, dx: float, dy: float) -> None:
        width, height = self.size
        sprite = self._sprite_at(
            (round(self.product.width * zoom), round(self.product.height * zoom))
        )
        # The product stands a little right of center in landscape (the caption owns the lower
        # left) and above the caption in portrait and square.
        anchor_x = 0.6 if not self.portrait and width > height else 0.5
        anchor_y = 0.5 if width > height else 0.42
        x = round(width * (anchor_x + dx) - sprite.width / 2)
        y = round(height * (anchor_y + dy) - sprite.height / 2)
        frame.paste(sprite, (x, y), sprite)

    def _sprite_at(self, size: tuple[int, int]) -> Image.Image:
        # Pans hold the zoom constant: keep the last size so it is not resized every frame.
        cached = getattr(self, "_sprite_cache", None)
        if cached is not None and cached[0] == size:
            return cached[1]
        sprite = (
            self.product if size == self.product.size else self.product.resize(size, Image.BILINEAR)
        )
        self._sprite_cache = (size, sprite)
        return sprite

    @cached_property
    def _particles(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed + 11)
        count = {"rain": 160, "snow": 140}.get(self.plan.weather, 0)
        # Columns: x, y (0..1), speed, size.
        return rng.random((count, 4)).astype(np.float32)

    def _weather(self, frame: Image.Image, seconds: float) -> None:
        weather = self.plan.weather
        if weather not in {"rain", "snow"}:
            return
        width, height = self.size
        p = self._particles
        # Drawn straight onto the frame: a full-frame alpha mask would cost more than the
        # whole rest of the weather.
        draw = ImageDraw.Draw(frame)
        if weather == "rain":
            fall = (p[:, 1] + seconds * (0.9 + 0.8 * p[:, 2])) % 1.0
            xs = (p[:, 0] + 0.08 * fall) * width
            ys = fall * height * 1.1 - height * 0.05
            length = height * (0.03 + 0.04 * p[:, 3])
            for x0, y0, n, depth in zip(
                xs.tolist(), ys.tolist(), length.tolist(), p[:, 2].tolist(), strict=True
            ):
                shade = round(175 + 50 * depth)
                draw.line(
                    (x0, y0, x0 + n * 0.15, y0 + n),
                    fill=(shade, shade + 5, shade + 15),
                    width=1 + (depth > 0.7),
                )
        else:
            fall = (p[:, 1] + seconds * (0.06 + 0.08 * p[:, 2])) % 1.0
            xs = (p[:, 0] + 0.02 * np.sin(seconds * 1.5 + p[:, 3] * 6.28)) * width
            ys = fall * height
            radius = 1.5 + 3.5 * p[:, 3] * min(width, height) / 720
            for x0, y0, r in zip(xs.tolist(), ys.tolist(), radius.tolist(), strict=True):
                draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=(246, 249, 255))


def _rounded(image: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, image.width - 1, image.height - 1), radius=radius, fill=255
    )
    out = image.copy()
    out.putalpha(Image.fromarray(np.minimum(np.asarray(mask), np.asarray(image.getchannel("A")))))
    return out


def _fit(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """Shorten a caption with an ellipsis until it fits one line of the safe area."""
    if font.getlength(text) <= max_width:
        return text
    while text and font.getlength(text + "…") > max_width:
        text = text[:-1]
    return text.rstrip() + "…"
