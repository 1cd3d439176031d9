"""What a render backend is asked to make: the output profile (the house format of one aspect),
the plan, the input assets; and the error a render that cannot succeed raises."""

from dataclasses import asdict, dataclass, field
from typing import Any

from .plan import ScenePlan


@dataclass(frozen=True, slots=True)
class OutputProfile:
    aspect: str
    width: int
    height: int
    fps: int = 30
    codec: str = "h264"
    pix_fmt: str = "yuv420p"
    # A fixed timescale keeps every segment's timebase identical for stream-copy concat.
    timescale: int = 15360

    @property
    def name(self) -> str:
        return f"{self.codec}-{self.width}x{self.height}-{self.fps}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frames_for(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))


class RenderError(Exception):
    """A render failed for a reason retrying will not fix (bad input, refused content)."""


@dataclass(frozen=True, slots=True)
class RenderAssets:
    """Input files, as bytes, with the content hashes that went into the segment key."""

    product_image: bytes | None = None
    font: bytes | None = None
    logo: bytes | None = None
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderJob:
    plan: ScenePlan
    profile: OutputProfile
    assets: RenderAssets
    seed: int = 0
