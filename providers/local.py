"""The built-in backend: the procedural compositor, on this machine, free, no network."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from providers.base import RenderBackend
from videokit.compositor.stage import Stage
from videokit.job import RenderJob
from videokit.media import frame_writer


class LocalBackend(RenderBackend):
    house_format: ClassVar[bool] = True
    draws_stills: ClassVar[bool] = True
    # Bump whenever the same job would produce different pixels: it invalidates cached segments.
    VERSION = "local-2"

    def __init__(self, *, alias: str = "local", preset: str = "veryfast", crf: int = 21) -> None:
        self.alias = alias
        self.preset = preset
        self.crf = crf

    @property
    def version(self) -> str:
        return self.VERSION

    def option_fingerprint(self) -> dict[str, Any]:
        return {"preset": self.preset, "crf": self.crf}

    def estimate_cost(self, job: RenderJob) -> Decimal:
        return Decimal("0")

    def render(self, job: RenderJob, out_path: Path) -> None:
        stage = Stage(plan=job.plan, profile=job.profile, assets=job.assets, seed=job.seed)
        stage.prepare()
        frames = job.profile.frames_for(job.plan.seconds)
        last = max(1, frames - 1)
        # Writing to ffmpeg's pipe blocks while it encodes; a writer thread lets the next frame
        # be composed meanwhile (Pillow and pipe writes release the GIL).
        with (
            frame_writer(out_path, job.profile, preset=self.preset, crf=self.crf) as sink,
            ThreadPoolExecutor(max_workers=1) as writer,
        ):
            pending = None
            for index in range(frames):
                data = stage.frame(index / last).to_bytes()
                if pending is not None:
                    pending.result()
                pending = writer.submit(sink.write, data)
            if pending is not None:
                pending.result()

    def still(self, job: RenderJob, at_seconds: float) -> Image.Image:
        """One frame of the segment as an RGB image (contact sheets, previews)."""
        stage = Stage(plan=job.plan, profile=job.profile, assets=job.assets, seed=job.seed)
        seconds = job.plan.seconds
        return stage.frame(min(1.0, max(0.0, at_seconds / seconds))).to_rgb()
