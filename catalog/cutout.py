"""The product lifted off its photo: the transparent PNG every video segment draws.

Pure image code (Pillow and numpy, no models or storage), so it can be tried on a file by hand
and tested without a database. ``catalog.services.product_image_cutout`` stores the result.

Shop photos come in three kinds, and each gets what looks best in a video:

- already transparent (a PNG with a real alpha channel): kept as it is, trimmed;
- a packshot on a plain background (white, or a colored studio sweep): the background is
  removed by growing it in from the border, so white parts *inside* the product stay;
- a photo of a real scene: kept whole as a framed card with rounded corners.
"""

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageDraw, ImageFilter, ImageOps

KIND_CUTOUT = "cutout"
KIND_ALPHA = "alpha"
KIND_CARD = "card"

# Small photos are enlarged so a segment's 1080p frame does not show mush; large ones are
# reduced to what the biggest house format can use.
MIN_LONG_SIDE = 256
MAX_LONG_SIDE = 2048

# A photo counts as transparent when at least this share of its pixels is see-through; a few
# transparent pixels (an exporter's stray corner) do not make a cut-out.
TRANSPARENT_SHARE = 0.01
# Border pixels further than this (RGB distance) from the fitted background are "not
# background" (the product touching the edge, or a scene); a plain background needs most of the
# border, and most of each of three sides, to fit.
BORDER_OUTLIER = 40.0
BORDER_INLIER_SHARE = 0.8
SIDE_INLIER_SHARE = 0.6
# JPEG noise and fabric-sweep texture on a plain background stay below this (90th percentile of
# the border's distance from the fitted background); a real scene is far above it.
BORDER_NOISE_LIMIT = 12.0
# A cut-out that keeps less than this share of the frame removed the product itself (a
# close-up of a plain surface); such photos are shown whole instead.
MIN_PRODUCT_SHARE = 0.005


@dataclass(frozen=True)
class Cutout:
    """An sRGB RGBA PNG and what it is: "cutout", "alpha" (was transparent) or "card"."""

    png: bytes
    kind: str
    width: int
    height: int


def make_cutout(content: bytes, *, filename: str) -> Cutout:
    """The product of the photo ``content`` on a transparent background.

    Raises ``ValueError`` naming ``filename`` when Pillow cannot decode the bytes; anything it
    can decode gives a result (at worst a framed card).
    """
    image = _decode(content, filename=filename)
    image = _fit_size(image)
    pixels = np.asarray(image)
    if np.count_nonzero(pixels[..., 3] < 250) >= TRANSPARENT_SHARE * pixels[..., 3].size:
        kind, result = KIND_ALPHA, _trim(image)
    else:
        rgb = _flatten_on_white(pixels)
        cut = _remove_background(rgb)
        if cut is None:
            kind, result = KIND_CARD, _card(Image.fromarray(rgb))
        else:
            kind, result = KIND_CUTOUT, cut
    if max(result.size) < MIN_LONG_SIDE:
        # Trimming a small photo can take it back under the minimum.
        result = _scaled(result, MIN_LONG_SIDE / max(result.size))
    buffer = io.BytesIO()
    result.save(buffer, "PNG")
    return Cutout(png=buffer.getvalue(), kind=kind, width=result.width, height=result.height)


# --- decoding ---------------------------------------------------------------------------------


