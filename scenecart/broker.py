"""kombu's filesystem transport, with messages published atomically.

kombu (5.7) writes a message by creating the file in the queue folder and then writing
into it, while a consumer moves and reads any file it sees there without a lock: a consumer
that looks in between reads an empty file, raises JSONDecodeError from its event loop and
loses the message. Here a message is written under a name consumers skip and renamed into
place when complete (a rename is atomic on one filesystem), so a consumer sees whole
messages or none. Registered for ``filesystem://`` URLs in scenecart.celery.
"""

import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]  # kombu's filesystem Channel itself renames the base's `message` (celery-types ignores it too)
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = Path(self.data_folder_out) / name
        # Consumers take only files named <stamp>_<uuid>.<queue>.msg; a leading dot and a
        # suffix keep the partial file out of their sight.
        partial = Path(self.data_folder_out) / f".{name}.part"
        try:
            with partial.open("wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            partial.replace(final)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ChannelError(f"Cannot add file {str(final)!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
