"""Color math for the compositor.

Frames are composed directly in Y'CbCr 4:2:0 (BT.709, limited range), the pixel format the
encoder takes: that spares ffmpeg an RGB→YUV conversion per frame and halves the bytes piped
to it, and every per-frame Pillow operation works on one-channel planes.
"""

import math

import numpy as np
from PIL import Image

# BT.709 luma weights.
KR, KB = 0.2126, 0.0722
KG = 1 - KR - KB


def rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def rgb_to_yuv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB (H×W×3, 0..255, any dtype) → full-resolution Y, Cb, Cr as uint8 (limited range)."""
    arr = image.astype(np.float32) / 255.0
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    y = KR * r + KG * g + KB * b
    cb = (b - y) / (2 * (1 - KB))
    cr = (r - y) / (2 * (1 - KR))
    return (
        np.clip(16 + 219 * y + 0.5, 0, 255).astype(np.uint8),
        np.clip(128 + 224 * cb + 0.5, 0, 255).astype(np.uint8),
        np.clip(128 + 224 * cr + 0.5, 0, 255).astype(np.uint8),
    )


def yuv_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Full-resolution planes (chroma already upsampled) → RGB uint8, for stills."""
    yy = (y.astype(np.float32) - 16) / 219
    pb = (cb.astype(np.float32) - 128) / 224
    pr = (cr.astype(np.float32) - 128) / 224
    r = yy + 2 * (1 - KR) * pr
    b = yy + 2 * (1 - KB) * pb
    g = (yy - KR * r - KB * b) / KG
    return np.clip(np.stack([r, g, b], axis=-1) * 255 + 0.5, 0, 255).astype(np.uint8)


def planes(image: np.ndarray) -> tuple[Image.Image, Image.Image, Image.Image]:
    """RGB array → (Y full size, Cb half size, Cr half size) as Pillow "L" images."""
    y, cb, cr = rgb_to_yuv(image)
    height, width = y.shape
    half = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
    return (
        Image.fromarray(y),
        Image.fromarray(cb).resize(half, Image.Resampling.BOX),
        Image.fromarray(cr).resize(half, Image.Resampling.BOX),
    )


def kelvin_tint(kelvin: int) -> np.ndarray:
    """RGB multipliers for a light of this color temperature (Tanner Helland's fit), 6500 K = 1."""

    def channel(k: float) -> tuple[float, float, float]:
        k /= 100
        r = 255.0 if k <= 66 else 329.698727446 * (k - 60) ** -0.1332047592
        if k <= 66:
            g = 99.4708025861 * math.log(k) - 161.1195681661
        else:
            g = 288.1221695283 * (k - 60) ** -0.0755148492
        if k >= 66:
            b = 255.0
        elif k <= 19:
            b = 0.0
        else:
            b = 138.5177312231 * math.log(k - 10) - 305.0447927307
        return (min(255.0, max(0.0, r)), min(255.0, max(0.0, g)), min(255.0, max(0.0, b)))

    return (np.array(channel(kelvin)) / np.array(channel(6500))).astype(np.float32)
