"""The protocol every render backend implements, and the job it is given."""

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol

from videokit.job import RenderJob


class RenderBackend(Protocol):
    """What the rendering core needs of a backend.

    ``version`` goes into every segment key: bump it whenever the same job would produce
    different pixels. Local backends render synchronously; HTTP providers (which submit, then
    poll from re-scheduled tasks) extend this protocol with ``submit``/``poll``/``fetch``.
    """

    alias: str
    version: str
    synchronous: ClassVar[bool]
    # True when ``render`` already writes the house format of the job's profile; anything else
    # (a provider's MP4) is normalized once before it is stored.
    house_format: ClassVar[bool]

    def option_fingerprint(self) -> dict[str, Any]:
        """The options that change the pixels (part of the segment key)."""
        ...

    def estimate_cost(self, job: RenderJob) -> Decimal: ...

    def render(self, job: RenderJob, out_path: Path) -> None:
        """Write the segment to ``out_path`` in the house format of ``job.profile``."""
        ...
