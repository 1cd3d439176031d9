"""The embedded broker publishes whole messages: a consumer never sees one half-written."""

import json
import threading
from pathlib import Path
from queue import Empty

from kombu import Connection

from scenecart.broker import Transport


def test_a_consumer_racing_a_publisher_reads_only_whole_messages(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    seen: list[str] = []
    count = 300
    with Connection(transport=Transport, transport_options=options) as publisher:
        channel = publisher.default_channel
        stop = threading.Event()
        errors: list[BaseException] = []

        def consume() -> None:
            with Connection(transport=Transport, transport_options=options) as consumer:
                reader = consumer.default_channel
                while not stop.is_set() or any(folder.iterdir()):
                    try:
                        seen.append(json.dumps(reader._get("q")))
                    except Empty:
                        continue
                    except Exception as exc:  # what kombu's own transport raises here
                        errors.append(exc)

        thread = threading.Thread(target=consume)
        thread.start()
        for index in range(count):
            channel._put("q", {"n": index, "body": "x" * 5000})
        stop.set()
        thread.join(30)
    assert not errors, errors[:3]
    assert sorted(json.loads(m)["n"] for m in seen) == list(range(count))
    assert not any(folder.iterdir()), "no partial files are left behind"
