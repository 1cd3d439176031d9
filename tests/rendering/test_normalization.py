"""Clips from a backend that does not write the house format are normalized once when stored,
so they concatenate by stream copy like every other segment."""

import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.core.files.storage import default_storage

from personalization.context import ShopperContext
from providers.base import RenderBackend
from rendering.models import Segment, Video
from rendering.services import segment_render, video_assemble, video_request
from tests.support.factories import make_merchant, make_product
from videokit.job import RenderJob
from videokit.media import ffmpeg_exe, probe

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]


class ForeignFormatBackend(RenderBackend):
    """Writes what a provider might return: 640×480 at 24 fps in MPEG-4 Part 2, 3 s long
    whatever the plan asks, with an audio track."""

    synchronous: ClassVar[bool] = True
    house_format: ClassVar[bool] = False
    version = "foreign-1"

    def __init__(self, *, alias: str = "foreign") -> None:
        self.alias = alias

    def option_fingerprint(self) -> dict[str, Any]:
        return {}

    def estimate_cost(self, job: RenderJob) -> Decimal:
        return Decimal("0.10")

    def render(self, job: RenderJob, out_path: Path) -> None:
        subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=24:duration=3",
             "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
             "-c:v", "mpeg4", "-c:a", "aac", str(out_path)],
            check=True,
        )  # fmt: skip


def test_foreign_clips_are_normalized_to_the_house_format(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SCENECART_BACKENDS = {
        **settings.SCENECART_BACKENDS,
        "foreign": {"BACKEND": "tests.rendering.test_normalization.ForeignFormatBackend"},
    }
    product = make_product(make_merchant())
    request = video_request(
        product=product,
        context=ShopperContext.parse("climate=rainy"),
        aspect="9:16",
        backend_alias="foreign",
    )
    for segment in request.segments:
        rendered = segment_render(segment=segment)
        assert rendered.status == Segment.Status.READY, rendered.error
        found = probe(Path(default_storage.path(rendered.file.name)))
        assert (found.width, found.height, found.fps) == (180, 320, 15)
        assert (found.codec, found.pix_fmt, found.has_audio) == ("h264", "yuv420p", False)
        assert found.duration == pytest.approx(1.0, abs=0.07)  # cut to the plan, not 3 s
    video = video_assemble(video=request.video)
    assert video.status == Video.Status.READY, video.error
    assert probe(Path(default_storage.path(video.file.name))).duration == pytest.approx(
        4.0, abs=0.15
    )
