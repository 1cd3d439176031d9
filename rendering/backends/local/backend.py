"""The built-in backend: the procedural compositor, on this machine, free, no network."""

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from rendering.backends.base import RenderJob
from rendering.media import frame_writer

from .scene import Stage


class LocalBackend:
    synchronous: ClassVar[bool] = True
    # Bump whenever the same job would produce different pixels: it invalidates cached segments.
    version = "local-1"

    def __init__(self, *, alias: str = "local", preset: str = "veryfast", crf: int = 21) -> None:
        self.alias = alias
        self.preset = preset
        self.crf = crf

    def option_fingerprint(self) -> dict[str, Any]:
        return {"preset": self.preset, "crf": self.crf}

    def estimate_cost(self, job: RenderJob) -> Decimal:
        return Decimal("0")

    def render(self, job: RenderJob, out_path: Path) -> None:
        stage = Stage(plan=job.plan, profile=job.profile, assets=job.assets, seed=job.seed)
        frames = job.profile.frames_for(job.plan.seconds)
        last = max(1, frames - 1)
        with frame_writer(out_path, job.profile, preset=self.preset, crf=self.crf) as sink:
            for index in range(frames):
                sink.write(stage.frame(index / last, job.plan.seconds))

    def still(self, job: RenderJob, at_seconds: float) -> Image.Image:
        """One frame of the segment as an RGB image (contact sheets, previews)."""
        stage = Stage(plan=job.plan, profile=job.profile, assets=job.assets, seed=job.seed)
        seconds = job.plan.seconds
        return Image.fromarray(stage.frame(min(1.0, max(0.0, at_seconds / seconds)), seconds))
