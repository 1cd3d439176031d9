"""Output profiles: the house format every stored segment of one aspect shares.

Identical stream parameters per profile are what let assembly concatenate segments with
``-c copy`` instead of re-encoding them.
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings


class UnknownAspect(ValueError):
    pass


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


def profiles() -> dict[str, OutputProfile]:
    """The output profile of each aspect, from ``SCENECART_PROFILES``."""
    return {
        aspect: OutputProfile(aspect=aspect, **spec)
        for aspect, spec in settings.SCENECART_PROFILES.items()
    }


def profile_for(aspect: str) -> OutputProfile:
    known = profiles()
    try:
        return known[aspect.strip()]
    except KeyError:
        raise UnknownAspect(
            f"Unknown aspect {aspect!r}: expected one of {', '.join(known)}."
        ) from None
