"""Storage housekeeping: delete what no video needs any more, and say who uses how much.

The videos of a product archived for SCENECART_ARCHIVED_VIDEOS_DAYS go first (nothing of an
archived product is served, and a product back on sale after that is rendered again); the
segments only they used are then unreferenced like any other.

Segments are content-addressed and shared, so nothing deletes them when a video moves on to a
new recipe (a new product photo, a new price): the old hero/scene/offer rows and files stay
behind, and so do the old video file and poster, whose names carry the recipe. The sweep
removes them once they are older than a grace period. The grace period is what keeps the sweep
from racing a render or an assembly in flight: both store the file first and write its name
to the row after, so a young file without a row may just be about to get one.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import BrandKit, Merchant, Product, ProductImage

from .models import Segment, Video
from .publication import published_name

logger = logging.getLogger(__name__)

SEGMENTS_PREFIX = "segments"
VIDEOS_PREFIX = "videos"
# Published videos and posters live under the public prefix (rendering.publication).
PUBLISHED_VIDEOS_PREFIX = published_name(VIDEOS_PREFIX)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What a sweep deleted (or, with ``dry_run``, would delete)."""

    dry_run: bool
    grace_seconds: float
    archived_videos_deleted: int = 0
    segments_deleted: int = 0
    segment_bytes: int = 0
    orphan_segment_files_deleted: int = 0
    orphan_segment_bytes: int = 0
    video_files_deleted: int = 0
    video_bytes: int = 0
    # Storage names deleted, and "<name>: <error>" for each delete that failed.
    deleted: tuple[str, ...] = field(default=())
    failures: tuple[str, ...] = field(default=())

    @property
    def bytes_freed(self) -> int:
        return self.segment_bytes + self.orphan_segment_bytes + self.video_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "grace_seconds": self.grace_seconds,
            "archived_videos_deleted": self.archived_videos_deleted,
            "segments_deleted": self.segments_deleted,
            "segment_bytes": self.segment_bytes,
            "orphan_segment_files_deleted": self.orphan_segment_files_deleted,
            "orphan_segment_bytes": self.orphan_segment_bytes,
            "video_files_deleted": self.video_files_deleted,
            "video_bytes": self.video_bytes,
            "bytes_freed": self.bytes_freed,
            "deleted": list(self.deleted),
            "failures": list(self.failures),
        }


class _Tally:
    """The mutable side of a sweep; frozen into a SweepReport at the end."""

    def __init__(self) -> None:
        self.counts = {
            "archived_videos_deleted": 0,
            "segments_deleted": 0,
            "segment_bytes": 0,
            "orphan_segment_files_deleted": 0,
            "orphan_segment_bytes": 0,
            "video_files_deleted": 0,
            "video_bytes": 0,
        }
        self.deleted: list[str] = []
        self.failures: list[str] = []


def housekeeping_sweep(*, grace: timedelta, dry_run: bool = False) -> SweepReport:
    """Delete unreferenced segments (rows and files) and orphaned segment/video files older
    than ``grace``.

    Never raises half-way on a storage error: a file that cannot be deleted is logged and
    listed in ``failures``, and its row (if any) is kept so the next sweep tries again.
    """
    now = timezone.now()
    cutoff = now - grace
    tally = _Tally()
    _sweep_archived_videos(
        archived_before=now - timedelta(days=settings.SCENECART_ARCHIVED_VIDEOS_DAYS),
        dry_run=dry_run,
        tally=tally,
    )
    _sweep_segment_rows(cutoff=cutoff, now=now, dry_run=dry_run, tally=tally)
    _sweep_orphan_segment_files(cutoff=cutoff, dry_run=dry_run, tally=tally)
    _sweep_orphan_video_files(cutoff=cutoff, dry_run=dry_run, tally=tally)
    report = SweepReport(
        dry_run=dry_run,
        grace_seconds=grace.total_seconds(),
        deleted=tuple(tally.deleted),
        failures=tuple(tally.failures),
        **tally.counts,
    )
    logger.info(
        "Housekeeping%s: %d segments, %d orphan segment files, %d video files, %d bytes, "
        "%d failures",
        " (dry run)" if dry_run else "",
        report.segments_deleted,
        report.orphan_segment_files_deleted,
        report.video_files_deleted,
        report.bytes_freed,
        len(report.failures),
    )
    return report


