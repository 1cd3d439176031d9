"""Upload checks for a brand kit's font and music: what the file is, recognised by its content.

A check returns the format it recognised, and that format alone decides the stored file's
extension and content type: the name an uploader chose never reaches storage. A TrueType font
named ``pwn.html`` with a ``<script>`` appended is stored as ``<sha256>.ttf`` and served as
``font/ttf`` (and, not being an image, video or audio, as an attachment), so no browser runs
what was appended.
"""

import hashlib
import io
from dataclasses import dataclass

import av
from django.core.exceptions import ValidationError
from PIL import ImageFont

MAX_FONT_BYTES = 20 * 1024 * 1024
MAX_MUSIC_BYTES = 50 * 1024 * 1024

# sfnt versions (the file's first four bytes) and what they are.
_FONT_SIGNATURES: dict[bytes, tuple[str, str]] = {
    b"\x00\x01\x00\x00": ("ttf", "font/ttf"),
    b"true": ("ttf", "font/ttf"),  # Apple TrueType
    b"OTTO": ("otf", "font/otf"),  # OpenType with CFF outlines
    b"ttcf": ("ttc", "font/collection"),
}
# PyAV's demuxer names (``container.format.name``, comma-separated aliases) and what they are.
_AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "audio/mpeg"),
    "wav": ("wav", "audio/wav"),
    "flac": ("flac", "audio/flac"),
    "ogg": ("ogg", "audio/ogg"),
    "mov": ("m4a", "audio/mp4"),  # mov,mp4,m4a,3gp,3g2,mj2: the ISO media family
    "aac": ("aac", "audio/aac"),
    "aiff": ("aiff", "audio/aiff"),
}


class BrandAssetRefused(ValidationError):
    """A font or music upload Scenecart does not accept; the message names file and reason."""


@dataclass(frozen=True, slots=True)
class CheckedAsset:
    content: bytes
    suffix: str  # from the recognised format, never from the upload's name
    content_type: str
    content_hash: str

    @property
    def stored_name(self) -> str:
        return f"{self.content_hash}.{self.suffix}"


def _checked(content: bytes, suffix: str, content_type: str) -> CheckedAsset:
    return CheckedAsset(
        content=content,
        suffix=suffix,
        content_type=content_type,
        content_hash=hashlib.sha256(content).hexdigest(),
    )


def _check_size(content: bytes, *, filename: str, limit: int, what: str) -> None:
    if not content:
        raise BrandAssetRefused(f"{filename}: the file is empty.")
    if len(content) > limit:
        raise BrandAssetRefused(
            f"{filename}: {len(content) / 1e6:.0f} MB is more than {what} needs "
            f"(at most {limit // (1024 * 1024)} MB)."
        )


def font_upload_check(content: bytes, *, filename: str) -> CheckedAsset:
    """A TrueType or OpenType font (or collection) that Pillow can draw captions with."""
    _check_size(content, filename=filename, limit=MAX_FONT_BYTES, what="a font")
    recognised = _FONT_SIGNATURES.get(content[:4])
    if recognised is None:
        raise BrandAssetRefused(f"{filename}: not a TrueType/OpenType font (unknown header).")
    try:
        ImageFont.truetype(io.BytesIO(content), size=24)
    except OSError as exc:
        raise BrandAssetRefused(f"{filename}: not a TrueType/OpenType font ({exc}).") from exc
    return _checked(content, *recognised)


def music_upload_check(content: bytes, *, filename: str) -> CheckedAsset:
    """Audio of some length in a format a browser and ffmpeg both read (MP3, WAV, M4A/AAC,
    OGG, FLAC, AIFF), recognised by ffmpeg's demuxer, not by the name."""
    _check_size(content, filename=filename, limit=MAX_MUSIC_BYTES, what="a music bed")
    try:
        with av.open(io.BytesIO(content), mode="r") as container:
            if not container.streams.audio:
                raise BrandAssetRefused(f"{filename}: has no audio.")
            if not container.duration or container.duration <= 0:
                raise BrandAssetRefused(f"{filename}: the audio has no length.")
            demuxer = container.format.name
    except av.FFmpegError as exc:
        raise BrandAssetRefused(
            f"{filename}: not an audio file Scenecart can read ({exc})."
        ) from exc
    recognised = next(
        (_AUDIO_FORMATS[name] for name in demuxer.split(",") if name in _AUDIO_FORMATS), None
    )
    if recognised is None:
        raise BrandAssetRefused(
            f"{filename}: {demuxer} audio is not accepted; upload MP3, WAV, M4A, OGG or FLAC."
        )
    return _checked(content, *recognised)
