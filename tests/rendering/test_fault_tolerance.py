"""Faults injected into real processes: what survives.

- A worker killed with SIGKILL in the middle of a render: the segment is rendered again by
  another worker once the periodic sweep finds it stale, completes once, and leaves no
  duplicate rows and no stray files in storage.
- Work whose message was lost (a video whose segments are all ready but was never
  assembled; a segment PENDING with no task): the sweep queues it again.
"""

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from pytest_django import Settings

from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import video_request
from rendering.sweeps import stale_work_requeue
from tests.conftest import WorkerStarter
from tests.factories import make_merchant, make_product

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
    from tests.conftest import _purge_broker

    _purge_broker()
    worker_starter.start()
    time.sleep(1.0)
    assert Video.objects.get(pk=request.video.pk).status == Video.Status.PENDING

    later = timezone.now() + timedelta(seconds=settings.SCENECART_RENDER_STALE_AFTER + 1)
    swept = stale_work_requeue(now=later)
    assert swept.segments == 4

    def ready() -> bool:
        return Video.objects.get(pk=request.video.pk).status == Video.Status.READY

    wait_for(ready, what="the video after the sweep")