def storage_by_merchant() -> dict[str, dict[str, Any]]:
    """Bytes and object counts per merchant slug, from the rows that name files.

    ``count`` counts files that exist; a file a row names but storage lacks adds nothing and
    is listed under ``missing``. Cache files no row names (audio beds, contact sheets) are not
    attributed to anyone.
    """
    report: dict[str, dict[str, Any]] = {
        slug: {
            "segments": {"count": 0, "bytes": 0},
            "videos": {"count": 0, "bytes": 0},
            "product_images": {"count": 0, "bytes": 0},
            "brand_assets": {"count": 0, "bytes": 0},
            "bytes": 0,
            "missing": [],
        }
        for slug in Merchant.objects.order_by("slug").values_list("slug", flat=True)
    }
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    for slug, name in Segment.objects.exclude(file="").values_list("merchant__slug", "file"):
        rows.append((slug, "segments", (name,)))
    for slug, *names in Video.objects.values_list("product__merchant__slug", "file", "poster"):
        rows.append((slug, "videos", tuple(names)))
    for slug, *names in ProductImage.objects.values_list(
        "product__merchant__slug", "file", "cutout"
    ):
        rows.append((slug, "product_images", tuple(names)))
    for slug, *names in BrandKit.objects.values_list("merchant__slug", "logo", "font", "music"):
        rows.append((slug, "brand_assets", tuple(names)))

    for slug, kind, stored in rows:
        entry = report[slug]
        for name in stored:
            if not name:
                continue
            try:
                size = _size(name)
            except Exception:
                logger.warning("Could not read the size of %s", name, exc_info=True)
                size = None
            if size is None:
                entry["missing"].append(name)
                continue
            entry[kind]["count"] += 1
            entry[kind]["bytes"] += size
            entry["bytes"] += size
    return report


# --- Segments with rows ------------------------------------------------------------------------


def _segment_file_names(segment: Segment) -> set[str]:
    """The row's file and the name a render stores it under: a render that crashed after
    storing (or a FAILED row) leaves the file without the row naming it."""
    names = {_segment_canonical_name(segment.key)}
    if segment.file.name:
        names.add(segment.file.name)
    return names


def _segment_canonical_name(key: str) -> str:
    # Mirrors rendering.services.segment_render.
    return f"{SEGMENTS_PREFIX}/{key[:2]}/{key}.mp4"


def _sweep_archived_videos(*, archived_before: datetime, dry_run: bool, tally: _Tally) -> None:
    videos = Video.objects.filter(
        product__status=Product.Status.ARCHIVED, product__updated_at__lte=archived_before
    )
    for video in videos.iterator():
        names = [name for name in (video.file.name, video.poster.name) if name]
        if not dry_run and not all(_delete(name, tally) for name in names):
            continue  # keep the row: the next sweep retries the files
        for name in names:
            tally.deleted.append(name)
        if not dry_run:
            video.delete()
        tally.counts["archived_videos_deleted"] += 1


def _sweep_segment_rows(*, cutoff: datetime, now: datetime, dry_run: bool, tally: _Tally) -> None:
    # A segment a live worker is rendering is not touched even when nothing references it
    # (yet): the worker would store a file for a row that is gone.
    rendering_since = now - timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER)
    candidates = list(
        Segment.objects.filter(created_at__lte=cutoff, parts__isnull=True)
        .exclude(Q(status=Segment.Status.RENDERING) & Q(claimed_at__gte=rendering_since))
        .values_list("pk", flat=True)
    )
    for pk in candidates:
        try:
            _sweep_segment_row(pk=pk, dry_run=dry_run, tally=tally)
        except Exception as exc:
            # An unreadable file (not a missing one) or a lost race: keep the row, go on.
            logger.warning("Housekeeping skipped segment %s: %s", pk, exc, exc_info=True)
            tally.failures.append(f"segment {pk}: {type(exc).__name__}: {exc}")


