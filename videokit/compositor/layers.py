"""Layers in Y'CbCr 4:2:0: the plate (backdrop), sprites (product, captions, logo) and the frame.

Every per-frame operation is one Pillow call on a one-channel plane: ``resize`` with a
fractional ``box`` (sub-pixel camera moves and placement, so slow moves glide instead of
stepping a pixel at a time) and ``paste`` with an alpha mask.
"""

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .color import planes, yuv_to_rgb

# Transparent border around sprites so a fractional resize box never leaves the image.
PAD = 2


@dataclass
class Frame:
    y: Image.Image
    cb: Image.Image
    cr: Image.Image

    def to_bytes(self) -> bytes:
        return self.y.tobytes() + self.cb.tobytes() + self.cr.tobytes()

    def to_rgb(self) -> Image.Image:
        size = self.y.size
        rgb = yuv_to_rgb(
            np.asarray(self.y),
            np.asarray(self.cb.resize(size, Image.Resampling.BILINEAR)),
            np.asarray(self.cr.resize(size, Image.Resampling.BILINEAR)),
        )
        return Image.fromarray(rgb)


# Sub-pixel positions are quantized to quarter pixels: finer steps are invisible in motion, and
# it lets a slow move reuse at most 16 resampled copies of a layer instead of resampling every
# frame (that resampling was most of the per-frame cost).
PHASES = 4


def quantize(value: float) -> tuple[int, float]:
    """Split a position into a whole pixel and a quarter-pixel phase."""
    steps = round(value * PHASES)
    whole, phase = divmod(steps, PHASES)
    return whole, phase / PHASES


@dataclass
class Plate:
    """A backdrop larger than the frame, for the camera to travel over.

    The camera's view is a window that slides with sub-pixel precision; each quarter-pixel
    phase of the plate is resampled once and then only cropped.
    """

    y: Image.Image
    cb: Image.Image
    cr: Image.Image

    @classmethod
    def from_rgb(cls, image: np.ndarray) -> "Plate":
        y, cb, cr = planes(image)
        return cls(y=y, cb=cb, cr=cr)

    def view(self, size: tuple[int, int], *, dx: float, dy: float) -> Frame:
        """The frame the camera sees, its center moved by (dx, dy) of the spare margin
        (-0.5..0.5 reaches the plate's edges)."""
        width, height = size
        pw, ph = self.y.size
        left = (pw - width) * (0.5 + max(-0.5, min(0.5, dx)))
        top = (ph - height) * (0.5 + max(-0.5, min(0.5, dy)))
        chroma = ((width + 1) // 2, (height + 1) // 2)
        return Frame(
            y=self._window(self.y, left, top, (width, height)),
            cb=self._window(self.cb, left / 2, top / 2, chroma),
            cr=self._window(self.cr, left / 2, top / 2, chroma),
        )

    def _window(
        self, plane: Image.Image, left: float, top: float, size: tuple[int, int]
    ) -> Image.Image:
        ix, fx = quantize(left)
        iy, fy = quantize(top)
        cache = self.__dict__.setdefault("_phases", {})
        key = (id(plane), fx, fy)
        if key not in cache:
            cache[key] = _shifted(plane, fx, fy)
        return cache[key].crop((ix, iy, ix + size[0], iy + size[1]))


def _shifted(plane: Image.Image, fx: float, fy: float) -> Image.Image:
    """The plane moved left/up by a fraction of a pixel (same size; the last row repeats)."""
    if fx == 0 and fy == 0:
        return plane
    width, height = plane.size
    return plane.resize(
        (width, height), Image.Resampling.BILINEAR, box=(fx, fy, width - 1 + fx, height - 1 + fy)
    )


@dataclass
class Sprite:
    """An RGBA image split into padded Y/alpha planes and half-size Cb/Cr/alpha planes."""

    width: int
    height: int
    y: Image.Image
    alpha: Image.Image
    cb: Image.Image
    cr: Image.Image
    alpha_half: Image.Image

    @classmethod
    def from_rgba(cls, image: Image.Image) -> "Sprite":
        rgba = np.asarray(image.convert("RGBA"))
        height, width = rgba.shape[:2]
        padded = np.zeros((height + 2 * PAD, width + 2 * PAD, 4), dtype=np.uint8)
        padded[PAD : PAD + height, PAD : PAD + width] = rgba
        y, cb, cr = planes(padded[..., :3])
        alpha = Image.fromarray(padded[..., 3])
        return cls(
            width=width,
            height=height,
            y=y,
            alpha=alpha,
            cb=cb,
            cr=cr,
            alpha_half=alpha.resize(cb.size, Image.Resampling.BOX),
        )

    def draw(
        self, frame: Frame, x: float, y: float, *, scale: float = 1.0, opacity: float = 1.0
    ) -> None:
        """Composite onto ``frame`` with the top-left corner at (x, y), sub-pixel exact."""
        if opacity <= 0.004:
            return
        (yl, al), pos = self._resampled(x, y, scale, 1)
        (cb, cr, ah), pos_half = self._resampled(x / 2, y / 2, scale, 2)
        if opacity < 0.996:
            lut = [round(v * opacity) for v in range(256)]
            al, ah = al.point(lut), ah.point(lut)
        frame.y.paste(yl, pos, al)
        frame.cb.paste(cb, pos_half, ah)
        frame.cr.paste(cr, pos_half, ah)

    def _resampled(
        self, x: float, y: float, scale: float, divisor: int
    ) -> tuple[tuple[Image.Image, ...], tuple[int, int]]:
        """The planes at this sub-pixel offset and scale, and where to paste them.

        (Y, alpha) when ``divisor`` is 1, (Cb, Cr, alpha) at half resolution when it is 2.
        """
        ix, fx = quantize(x)
        iy, fy = quantize(y)
        if divisor == 1:
            key = (fx, fy, round(scale, 4))
        else:
            # Chroma is half resolution and the eye is far less sharp for color: coarser
            # steps let a zooming product reuse its chroma planes for several frames.
            fx, fy = (0.0 if fx < 0.5 else 0.5), (0.0 if fy < 0.5 else 0.5)
            key = (fx, fy, round(scale * 200) / 200)
            scale = key[2]
        cache = self._cache_for(divisor)
        if key in cache:
            return cache[key], (ix, iy)
        width, height = self.width / divisor, self.height / divisor
        out_w = max(1, math.ceil(width * scale + fx))
        out_h = max(1, math.ceil(height * scale + fy))
        pad = PAD / divisor
        box = (
            pad - fx / scale,
            pad - fy / scale,
            pad - fx / scale + out_w / scale,
            pad - fy / scale + out_h / scale,
        )
        limit_w, limit_h = self.y.size if divisor == 1 else self.cb.size
        box = (
            max(0.0, box[0]),
            max(0.0, box[1]),
            min(float(limit_w), box[2]),
            min(float(limit_h), box[3]),
        )
        size = (out_w, out_h)
        sources = (self.y, self.alpha) if divisor == 1 else (self.cb, self.cr, self.alpha_half)
        resampled = tuple(
            plane.resize(size, Image.Resampling.BILINEAR, box=box) for plane in sources
        )
        if len(cache) >= 32:  # a zoom makes every frame new: keep the cache from growing
            cache.pop(next(iter(cache)))
        cache[key] = resampled
        return resampled, (ix, iy)

    def _cache_for(self, divisor: int) -> dict[tuple[float, float, float], tuple[Image.Image, ...]]:
        caches = self.__dict__.setdefault("_caches", {})
        return caches.setdefault(divisor, {})