def _decode(content: bytes, *, filename: str) -> Image.Image:
    """The first frame, upright, as sRGB RGBA."""
    if not content:
        raise ValueError(f"{filename}: the file is empty.")
    try:
        image: Image.Image = Image.open(io.BytesIO(content))
        image.seek(0)  # an animation's first frame
        if image.format == "JPEG" and max(image.size) > 2 * MAX_LONG_SIDE:
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 24 MP phone photo decodes in a
            # fraction of the time and is reduced to MAX_LONG_SIDE afterwards anyway.
            ratio = MAX_LONG_SIDE / max(image.size)
            image.draft(None, (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
        image.load()
        icc = image.info.get("icc_profile")
        image = ImageOps.exif_transpose(image)
    except Exception as exc:
        # Pillow's format plugins raise many types on damaged input (OSError, SyntaxError,
        # struct.error, EOFError, ValueError, ...); to the caller they all mean "not an image".
        raise ValueError(f"{filename}: not an image that can be read ({exc}).") from exc
    return _to_srgb_rgba(image, icc)


def _to_srgb_rgba(image: Image.Image, icc: bytes | None) -> Image.Image:
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return _deep_grey_to_l(image).convert("RGBA")
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        converted = ImageCms.profileToProfile(image, lab, _SRGB, outputMode="RGB")
        assert converted is not None
        return converted.convert("RGBA")
    if mode in ("CMYK", "RGB", "RGBA") and icc:
        alpha = image.getchannel("A") if mode == "RGBA" else None
        converted = _icc_to_srgb(image.convert("RGB") if alpha is not None else image, icc)
        if converted is not None:
            if alpha is not None:
                converted.putalpha(alpha)
            return converted.convert("RGBA")
    # Palette transparency (a transparent index or per-entry alpha), LA, L, 1, RGBX, YCbCr...
    # are all handled by Pillow's own conversion.
    try:
        return image.convert("RGBA")
    except ValueError:
        return image.convert("RGB").convert("RGBA")


_SRGB = ImageCms.createProfile("sRGB")


def _icc_to_srgb(image: Image.Image, icc: bytes) -> Image.Image | None:
    """``image`` converted from its embedded profile to sRGB; None when that profile is sRGB
    already or unusable (damaged, or for another color space than the pixels)."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        return ImageCms.profileToProfile(
            image,
            profile,
            _SRGB,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _deep_grey_to_l(image: Image.Image) -> Image.Image:
    """16- and 32-bit grey scaled to 8 bits. Pillow's own ``convert("L")`` clips at 255, which
    turns a 16-bit photo almost entirely white."""
    values = np.asarray(image).astype(np.float32)
    if image.mode.startswith("I;16"):
        values = values / 257.0
    else:
        # "I" and "F" say nothing about the range used; take the smallest that holds it.
        top = float(values.max()) if values.size else 0.0
        if image.mode == "F" and top <= 1.0:
            values = values * 255.0
        elif top > 65535.0:
            values = values * (255.0 / top)
        elif top > 255.0:
            values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _fit_size(image: Image.Image) -> Image.Image:
    long_side = max(image.size)
    if long_side < MIN_LONG_SIDE:
        return _scaled(image, MIN_LONG_SIDE / long_side)
    if long_side > MAX_LONG_SIDE:
        return _scaled(image, MAX_LONG_SIDE / long_side)
    return image


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    # Pillow resizes RGBA with premultiplied alpha, so transparent pixels do not bleed in.
    return image.resize(size, Image.Resampling.LANCZOS)


def _flatten_on_white(pixels: np.ndarray) -> np.ndarray:
    """RGB of an RGBA array whose few see-through pixels are shown over white."""
    rgb = pixels[..., :3]
    alpha = pixels[..., 3]
    if alpha.min() == 255:
        return np.ascontiguousarray(rgb)
    a = alpha[..., None].astype(np.float32) / 255.0
    return np.rint(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)


# --- background removal -----------------------------------------------------------------------


def _remove_background(rgb: np.ndarray) -> Image.Image | None:
    """The product on transparency, or None when the border is not a plain background."""
    h, w = rgb.shape[:2]
    background = _fit_background(rgb)
    if background is None:
        return None
    model, noise = background
    # Tolerance grows with the background's own noise (JPEG, paper texture).
    tolerance = float(np.clip(10.0 + 2.5 * noise, 14.0, 40.0))
    pixels = rgb.astype(np.float32)
    distance = np.sqrt(((pixels - model) ** 2).sum(axis=2))
    removed = _grow_from_border(distance < tolerance)
    if np.count_nonzero(~removed) < MIN_PRODUCT_SHARE * h * w:
        return None
    shadow = _shadow(pixels, model, removed, tolerance)
    if shadow.any():
        # The shadow's darkest line along the product is too steep to be taken as shadow, and
        # JPEG smears the product's color into it: thin slivers left beside the shadow go too.
        kept = ~removed & ~shadow
        sliver = kept & ~_dilate(_erode(kept, 2), 2) & _dilate(shadow, 2)
        removed |= shadow | sliver
    product = ~removed
    if np.count_nonzero(product) < MIN_PRODUCT_SHARE * h * w:
        return None

    # Crop to the product first: the edge work below then only touches the product's box.
    rows = np.nonzero(product.any(axis=1))[0]
    cols = np.nonzero(product.any(axis=0))[0]
    margin = max(3, round(max(h, w) * 0.02))
    top, bottom = max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)
    pixels = pixels[top:bottom, left:right]
    model = model[top:bottom, left:right]
    product = np.ascontiguousarray(product[top:bottom, left:right])

    # Soft edge: a 1-2 px feather, whatever the photo's size, reads as a clean cut in a video.
    radius = float(np.clip(max(h, w) / 800.0, 1.0, 2.0))
    mask = Image.fromarray(product.view(np.uint8) * 255)
    alpha = np.asarray(mask.filter(ImageFilter.GaussianBlur(radius)))
    colors, alpha = _defringe(pixels, model, product, alpha, radius)
    return Image.fromarray(np.dstack([colors, alpha]))


def _fit_background(rgb: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A smooth background model (quadratic in x and y, per channel) fitted to the border, and
    the border's noise around it; None when the border is busy (a scene, not a backdrop).

    A quadratic fits a white background, a colored sweep that darkens towards the floor and a
    vignette alike."""
    h, w = rgb.shape[:2]
    ring = max(2, round(min(h, w) * 0.01))
    on_ring = np.zeros((h, w), dtype=bool)
    on_ring[:ring] = on_ring[-ring:] = True
    on_ring[:, :ring] = on_ring[:, -ring:] = True
    ys, xs = np.nonzero(on_ring)
    step = max(1, len(ys) // 20000)
    ys, xs = ys[::step], xs[::step]
    samples = rgb[ys, xs].astype(np.float64)
    terms = _terms(xs / max(w - 1, 1), ys / max(h - 1, 1))

    # Fit everything, then refit on the pixels that agree with the fit (loosely first), so the
    # product touching an edge does not bend the model.
    inliers = np.ones(len(samples), dtype=bool)
    for limit in (3 * BORDER_OUTLIER, 2 * BORDER_OUTLIER, BORDER_OUTLIER, BORDER_OUTLIER):
        coef, *_ = np.linalg.lstsq(terms[inliers], samples[inliers], rcond=None)
        residual = np.linalg.norm(samples - terms @ coef, axis=1)
        inliers = residual < limit
        if inliers.sum() < BORDER_INLIER_SHARE * len(samples):
            return None
    noise = float(np.percentile(residual[inliers], 90))
    if noise > BORDER_NOISE_LIMIT:
        return None
    sides = (ys < ring, ys >= h - ring, xs < ring, xs >= w - ring)
    if sum(bool(inliers[side].mean() >= SIDE_INLIER_SHARE) for side in sides) < 3:
        return None

    # Evaluate the model over the whole frame from its separable parts (no h*w*6 matrix).
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    c = coef.astype(np.float32)
    model = c[0] + c[1] * x + c[2] * y + c[3] * x * x + c[4] * y * y + c[5] * x * y
    return np.clip(model, 0.0, 255.0), noise


def _terms(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)


def _grow_from_border(allowed: np.ndarray) -> np.ndarray:
    """The pixels of ``allowed`` 4-connected to the frame's edge.

    A flood fill done as alternating row and column sweeps: each sweep fills whole runs of
    allowed pixels that touch a reached pixel, so it takes one sweep per turn the region makes
    rather than one per pixel of distance, and each sweep is a few numpy passes.
    """
    reached = np.zeros_like(allowed)
    reached[[0, -1], :] = True
    reached[:, [0, -1]] = True
    reached &= allowed
    along_rows = _runs(allowed)
    along_columns = _runs(allowed.T)
    count = np.count_nonzero(reached)
    for _ in range(200):
        reached = _fill(along_rows, reached)
        reached = _fill(along_columns, reached.T).T
        new_count = np.count_nonzero(reached)
        if new_count == count:
            break
        count = new_count
    return reached


def _fill_runs(allowed: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Along each row: every run of allowed pixels that holds a reached pixel, filled."""
    return _fill(_runs(allowed), reached)


def _runs(allowed: np.ndarray) -> tuple[np.ndarray, int]:
    """Each allowed pixel's run number along its row (runs numbered from 1, 0 elsewhere)."""
    allowed = np.ascontiguousarray(allowed)
    starts = allowed.copy()
    starts[:, 1:] &= ~allowed[:, :-1]
    runs = np.cumsum(starts, axis=None, dtype=np.int32).reshape(allowed.shape)
    count = int(runs[-1, -1])
    runs[~allowed] = 0
    return runs, count


def _fill(runs: tuple[np.ndarray, int], reached: np.ndarray) -> np.ndarray:
    numbers, count = runs
    hit = np.zeros(count + 1, dtype=bool)
    hit[numbers[reached]] = True
    hit[0] = False
    return hit[numbers]


def _shadow(
    pixels: np.ndarray, model: np.ndarray, removed: np.ndarray, tolerance: float
) -> np.ndarray:
    """The soft contact shadow under the product, to be removed with the background.

    A shadow is the background a little darker (the same color scaled down) that changes
    slowly; the product's own edge is a sharp step, which stops the growth, so a grey product
    on white is not eaten. Only the lower half of the product's box is searched: shadows fall
    on the floor, and a product's light-grey top never looks like one.
    """
    product_rows = np.nonzero((~removed).any(axis=1))[0]
    top, bottom = int(product_rows[0]), int(product_rows[-1])
    first = top + (bottom - top) // 2
    below = pixels[first:]
    floor = model[first:]
    luma_weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    luma = below @ luma_weights
    floor_luma = np.maximum(floor @ luma_weights, 1.0)
    scale = luma / floor_luma
    off_color = np.sqrt(((below - scale[..., None] * floor) ** 2).sum(axis=2))
    smooth = Image.fromarray(np.clip(luma, 0, 255).astype(np.uint8)).filter(ImageFilter.BoxBlur(1))
    s = np.asarray(smooth).astype(np.float32)
    slope = np.zeros_like(s)
    slope[:, 1:] = np.abs(np.diff(s, axis=1))
    slope[1:, :] = np.maximum(slope[1:, :], np.abs(np.diff(s, axis=0)))
    slope = np.maximum(slope, np.roll(slope, -1, axis=1))  # both sides of a step
    slope = np.maximum(slope, np.roll(slope, -1, axis=0))
    shadow_colored = (scale >= 0.55) & (scale < 1.0) & (off_color < tolerance)
    shadowish = shadow_colored & (slope < 4.0)
    # Grown along rows only: a shadow row runs out sideways into the background, while a row
    # through the product is closed by the product's sides, which are sharp against the
    # background even where its bottom blends into its own shadow (a grey product on white).
    candidate = _fill_runs(removed[first:] | shadowish, removed[first:]) & ~removed[first:]
    if candidate.any():
        # The last few pixels before the product are steep only because the product's edge is
        # next to them: take those of the shadow's color that look more like the shadow
        # beside them than like the product beyond them (a grey product keeps its bottom).
        near = _dilate(candidate, 3)
        ring = near & shadow_colored & ~removed[first:] & ~candidate
        if ring.any():
            ys, xs = np.nonzero(ring)
            beyond = ~removed[first:] & ~near
            shadow_color, _ = _nearby_mean(below, candidate, 4, ys, xs)
            product_color, product_share = _nearby_mean(below, beyond, 4, ys, xs)
            color = below[ys, xs]
            to_shadow = np.linalg.norm(color - shadow_color, axis=1)
            to_product = np.linalg.norm(color - product_color, axis=1)
            take = (to_shadow < to_product) | (product_share == 0)
            candidate[ys[take], xs[take]] = True
    # A shadow lies under the product, never above a part of it: where rows were taken out of
    # a pale product (whose sides are faint against white), what is left of the product below
    # them puts them back. Specks of noise (gone after a 2 px erosion) do not count.
    kept = _erode(~removed[first:] & ~candidate, 2)
    product_below = np.zeros_like(kept)
    product_below[:-1] = np.flip(np.logical_or.accumulate(np.flip(kept, 0), axis=0), 0)[1:]
    shadow = np.zeros_like(removed)
    shadow[first:] = candidate & ~product_below
    return shadow


def _defringe(
    pixels: np.ndarray, model: np.ndarray, product: np.ndarray, alpha: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Edge colors and alpha with the background taken out, so no light (or colored) halo
    shows when the cut-out is laid on another backdrop.

    An edge pixel is a mix of product and background. Its share of background is estimated by
    projecting it on the line from the background color to the product's nearby interior
    color; that share is swapped for the interior color, and a pixel that is mostly background
    (a JPEG speck beside the edge) is made as transparent as it is. Pixels well inside keep
    their color and alpha.
    """
    core = _erode(product, 2)  # 2 px in from the cut: the product's own, unmixed colors
    band = (_dilate(product, 1) & ~core) | ((alpha > 0) & (alpha < 255))
    if not band.any():
        return pixels.astype(np.uint8), alpha
    ys, xs = np.nonzero(band)
    # Wide enough to find the product from JPEG specks a few pixels off its edge.
    reach = round(radius) + 8
    interior, interior_weight = _nearby_mean(pixels, core, reach, ys, xs)
    # The background actually seen next to the edge (which is the shadow's grey where the
    # product stands on it), and the fitted model where none is near.
    seen, seen_weight = _nearby_mean(pixels, ~_dilate(product, 2), reach, ys, xs)
    back = np.where((seen_weight > 0.01)[:, None], seen, model[ys, xs])

    color = pixels[ys, xs]
    span = interior - back
    span_length = np.sqrt((span * span).sum(axis=1))
    coverage = np.clip(
        ((color - back) * span).sum(axis=1) / np.maximum(span_length, 1.0) ** 2, 0.0, 1.0
    )
    # Where no interior is near (a thin cord) there is nothing to borrow from: keep as is.
    trust = np.clip(interior_weight / 0.03, 0.0, 1.0)
    colors = pixels.copy()
    colors[ys, xs] = color + ((1.0 - coverage) * trust)[:, None] * span
    # The coverage is a matte only where the product's color stands out from the background
    # (not for a white product on white); 2/3 coverage already counts as solid, so the cut does
    # not shrink.
    distinct = trust * np.clip((span_length - 20.0) / 40.0, 0.0, 1.0)
    edge = alpha[ys, xs].astype(np.float32)
    matte = np.minimum(edge, np.clip(coverage * 1.5, 0.0, 1.0) * 255.0)
    alpha = alpha.copy()
    alpha[ys, xs] = np.rint(edge + distinct * (matte - edge)).astype(np.uint8)
    return np.clip(np.rint(colors), 0, 255).astype(np.uint8), alpha


def _nearby_mean(
    pixels: np.ndarray, where: np.ndarray, reach: int, ys: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """At each (ys, xs): the mean color of the pixels in ``where`` within ``reach`` px (a
    square window), and the share of the window they fill (0 when none is near).

    Read from a summed-area table of the points' bounding box: four lookups per point,
    whatever the window size, in exact integer sums.
    """
    h, w = where.shape
    y0, y1 = max(int(ys.min()) - reach, 0), min(int(ys.max()) + reach + 1, h)
    x0, x1 = max(int(xs.min()) - reach, 0), min(int(xs.max()) + reach + 1, w)
    inside = where[y0:y1, x0:x1]
    table = np.zeros((y1 - y0 + 1, x1 - x0 + 1, 4), dtype=np.int32)
    table[1:, 1:, :3] = pixels[y0:y1, x0:x1].astype(np.int32) * inside[..., None]
    table[1:, 1:, 3] = inside
    table.cumsum(axis=0, out=table)
    table.cumsum(axis=1, out=table)
    top = np.clip(ys - y0 - reach, 0, y1 - y0)
    bottom = np.clip(ys - y0 + reach + 1, 0, y1 - y0)
    left = np.clip(xs - x0 - reach, 0, x1 - x0)
    right = np.clip(xs - x0 + reach + 1, 0, x1 - x0)
    sums = (
        table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    ).astype(np.float32)
    count = sums[:, 3]
    share = count / ((bottom - top) * (right - left)).astype(np.float32)
    return sums[:, :3] / np.maximum(count, 1.0)[:, None], share


def _erode(mask: np.ndarray, r: int) -> np.ndarray:
    """Pixels whose whole (2r+1)-square lies in ``mask`` (outside the frame counts as in)."""
    return ~_dilate(~mask, r)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` grown by an r-pixel square, as separable shifted ORs (no per-pixel loop)."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        for shift in range(1, r + 1):
            if axis == 0:
                grown[shift:] |= out[:-shift]
                grown[:-shift] |= out[shift:]
            else:
                grown[:, shift:] |= out[:, :-shift]
                grown[:, :-shift] |= out[:, shift:]
        out = grown
    return out


# --- framing ----------------------------------------------------------------------------------


def _trim(image: Image.Image) -> Image.Image:
    """Cropped to what is visible, plus a small margin."""
    box = image.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    if box is None:
        return image
    margin = max(2, round(max(image.size) * 0.02))
    left, top, right, bottom = box
    return image.crop(
        (
            max(0, left - margin),
            max(0, top - margin),
            min(image.width, right + margin),
            min(image.height, bottom + margin),
        )
    )


def _card(photo: Image.Image) -> Image.Image:
    """The whole photo with a thin white border and rounded corners (drawn at 4x and reduced,
    so the corners are smooth)."""
    w, h = photo.size
    if min(w, h) < 16:
        return photo.convert("RGBA")  # a sliver (a 10000x10 banner): nothing to frame
    border = max(2, round(min(w, h) * 0.015))
    radius = max(4, round(min(w, h) * 0.04))
    card = Image.new("RGBA", (w, h), (255, 255, 255, 255))
    inner = _rounded_mask((w - 2 * border, h - 2 * border), max(1, radius - border))
    card.paste(photo.crop((border, border, w - border, h - border)), (border, border), inner)
    card.putalpha(_rounded_mask((w, h), radius))
    return card


def _rounded_mask(size: tuple[int, int], radius: int) -> Image.Image:
    big = Image.new("L", (size[0] * 4, size[1] * 4), 0)
    ImageDraw.Draw(big).rounded_rectangle(
        (0, 0, big.width - 1, big.height - 1), radius=radius * 4, fill=255
    )
    return big.resize(size, Image.Resampling.BOX)
