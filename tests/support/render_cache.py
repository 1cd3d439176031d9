"""The built-in renderer and the music beds with a cache of their output for the test run, used
in-process by the tests that need ready videos (``small_videos``); workers render for real.

Every test starts with an empty database and media folder, so without it the same few
segments (the same product, brand and plan) are rendered again in hundreds of tests. The
renderer is deterministic: the cache is keyed by everything its output depends on (the plan,
the profile, the seed, the encoder options and the input files themselves), so a hit writes
exactly the bytes a render would. ``tests/rendering/test_local_renderer.py`` checks the
renderer itself.
"""

import hashlib
import json
from pathlib import Path

from providers.local import LocalBackend
from videokit.audio import bed_for
from videokit.job import RenderJob

_RENDERED: dict[str, bytes] = {}


def _fingerprint(backend: LocalBackend, job: RenderJob) -> str:
    digest = hashlib.sha256()
    digest.update(job.plan.canonical_json().encode())
    digest.update(json.dumps(job.profile.to_dict(), sort_keys=True).encode())
    digest.update(json.dumps(backend.option_fingerprint(), sort_keys=True).encode())
    digest.update(f"{backend.version}:{job.seed}".encode())
    for asset in (job.assets.product_image, job.assets.font, job.assets.logo):
        digest.update(hashlib.sha256(asset or b"").digest())
    return digest.hexdigest()


class CachedLocalBackend(LocalBackend):
    @property
    def identity(self) -> str:
        # The same bytes as the built-in renderer: segments planned here and in a worker
        # (which renders for real) are the same segments.
        return f"{LocalBackend.__module__}.{LocalBackend.__qualname__}"

    def render(self, job: RenderJob, out_path: Path) -> None:
        key = _fingerprint(self, job)
        if key in _RENDERED:
            out_path.write_bytes(_RENDERED[key])
            return
        super().render(job, out_path)
        _RENDERED[key] = out_path.read_bytes()


_BEDS: dict[tuple[str | None, float], bytes] = {}


def cached_bed_for(
    *, aesthetic: str | None, seconds: float, out: Path, music: Path | None = None
) -> Path:
    """``videokit.audio.bed_for`` for the test run: Scenecart's own beds (deterministic, by
    aesthetic and length) synthesized once; a merchant's music is fitted every time."""
    if music is not None:
        return bed_for(aesthetic=aesthetic, seconds=seconds, out=out, music=music)
    key = (aesthetic, round(seconds, 3))
    if key not in _BEDS:
        bed_for(aesthetic=aesthetic, seconds=seconds, out=out)
        _BEDS[key] = out.read_bytes()
    else:
        out.write_bytes(_BEDS[key])
    return out
