"""A video's provenance: its public record, and the Content Credentials signed into its file.

- ``public_provenance_record(video)``: a plain read of the Video and Segment rows, limited to
  what a shopper may see (backend, model, input content hashes, times; no prompts, costs,
  keys, provider jobs or file names), as JSON-ready data. The public
  ``/provenance/<public id>`` page shows it, for published videos only, and the manifest
  carries it.
- ``sign_video``: the record signed into the MP4 (``provenance.manifest``), in the merchant's
  name where it uploaded a certificate (``provenance.credentials``).
- ``video_manifest``: the stored file's manifest read back, cached for the public page.
"""

import datetime as dt
import hashlib
import logging
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage

from catalog.models import Product
from provenance.manifest import manifest_definition, read_manifest, sign_file
from provenance.manifest import summary as manifest_summary
from scenecart.cache import read_through

from .backends import backend_for
from .models import Segment, Video
from .publication import video_is_published

logger = logging.getLogger(__name__)

MANIFEST_CACHE_SECONDS = 60 * 60

CONTENT_HASH = re.compile(r"(uncut:)?[0-9a-f]{64}")


def public_provenance_record(video: Video) -> dict[str, Any]:
    """What made ``video`` and each of its segments, as much as a shopper may see, as
    JSON-ready data. Reads rows only.

    The page, its JSON and the manifest signed into the published MP4 all carry this record
    and nothing else, so everything in it is public. Left out on purpose: what the merchant
    paid, the prompts and seeds (the merchant's creative work, and what would let a rival
    reproduce it), segment and recipe keys, provider job ids and stored file names (handles
    into our systems and the providers'). Input content hashes stay: they are sha256 digests
    of the product photo and brand assets, which let anyone check which photo a video was
    made from without revealing anything that photo does not.
    """
    video = Video.objects.select_related("product__merchant").get(pk=video.pk)
    parts = list(video.parts.select_related("segment").order_by("position"))
    segments = [_public_segment_record(part.position, part.segment) for part in parts]
    product = video.product
    return {
        "public_id": str(video.public_id),
        "merchant": {"name": product.merchant.name},
        "product": {"title": product.title},
        "bucket": video.bucket,
        "aspect": video.aspect,
        "ai_generated": any(s["ai_generated"] for s in segments),
        "created_at": _iso(video.created_at),
        "ready_at": _iso(video.ready_at),
        "duration": _seconds(video.duration),
        "segments": segments,
    }


def _public_segment_record(position: int, segment: Segment) -> dict[str, Any]:
    return {
        "position": position,
        "kind": segment.kind,
        "backend": segment.backend,
        "model": _model(segment.backend_version),
        "ai_generated": is_ai_backend(segment.backend, segment.backend_version),
        "inputs": _content_hashes(segment.inputs),
        "duration": _seconds(segment.duration),
        "rendered_at": _iso(segment.rendered_at),
        # Made by the local renderer because a provider failed; which segment it replaced is
        # an internal key.
        "stand_in": segment.fallback_for_id is not None,
    }


def _content_hashes(inputs: Any) -> dict[str, str]:
    """The inputs that are content hashes (a sha256, or ``uncut:<sha256>`` for a photo used
    before its cutout was made); anything else a future input might hold stays private."""
    if not isinstance(inputs, dict):
        return {}
    return {
        str(name): value
        for name, value in inputs.items()
        if isinstance(value, str) and CONTENT_HASH.fullmatch(value)
    }


def _model(backend_version: str) -> str:
    # Providers' versions are "provider:model" (RemoteBackend.version); the local compositor's
    # is its own version ("local-2"), which is what made its pixels.
    return backend_version.split(":", 1)[1] if ":" in backend_version else backend_version


def is_ai_backend(alias: str, backend_version: str = "") -> bool:
    """Whether a segment of ``alias`` came from a generative AI provider.

    Asked of the configured backend: AI providers are the asynchronous (submit, then poll)
    ones. An alias no longer configured (a provider's key was removed) is judged by the row:
    providers' versions read "provider:model"; anything else unknown counts as AI, because
    under-labelling AI output is the error that matters.
    """
    try:
        backend = backend_for(alias)
    except ImproperlyConfigured:
        return ":" in backend_version or not backend_version.startswith("local")
    return not type(backend).synchronous


def _seconds(value: float | None) -> float | None:
    # To the millisecond: c2pa parses floats with up to 17 significant digits inexactly, so a
    # full-precision float would read back from the manifest as a neighbouring number.
    return round(value, 3) if value is not None else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def video_for_provenance(*, public_id: uuid.UUID) -> Video | None:
    """The published video of that public id, or None.

    Published as the storefront's lookup would serve it (``video_is_published``): a video
    awaiting the merchant's review, rejected, unfinished or of a draft product is withheld
    from the lookup, so how it was made is withheld too. None either way, so an answer does
    not tell an unpublished video from one that does not exist.
    """
    video = Video.objects.select_related("product__merchant").filter(public_id=public_id).first()
    if video is None or not video_is_published(video=video):
        return None
    return video


# --- The file ------------------------------------------------------------------------------------


def sign_video(*, video: Video, source: Path, dest: Path) -> None:
    """Write ``source`` with the video's Content Credentials (its public record) to ``dest``
    (may be ``source``), signed in its merchant's name where the merchant uploaded a
    certificate."""
    merchant_id = Product.objects.filter(pk=video.product_id).values_list("merchant_id", flat=True)
    sign_file(
        manifest=manifest_definition(public_provenance_record(video)),
        merchant_id=merchant_id.first(),
        source=source,
        dest=dest,
    )


def video_resign(*, video: Video) -> None:
    """Sign the stored file again with the video's manifest as it is made now (the public
    record): files signed before a change to the record carry the old one inside them. The
    stored file is replaced whole (local: renamed over; S3: one PUT)."""
    name = video.file.name
    if not name:
        raise ValueError(f"Video {video.pk} has no file to sign.")
    try:
        path = Path(default_storage.path(name))
    except NotImplementedError:
        path = None
    if path is not None:
        sign_video(video=video, source=path, dest=path)
        return
    with tempfile.TemporaryDirectory(prefix="scenecart-resign-") as workdir:
        local = Path(workdir) / "video.mp4"
        with default_storage.open(name, "rb") as source, local.open("wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)
        sign_video(video=video, source=local, dest=local)
        with local.open("rb") as source, default_storage.open(name, "wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)


def video_manifest(*, video: Video) -> dict[str, Any]:
    """``read_manifest`` of a video's stored file without the full manifest, cached: the public
    page must not hash a whole MP4 from storage on every view. The key names the file and
    when it was made, so a re-assembled (re-signed) file is read afresh."""
    name = video.file.name
    if not name:
        return _without_manifest(manifest_summary(state="missing"))
    stamp = video.ready_at.timestamp() if video.ready_at else 0
    name_hash = hashlib.sha256(name.encode()).hexdigest()[:16]

    def load() -> dict[str, Any] | None:
        try:
            with default_storage.open(name, "rb") as stream:
                return _without_manifest(read_manifest(stream))
        except OSError:
            # Not cached: storage may answer next time.
            logger.exception("Cannot read video %s (%s) for its manifest", video.pk, name)
            return None

    summary = read_through(
        f"provenance:manifest:v1:{video.pk}:{name_hash}:{stamp}",
        ttl=MANIFEST_CACHE_SECONDS,
        load=load,
    )
    return summary or _without_manifest(
        manifest_summary(state="missing", error="The file cannot be read.")
    )


def _without_manifest(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "manifest"}
