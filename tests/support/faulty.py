"""Faulty parts for the fault-injection tests: storage that refuses writes while a flag file
exists (so a worker process and the test share the switch), and a backend whose encoder
output is cut short, as ffmpeg's is when it is killed or the disk fills."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage

from providers.local import LocalBackend
from videokit.job import RenderJob

REFUSE_FLAG = ".refuse-writes"


def refuse_writes(media_root: Path, refuse: bool = True) -> None:
    flag = media_root / REFUSE_FLAG
    if refuse:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)


class FlakyStorage(FileSystemStorage):
    """Local storage that fails every write while MEDIA_ROOT/.refuse-writes exists."""

    def _save(self, name: str, content: Any) -> str:
        if (Path(settings.MEDIA_ROOT) / REFUSE_FLAG).exists():
            raise OSError(28, "No space left on device")
        return super()._save(name, content)


class TruncatingBackend(LocalBackend):
    """Renders, then cuts the file to a third: an encoder that died mid-write."""

    def render(self, job: RenderJob, out_path: Path) -> None:
        super().render(job, out_path)
        data = out_path.read_bytes()
        out_path.write_bytes(data[: len(data) // 3])
