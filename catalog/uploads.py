"""Upload safety for product photos and brand images: one check used by the admin, the
importers, ``add_product_image`` and the brand kit.

Accepted: JPEG, PNG, WebP, GIF (its first frame) and TIFF, recognised by their magic bytes, not
by the file name. Refused, with the file and the reason named: anything else (SVG, HTML, PDF,
text…), empty or truncated files, and decompression bombs or absurd dimensions, which are caught
from the header before a single pixel is decoded.

An accepted image is normalized before it is stored: turned upright (EXIF orientation),
converted to 8-bit sRGB (embedded ICC profiles honoured, CMYK and 16-bit included), reduced to
its first frame, stripped of metadata (camera GPS included) and re-encoded: PNG when it has
transparency or came from a lossless format, JPEG otherwise. The content hash is taken of those
normalized bytes, so the same picture uploaded twice is stored once.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from django.core.exceptions import ValidationError
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

# A product photo never needs more; Pillow's own bomb limit is far higher.
MAX_IMAGE_PIXELS = 40_000_000
MAX_SIDE = 12_000
MAX_UPLOAD_BYTES = 40 * 1024 * 1024
JPEG_QUALITY = 93

# Magic bytes of the accepted formats, and Pillow's name for each.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"WEBP", 8, "WEBP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
)
# What Pillow may report for each sniffed format (a JPEG from a phone can be an MPO).
_PILLOW_FORMATS = {"JPEG": {"JPEG", "MPO"}, "PNG": {"PNG"}, "GIF": {"GIF"}, "WEBP": {"WEBP"},
                   "TIFF": {"TIFF"}}  # fmt: skip
_LOSSLESS = {"PNG", "GIF", "TIFF"}
ACCEPTED = "JPEG, PNG, WebP, GIF or TIFF"


class ImageRefused(ValidationError):
    """An upload that is not an image Scenecart accepts; the message names file and reason."""


@dataclass(frozen=True, slots=True)
class CheckedImage:
    content: bytes  # the normalized file, ready to store
    format: str  # "PNG" or "JPEG"
    width: int
    height: int
    content_hash: str  # sha256 of ``content``
    source_format: str

    @property
    def suffix(self) -> str:
        return "png" if self.format == "PNG" else "jpg"


def image_upload_check(content: bytes, *, filename: str) -> CheckedImage:
    """Check an uploaded image and return it normalized; raise ``ImageRefused`` otherwise."""
    if not content:
        raise ImageRefused(f"{filename}: the file is empty.")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageRefused(
            f"{filename}: {len(content) / 1e6:.0f} MB is more than a product photo needs "
            f"(at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB)."
        )
    sniffed = sniff_image_format(content)
    if sniffed is None:
        raise ImageRefused(
            f"{filename}: {_describe(content)}, not an image Scenecart accepts; "
            f"upload a {ACCEPTED} file."
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns before it refuses; the size check below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                _check_dimensions(probe, filename)
                if probe.format not in _PILLOW_FORMATS[sniffed]:
                    raise ImageRefused(
                        f"{filename}: starts like a {sniffed} file but is not one "
                        f"({probe.format or 'unknown'})."
                    )
                probe.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.seek(0)  # an animation's first frame
                image.load()
                normalized = _normalize(image)
                source_format = image.format or sniffed
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"{filename}: the image is too large to open safely ({exc}).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(
            f"{filename}: the {sniffed} file is truncated or damaged ({exc})."
        ) from exc
    return _encode(normalized, source_format=source_format)


def sniff_image_format(content: bytes) -> str | None:
    """The accepted format these bytes start like (Pillow's name), or None."""
    for signature, offset, name in _SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            if name == "WEBP" and content[:4] != b"RIFF":
                continue
            return name
    return None


def _describe(content: bytes) -> str:
    """What a refused file looks like, in the merchant's words."""
    head = content[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "this is a PDF document"
    if b"<svg" in head:
        return "this is an SVG drawing (vector images can carry scripts)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "this is an HTML page"
    if head.startswith(b"<?xml"):
        return "this is an XML document"
    try:
        content[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "this file's format is not one Scenecart knows"
    return "this is a text file"


def _check_dimensions(image: Image.Image, filename: str) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused(f"{filename}: the image has no pixels ({width}×{height}).")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise ImageRefused(
            f"{filename}: {width}×{height} pixels is more than a product photo needs "
            f"(at most {MAX_SIDE:,} pixels a side and {MAX_IMAGE_PIXELS:,} in all); "
            "a file that claims this many is often a decompression bomb."
        )


def _normalize(image: Image.Image) -> Image.Image:
    """Upright, 8-bit sRGB (RGB or RGBA) pixels of the first frame."""
    upright = ImageOps.exif_transpose(image) or image
    profile = upright.info.get("icc_profile")
    if profile and upright.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            target = "RGBA" if upright.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(
                upright, source, ImageCms.createProfile("sRGB"), outputMode=target
            )
            assert converted is not None, "profileToProfile returns None only with inPlace=True"
            upright = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as sRGB
    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the top 8 bits instead of clipping everything above 255.
        wide = np.asarray(upright).astype(np.uint32)
        upright = Image.fromarray((wide >> 8).clip(0, 255).astype(np.uint8))
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    if has_alpha and converted.getchannel("A").getextrema() == (255, 255):
        converted = converted.convert("RGB")  # an alpha channel that hides nothing
    # Pillow writes back what ``info`` holds (ICC profile, EXIF, comments): none of it stays.
    converted.info = {}
    return converted


def _encode(image: Image.Image, *, source_format: str) -> CheckedImage:
    buffer = io.BytesIO()
    if image.mode == "RGBA" or source_format in _LOSSLESS:
        fmt = "PNG"
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    else:
        fmt = "JPEG"
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, subsampling="4:2:0")
    content = buffer.getvalue()
    return CheckedImage(
        content=content,
        format=fmt,
        width=image.width,
        height=image.height,
        content_hash=hashlib.sha256(content).hexdigest(),
        source_format=source_format,
    )
