"""One personalized video end to end, through a real Celery worker process."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from personalization.context import ShopperContext
from rendering.models import Segment, Video
from rendering.services import video_request
from tests.support.factories import make_merchant, make_product
from videokit.media import probe

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker")]


def generate(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("generate_videos", *args, "--wait", "--timeout", "180", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_worker_renders_each_unique_segment_once_and_assembles_the_videos() -> None:
    merchant = make_merchant(slug="shop")
    make_product(merchant, sku="JACKET")
    args = (
        "--merchant",
        "shop",
        "--all",
        "--contexts",
        "climate=rainy",
        "--contexts",
        "climate=sunny",
        "--aspects",
        "16:9",
    )

    first = generate(*args)
    assert first["videos"] == 2 and first["videos_ready"] == 2 and first["videos_failed"] == 0
    # One hero, offer and outro shared by both contexts, and one scene per context.
    assert first["segments_rendered"] == 5
    assert first["segments_reused"] == 3
    for video in Video.objects.all():
        found = probe(Path(default_storage.path(video.file.name)))
        assert (found.width, found.height, found.codec, found.pix_fmt) == (
            320,
            180,
            "h264",
            "yuv420p",
        )
        assert found.duration == pytest.approx(4.0, abs=0.15)
        assert found.has_audio
        assert default_storage.exists(video.poster.name)
    assert set(Segment.objects.values_list("attempts", flat=True)) == {1}

    second = generate(*args)
    assert second["videos_ready"] == 2
    assert second["segments_rendered"] == 0
    assert second["segments_reused"] == 8
    assert set(Segment.objects.values_list("attempts", flat=True)) == {1}


def test_the_same_render_requested_twice_at_once_renders_once() -> None:
    product = make_product(make_merchant(slug="shop"), sku="MUG")
    context = ShopperContext.parse("climate=snowy,aesthetic=cozy")
    # Two requests before the worker gets to either: both enqueue the same segments.
    first = video_request(product=product, context=context, aspect="1:1")
    second = video_request(product=product, context=context, aspect="1:1")
    assert [s.pk for s in first.segments] == [s.pk for s in second.segments]
    summary = generate(
        "--merchant", "shop", "--sku", "MUG", "--contexts", str(context), "--aspects", "1:1"
    )
    assert summary["videos_ready"] == 1
    assert list(Segment.objects.values_list("attempts", flat=True)) == [1, 1, 1, 1]
    video = Video.objects.get()
    assert probe(Path(default_storage.path(video.file.name))).width == 240