def _sweep_segment_row(*, pk: int, dry_run: bool, tally: _Tally) -> None:
    # One transaction per segment, holding the row: a video_request that references it
    # meanwhile either commits first (and the re-check below keeps the segment) or waits for
    # the delete and fails on the foreign key, instead of pointing at a segment whose file is
    # gone. (SQLite's IMMEDIATE transactions serialize the two outright.)
    with transaction.atomic():
        segment = Segment.objects.select_for_update().filter(pk=pk).first()
        if segment is None or segment.parts.exists():
            return
        freed = 0
        for name in sorted(_segment_file_names(segment)):
            size = _size(name)
            if size is None:
                continue  # already missing
            if not dry_run and not _delete(name, tally):
                return  # keep the row: the next sweep retries the file
            freed += size
            tally.deleted.append(name)
        if not dry_run:
            segment.delete()
        tally.counts["segments_deleted"] += 1
        tally.counts["segment_bytes"] += freed


# --- Files without rows ------------------------------------------------------------------------


def _sweep_orphan_segment_files(*, cutoff: datetime, dry_run: bool, tally: _Tally) -> None:
    keys = set(Segment.objects.values_list("key", flat=True))
    named = set(Segment.objects.exclude(file="").values_list("file", flat=True))
    referenced = named | {_segment_canonical_name(key) for key in keys}
    _sweep_unreferenced(
        SEGMENTS_PREFIX, referenced, cutoff=cutoff, dry_run=dry_run, tally=tally,
        counter="orphan_segment_files_deleted", bytes_counter="orphan_segment_bytes",
    )  # fmt: skip


def _sweep_orphan_video_files(*, cutoff: datetime, dry_run: bool, tally: _Tally) -> None:
    referenced: set[str] = set()
    for file_name, poster_name in Video.objects.values_list("file", "poster"):
        referenced.update(n for n in (file_name, poster_name) if n)
    for prefix in (VIDEOS_PREFIX, PUBLISHED_VIDEOS_PREFIX):
        _sweep_unreferenced(
            prefix, referenced, cutoff=cutoff, dry_run=dry_run, tally=tally,
            counter="video_files_deleted", bytes_counter="video_bytes",
        )  # fmt: skip


def _sweep_unreferenced(
    prefix: str,
    referenced: set[str],
    *,
    cutoff: datetime,
    dry_run: bool,
    tally: _Tally,
    counter: str,
    bytes_counter: str,
) -> None:
    """Delete files under ``prefix`` that no row names and that are older than ``cutoff``."""
    for name in _walk(prefix):
        if name in referenced:
            continue
        try:
            size = _orphan_size(name, cutoff)
        except Exception as exc:
            logger.warning("Housekeeping could not stat %s: %s", name, exc, exc_info=True)
            tally.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if size is None:
            continue
        if dry_run or _delete(name, tally):
            tally.deleted.append(name)
            tally.counts[counter] += 1
            tally.counts[bytes_counter] += size


def _orphan_size(name: str, cutoff: datetime) -> int | None:
    """The size of an orphan old enough to delete; None if it is young or vanished."""
    try:
        if default_storage.get_modified_time(name) > cutoff:
            return None
        return default_storage.size(name)
    except FileNotFoundError:
        return None


def _walk(prefix: str) -> Iterator[str]:
    """Every file name under ``prefix``, recursively (S3 and the file system alike)."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return  # nothing stored there yet (FileSystemStorage)
    for file_name in files:
        yield f"{prefix}/{file_name}"
    for directory in directories:
        yield from _walk(f"{prefix}/{directory}")


# --- Storage calls -----------------------------------------------------------------------------


def _size(name: str) -> int | None:
    """The file's size, or None when storage does not have it (FileSystemStorage and
    S3Storage both raise FileNotFoundError for that; other errors propagate)."""
    try:
        return default_storage.size(name)
    except FileNotFoundError:
        return None


def _delete(name: str, tally: _Tally) -> bool:
    """Delete one stored file; a failure is logged and recorded, never raised."""
    try:
        default_storage.delete(name)
    except Exception as exc:
        logger.warning("Housekeeping could not delete %s: %s", name, exc, exc_info=True)
        tally.failures.append(f"{name}: {type(exc).__name__}: {exc}")
        return False
    return True
