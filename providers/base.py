"""The base every render backend extends: what the rendering core asks of a backend, and the
abilities a backend declares rather than the core probing for them (django-storages'
``Storage`` in spirit)."""

from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from videokit.job import RenderJob


class RenderBackend:
    """A render backend. ``version`` goes into every segment key: bump it whenever the same job
    would produce different pixels. The built-in renderer renders in the worker
    (``synchronous``); HTTP providers submit a job and are polled (``providers.remote``).
    """

    alias: str
    # Renders in the worker's process; False for providers that are submitted to and polled.
    synchronous: ClassVar[bool] = True
    # ``render`` already writes the house format of the job's profile; anything else (a
    # provider's MP4) is normalized once before it is stored.
    house_format: ClassVar[bool] = False
    # Who makes the pixels, for price tables (``provider:model``); empty for the built-in one.
    provider: ClassVar[str] = ""
    model: str = ""
    # Draws single frames (``still``) for contact sheets.
    draws_stills: ClassVar[bool] = False
    # Fetches the product image by URL (``image_to_publish`` says what to publish).
    needs_image_url: ClassVar[bool] = False

    @property
    def identity(self) -> str:
        """What segment keys name the backend by: its class. A subclass that only puts a cache
        in front of its parent (the same bytes for the same job) names the parent, so both
        find each other's segments."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @property
    def version(self) -> str:
        raise NotImplementedError

    def option_fingerprint(self) -> dict[str, Any]:
        """The options that change the pixels (part of the segment key)."""
        raise NotImplementedError

    def estimate_cost(self, job: RenderJob) -> Decimal:
        raise NotImplementedError

    def render(self, job: RenderJob, out_path: Path) -> None:
        """Write the segment to ``out_path`` (in the house format if ``house_format``)."""
        raise NotImplementedError

    def duration_for(self, seconds: float) -> float:
        """The length of clip made (and billed) for a segment of ``seconds``."""
        return seconds

    def still(self, job: RenderJob, at_seconds: float) -> Image.Image:
        """One frame of the segment (only where ``draws_stills``)."""
        raise NotImplementedError(f"{type(self).__name__} draws no stills.")

    def image_to_publish(self, job: RenderJob) -> tuple[bytes, str] | None:
        """The product image as the provider takes it, and its suffix (``needs_image_url``)."""
        return None
