"""Storage housekeeping: what the sweep deletes, what it keeps, and the per-merchant report."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from catalog.services import product_image_add
from personalization.context import ShopperContext
from rendering.housekeeping import housekeeping_sweep, storage_by_merchant
from rendering.models import Segment, Video
from rendering.services import segment_render, video_assemble, video_request
from tests.support.factories import make_merchant, make_product, photo_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

NOW = timedelta(0)
LONG = timedelta(days=365)


def render_video(product, context: str = "climate=rainy") -> Video:  # type: ignore[no-untyped-def]
    request = video_request(product=product, context=ShopperContext.parse(context), aspect="16:9")
    for segment in request.segments:
        segment_render(segment=segment)
    return video_assemble(video=request.video)


def rerender_with_new_photo(product) -> tuple[Video, Video]:  # type: ignore[no-untyped-def]
    """Render a video, replace the product photo, render it again: old and new video."""
    old = render_video(product)
    product.images.all().delete()
    product_image_add(product=product, filename="new.png", content=photo_bytes("#2E86AB"))
    new = render_video(product)
    assert new.pk == old.pk and new.status == Video.Status.READY
    assert new.file.name != old.file.name
    return old, new


def segments_by_kind(video: Video) -> dict[str, Segment]:
    return {p.segment.kind: p.segment for p in video.parts.select_related("segment")}


def test_sweep_deletes_what_the_new_recipe_left_behind_and_keeps_the_rest() -> None:
    product = make_product(make_merchant())
    old_video = render_video(product)
    old_segments = segments_by_kind(old_video)
    product.images.all().delete()
    product_image_add(product=product, filename="new.png", content=photo_bytes("#2E86AB"))
    video = render_video(product)
    current = segments_by_kind(video)
    assert current["outro"].pk == old_segments["outro"].pk
    stale = [old_segments[kind] for kind in ("hero", "scene", "offer")]
    stale_bytes = sum(default_storage.size(s.file.name) for s in stale)
    old_video_bytes = default_storage.size(old_video.file.name) + default_storage.size(
        old_video.poster.name
    )

    report = housekeeping_sweep(grace=NOW)

    assert report.segments_deleted == 3
    assert report.segment_bytes == stale_bytes
    assert report.video_files_deleted == 2
    assert report.video_bytes == old_video_bytes
    assert report.orphan_segment_files_deleted == 0
    assert report.bytes_freed == stale_bytes + old_video_bytes
    assert report.failures == ()
    assert not Segment.objects.filter(pk__in=[s.pk for s in stale]).exists()
    for segment in stale:
        assert not default_storage.exists(segment.file.name)
    assert not default_storage.exists(old_video.file.name)
    assert not default_storage.exists(old_video.poster.name)
    # Everything the current video plays is still there, the shared outro included.
    video.refresh_from_db()
    assert video.status == Video.Status.READY
    assert default_storage.exists(video.file.name) and default_storage.exists(video.poster.name)
    for segment in current.values():
        assert Segment.objects.filter(pk=segment.pk).exists()
        assert default_storage.exists(segment.file.name)

    again = housekeeping_sweep(grace=NOW)
    assert (again.segments_deleted, again.video_files_deleted, again.bytes_freed) == (0, 0, 0)
    assert again.deleted == ()


def test_nothing_younger_than_the_grace_period_is_deleted() -> None:
    product = make_product(make_merchant())
    rerender_with_new_photo(product)
    segments, files = Segment.objects.count(), sorted(_files("segments") + _files("videos"))

    report = housekeeping_sweep(grace=LONG)

    assert (report.segments_deleted, report.video_files_deleted, report.bytes_freed) == (0, 0, 0)
    assert Segment.objects.count() == segments
    assert sorted(_files("segments") + _files("videos")) == files


def test_dry_run_deletes_nothing_and_reports_what_it_would() -> None:
    product = make_product(make_merchant())
    rerender_with_new_photo(product)
    segments, files = Segment.objects.count(), sorted(_files("segments") + _files("videos"))

    dry = housekeeping_sweep(grace=NOW, dry_run=True)

    assert dry.dry_run
    assert Segment.objects.count() == segments
    assert sorted(_files("segments") + _files("videos")) == files
    real = housekeeping_sweep(grace=NOW)
    assert (dry.segments_deleted, dry.video_files_deleted, dry.bytes_freed) == (
        real.segments_deleted,
        real.video_files_deleted,
        real.bytes_freed,
    )
    assert sorted(dry.deleted) == sorted(real.deleted)
    assert real.segments_deleted == 3


def test_a_segment_file_without_a_row_is_deleted_a_pending_row_is_not() -> None:
    product = make_product(make_merchant())
    video = render_video(product)
    crashed = default_storage.save("segments/ab/" + "ab" * 32 + ".mp4", ContentFile(b"x" * 100))
    # Planned but not rendered yet, and still needed by a video: never swept.
    pending = video_request(
        product=product, context=ShopperContext.parse("climate=sunny"), aspect="16:9"
    )

    report = housekeeping_sweep(grace=NOW)

    assert report.orphan_segment_files_deleted == 1
    assert report.orphan_segment_bytes == 100
    assert report.segments_deleted == 0
    assert not default_storage.exists(crashed)
    assert all(Segment.objects.filter(pk=s.pk).exists() for s in pending.segments)
    for segment in segments_by_kind(video).values():
        assert default_storage.exists(segment.file.name)


def test_a_failed_delete_keeps_the_row_and_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # Patched rather than chmod-ed: the suite may run as root, where permissions do not bite.
    product = make_product(make_merchant())
    rerender_with_new_photo(product)
    real_delete = default_storage.delete

    def refuse_segments(name: str) -> None:
        if name.startswith("segments/"):
            raise PermissionError(f"read-only: {name}")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", refuse_segments)
    report = housekeeping_sweep(grace=NOW)

    assert report.segments_deleted == 0
    assert len(report.failures) == 3
    assert all("PermissionError" in failure for failure in report.failures)
    # The video files were still swept; the segment rows wait for the next sweep.
    assert report.video_files_deleted == 2
    assert Segment.objects.count() == 7
    assert all(default_storage.exists(s.file.name) for s in Segment.objects.all())


def test_storage_by_merchant_adds_up_file_sizes_per_merchant() -> None:
    a, b = make_merchant(), make_merchant()
    video_a = render_video(make_product(a, sku="SAME"))
    render_video(make_product(b, sku="SAME"))
    default_storage.delete(video_a.poster.name)

    report = storage_by_merchant()

    for merchant in (a, b):
        entry = report[merchant.slug]
        segment_names = [
            s.file.name for s in Segment.objects.filter(merchant=merchant).exclude(file="")
        ]
        assert all(name.startswith("segments/") for name in segment_names)
        assert entry["segments"] == {
            "count": 4,
            "bytes": sum(default_storage.size(n) for n in segment_names),
        }
        names = [
            n
            for v in Video.objects.filter(product__merchant=merchant)
            for n in (v.file.name, v.poster.name)
        ]
        names = [n for n in names if default_storage.exists(n)]
        assert all(f"/{merchant.slug}/" in n for n in names)
        assert entry["videos"]["bytes"] == sum(default_storage.size(n) for n in names)
        image = merchant.products.get().images.get()
        assert entry["product_images"] == {
            "count": 2,
            "bytes": image.file.size + image.cutout.size,
        }
        kinds = ("segments", "videos", "product_images", "brand_assets")
        assert entry["bytes"] == sum(entry[kind]["bytes"] for kind in kinds)
    assert report[a.slug]["videos"]["count"] == 1
    assert report[a.slug]["missing"] == [video_a.poster.name]
    assert report[b.slug]["videos"]["count"] == 2
    assert report[b.slug]["missing"] == []
    # Everything named by a row, split between the two merchants, is everything stored.
    total = sum(report[m.slug]["bytes"] for m in (a, b))
    stored = sum(
        default_storage.size(n)
        for n in _files("segments") + _files("videos") + _files("public") + _files("products")
    )
    assert total == stored


def test_command_prints_json_counts() -> None:
    product = make_product(make_merchant())
    rerender_with_new_photo(product)
    out = StringIO()
    call_command("housekeeping", "--grace-hours", "0", "--dry-run", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["sweep"]["dry_run"] is True
    assert summary["sweep"]["segments_deleted"] == 3
    assert summary["sweep"]["video_files_deleted"] == 2
    assert summary["sweep"]["bytes_freed"] > 0
    assert product.merchant.slug in summary["storage"]
    assert Segment.objects.count() == 7  # dry run

    out = StringIO()
    call_command("housekeeping", "--grace-hours", "0", stdout=out)
    assert "Deleted 3 unused segments" in out.getvalue()
    assert Segment.objects.count() == 4


def test_the_periodic_task_is_registered_on_the_default_queue(settings) -> None:  # type: ignore[no-untyped-def]
    import rendering.tasks  # noqa: F401
    from scenecart.celery import app

    assert "rendering.housekeeping_sweep" in app.tasks
    assert settings.CELERY_TASK_ROUTES["rendering.housekeeping_sweep"] == {"queue": "default"}
    schedule = settings.CELERY_BEAT_SCHEDULE["housekeeping"]
    assert schedule["task"] == "rendering.housekeeping_sweep"


def test_the_task_sweeps_with_the_configured_grace(settings) -> None:  # type: ignore[no-untyped-def]
    from rendering.tasks import housekeeping_sweep_task

    product = make_product(make_merchant())
    rerender_with_new_photo(product)
    settings.SCENECART_HOUSEKEEPING_GRACE_HOURS = 24
    housekeeping_sweep_task()
    assert Segment.objects.count() == 7
    settings.SCENECART_HOUSEKEEPING_GRACE_HOURS = 0
    housekeeping_sweep_task()
    assert Segment.objects.count() == 4


def _files(prefix: str) -> list[str]:
    root = Path(default_storage.path(prefix))
    if not root.exists():
        return []
    return [
        f"{prefix}/{path.relative_to(root).as_posix()}"
        for path in root.rglob("*")
        if path.is_file()
    ]


def test_videos_of_a_long_archived_product_go_and_then_their_own_segments(settings) -> None:  # type: ignore[no-untyped-def]
    merchant = make_merchant()
    archived = make_product(merchant, sku="OLD")
    on_sale = make_product(merchant, sku="NEW", color="#2E86AB")
    gone, kept = render_video(archived), render_video(on_sale)
    archived.status = "archived"
    archived.save()

    settings.SCENECART_ARCHIVED_VIDEOS_DAYS = 30
    recent = housekeeping_sweep(grace=NOW)
    # Archived yesterday: it may come back, and would be served again without a render.
    assert recent.archived_videos_deleted == 0 and Video.objects.filter(pk=gone.pk).exists()

    settings.SCENECART_ARCHIVED_VIDEOS_DAYS = 0
    report = housekeeping_sweep(grace=NOW)
    assert report.archived_videos_deleted == 1
    assert not Video.objects.filter(pk=gone.pk).exists()
    assert not default_storage.exists(gone.file.name)
    # Its product shots went with it; the closing shot is the shop's and stays for the other.
    assert set(Segment.objects.values_list("kind", flat=True)) == {
        "hero",
        "scene",
        "offer",
        "outro",
    }
    assert not Segment.objects.filter(parts__isnull=True).exists()
    assert Video.objects.get(pk=kept.pk).status == Video.Status.READY
    assert default_storage.exists(kept.file.name)
