"""Fixtures of the fake providers: a real small MP4 (not in the house format, as a provider's
would not be) and a running fake server per provider."""

import io
from collections.abc import Iterator

import av
import numpy as np
import pytest

from .server import FakeProvider


@pytest.fixture(scope="session")
def provider_mp4() -> bytes:
    """2 s of 640×360 H.264 at 24 fps, a moving gradient: what a provider hands back."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        x = np.linspace(0, 255, 640, dtype=np.float32)
        for index in range(48):
            row = (x + index * 5) % 256
            frame = np.repeat(
                np.stack([row, row[::-1], np.full_like(row, 90)], axis=-1)[None], 360, 0
            )
            video_frame = av.VideoFrame.from_ndarray(frame.astype(np.uint8), format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def serve(server: FakeProvider) -> Iterator[FakeProvider]:
    import threading

    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
