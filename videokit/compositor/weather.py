"""Falling rain and snow as scrolling texture layers.

Each layer is a mask twice the frame's height, tiled vertically and drawn once; a frame crops
it at the layer's fall offset and blends the luma toward the drop color through it. Two layers
fall at different speeds for depth. A texture moving as a whole is cheap to draw and, unlike
independently jittering particles, cheap for the encoder to predict.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .layers import Frame


@dataclass(frozen=True)
class FallingLayer:
    mask: Image.Image  # L, width = frame width + sway margin, height = 2 × frame height
    speed: float  # frame heights per second
    sway: float  # horizontal drift amplitude, pixels
    level: int  # luma the drops brighten toward

    def draw(self, frame: Frame, seconds: float) -> None:
        width, height = frame.y.size
        offset = round((1.0 - (seconds * self.speed) % 1.0) * height)
        margin = (self.mask.width - width) // 2
        shift = round(margin + self.sway * np.sin(seconds * 1.1)) if self.sway else margin
        window = self.mask.crop((shift, offset, shift + width, offset + height))
        frame.y.paste(self.level, (0, 0), window)


def rain_layers(size: tuple[int, int], *, seed: int) -> list[FallingLayer]:
    return [
        FallingLayer(
            _streaks(size, count=45, length=0.05, alpha=50, thick=1, seed=seed), 1.1, 0, 225
        ),
        FallingLayer(
            _streaks(size, count=20, length=0.09, alpha=115, thick=2, seed=seed + 1), 1.9, 0, 235
        ),
    ]


def snow_layers(size: tuple[int, int], *, seed: int) -> list[FallingLayer]:
    scale = min(size) / 720
    return [
        FallingLayer(
            _flakes(size, count=150, radius=(1.0 * scale, 2.2 * scale), seed=seed),
            0.07,
            6 * scale,
            235,
        ),
        FallingLayer(
            _flakes(size, count=55, radius=(2.5 * scale, 4.5 * scale), seed=seed + 1),
            0.13,
            14 * scale,
            240,
        ),
    ]


def _streaks(
    size: tuple[int, int], *, count: int, length: float, alpha: int, thick: int, seed: int
) -> Image.Image:
    width, height = size
    rng = np.random.default_rng(seed)
    tile = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(tile)
    for _ in range(count):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        n = height * length * rng.uniform(0.6, 1.4)
        for dy in (-height, 0, height):  # wrap so the tile repeats seamlessly
            draw.line(
                (x, y + dy, x + n * 0.1, y + n + dy),
                fill=round(alpha * rng.uniform(0.6, 1.0)),
                width=thick,
            )
    tile = tile.filter(ImageFilter.GaussianBlur(radius=0.6))
    return _stacked(tile, margin=0)


def _flakes(
    size: tuple[int, int], *, count: int, radius: tuple[float, float], seed: int
) -> Image.Image:
    width, height = size
    margin = round(min(size) * 0.03)
    rng = np.random.default_rng(seed)
    tile = Image.new("L", (width + 2 * margin, height), 0)
    draw = ImageDraw.Draw(tile)
    for _ in range(count):
        x, y = rng.uniform(0, width + 2 * margin), rng.uniform(0, height)
        r = rng.uniform(*radius)
        for dy in (-height, 0, height):
            draw.ellipse((x - r, y - r + dy, x + r, y + r + dy), fill=round(rng.uniform(170, 240)))
    tile = tile.filter(ImageFilter.GaussianBlur(radius=0.8))
    return _stacked(tile, margin=margin)


def _stacked(tile: Image.Image, *, margin: int) -> Image.Image:
    stacked = Image.new("L", (tile.width, tile.height * 2))
    stacked.paste(tile, (0, 0))
    stacked.paste(tile, (0, tile.height))
    return stacked
