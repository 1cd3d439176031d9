"""Faults injected into real processes: what survives.

- A worker killed with SIGKILL in the middle of a render: the segment is rendered again by
  another worker once the periodic sweep finds it stale, completes once, and leaves no
  duplicate rows and no stray files in storage.
- Work whose message was lost (a video whose segments are all ready but was never
  assembled; a segment PENDING with no task): the sweep queues it again.
- Storage refusing writes: the rendered segment waits and its task retries with backoff; no
  READY row ever names a file that is not there.
"""

import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import Settings

from catalog.services import product_image_cutout
from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import video_request
from rendering.sweeps import stale_work_requeue
from tests.support.factories import make_merchant, make_product
from tests.support.faulty import refuse_writes
from tests.support.workers import WorkerStarter, purge_broker

pytestmark = [pytest.mark.worker]
STALE_SECONDS = 2


@pytest.fixture
def quick_stale(settings: Settings, worker_starter: WorkerStarter) -> None:
    """Renders count as stale after 2 s (production: 30 min), here and in the workers."""
    settings.SCENECART_RENDER_STALE_AFTER = STALE_SECONDS
    worker_starter.extra_env["SCENECART_RENDER_STALE_AFTER"] = str(STALE_SECONDS)


def wait_for(check, timeout: float = 120, what: str = "it"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"Timed out waiting for {what}.")


def stored_segment_files(media_root: Path) -> set[str]:
    return {p.name for p in (media_root / "segments").rglob("*") if p.is_file()}


@pytest.mark.usefixtures("quick_stale")
def test_a_worker_killed_mid_render_is_replaced_and_the_segment_completes_once(
    worker_starter: WorkerStarter, media_root: Path
) -> None:
    first = worker_starter.start()
    merchant = make_merchant(slug="shop")
    # A 6 s scene: long enough to kill the worker in the middle of encoding it.
    request = video_request(
        product=make_product(merchant),
        context=ShopperContext.parse("climate=snowy"),
        aspect="16:9",
        seconds={"scene": 6.0},
    )
    scene = next(s for s in request.segments if s.kind == "scene")
    wait_for(
        lambda: Segment.objects.filter(pk=scene.pk, status=Segment.Status.RENDERING).exists(),
        what="the scene's render to start",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert Segment.objects.get(pk=scene.pk).status == Segment.Status.RENDERING

    worker_starter.start()
    time.sleep(STALE_SECONDS + 0.5)
    swept = stale_work_requeue()
    assert swept.segments >= 1

    def ready() -> Video | None:
        video = Video.objects.get(pk=request.video.pk)
        return video if video.status in (Video.Status.READY, Video.Status.FAILED) else None

    video = wait_for(ready, what="the video")
    assert video.status == Video.Status.READY, video.error
    scene.refresh_from_db()
    assert scene.status == Segment.Status.READY and scene.attempts == 2
    # One row per segment, one file per row: nothing duplicated, nothing left over.
    keys = list(Segment.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 4
    assert stored_segment_files(media_root) == {f"{key}.mp4" for key in keys}


def test_lost_messages_are_queued_again_by_the_sweep(
    worker_starter: WorkerStarter, settings: Settings
) -> None:
    merchant = make_merchant(slug="shop")
    # Planned without a worker: the render messages go nowhere and are purged, as a broker
    # restarted without persistence would lose them.
    request = video_request(product=make_product(merchant), context=ShopperContext(), aspect="16:9")
    purge_broker()
    worker_starter.start()
    time.sleep(1.0)
    assert Video.objects.get(pk=request.video.pk).status == Video.Status.PENDING

    later = timezone.now() + timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER + 1)
    swept = stale_work_requeue(now=later)
    assert swept.segments == 4

    def ready() -> bool:
        return Video.objects.get(pk=request.video.pk).status == Video.Status.READY

    wait_for(ready, what="the video after the sweep")


# --- Storage that refuses writes ---------------------------------------------------------------

FLAKY = "tests.support.faulty.FlakyStorage"


def test_storage_refusing_writes_retries_and_never_points_at_a_missing_file(
    worker_starter: WorkerStarter, settings: Settings, media_root: Path
) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": FLAKY}}
    worker_starter.extra_env["SCENECART_TEST_STORAGE_BACKEND"] = FLAKY
    product = make_product(make_merchant(slug="shop"))
    product_image_cutout(image=product.images.get())  # the upload's own writes are done
    refuse_writes(media_root)
    worker_starter.start()
    request = video_request(product=product, context=ShopperContext(), aspect="16:9")

    def refused() -> bool:
        return Segment.objects.filter(error__contains="No space left on device").count() == 4

    wait_for(refused, what="every segment to be refused by the storage")
    # Rendered but not stored: waiting, not failed, and no READY row without its file.
    assert set(Segment.objects.values_list("status", flat=True)) <= {
        Segment.Status.PENDING,
        Segment.Status.RENDERING,
    }
    assert not (media_root / "segments").exists() or not stored_segment_files(media_root)
    assert Video.objects.get(pk=request.video.pk).status == Video.Status.PENDING

    refuse_writes(media_root, refuse=False)

    def ready() -> Video | None:
        video = Video.objects.get(pk=request.video.pk)
        return video if video.status == Video.Status.READY else None

    wait_for(ready, what="the video once the storage takes writes again")
    for segment in Segment.objects.all():
        assert segment.status == Segment.Status.READY
        assert (media_root / segment.file.name).is_file()


# --- ffmpeg failing, or cutting its file short ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("small_videos")
@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        # ffmpeg refuses to run (here: a preset x264 does not have).
        (
            {"BACKEND": "providers.local.LocalBackend", "OPTIONS": {"preset": "warp9"}},
            "ffmpeg",
        ),
        # ffmpeg "succeeds" but the file is cut short.
        ({"BACKEND": "tests.support.faulty.TruncatingBackend"}, "MediaError"),
    ],
    ids=["ffmpeg-fails", "truncated-file"],
)
def test_a_broken_render_is_caught_and_never_served(
    settings: Settings, media_root: Path, backend: dict[str, object], reason: str, client: Any
) -> None:
    from personalization.services import bucket_policy_update
    from rendering.services import segment_render

    settings.SCENECART_BACKENDS = {**settings.SCENECART_BACKENDS, "broken": backend}
    merchant = make_merchant(slug="shop")
    bucket_policy_update(merchant=merchant, allow_public_hints=True)
    product = make_product(merchant, sku="JACKET")
    request = video_request(
        product=product, context=ShopperContext(), aspect="16:9", backend_alias="broken"
    )
    hero = request.segments[0]
    with pytest.raises(Exception) as raised:
        segment_render(segment=hero)
    hero.refresh_from_db()
    assert hero.status == Segment.Status.FAILED and not hero.file
    assert reason.lower() in hero.error.lower(), hero.error
    assert str(raised.value)[:40] in hero.error
    assert not (media_root / "segments").exists() or not stored_segment_files(media_root)
    video = Video.objects.get(pk=request.video.pk)
    assert video.status == Video.Status.FAILED and "The hero segment failed" in video.error
    answer = client.get("/api/v1/videos/shop/JACKET").json()
    assert answer["src"] is None and answer["requested"] == "failed"
