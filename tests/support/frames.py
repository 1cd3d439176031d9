"""What tests look at in a video: its frames, as a person would."""

from pathlib import Path

import av
import numpy as np


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The RGB frame shown at ``seconds``."""
    with av.open(str(path)) as container:
        chosen = None
        for frame in container.decode(video=0):
            chosen = frame
            if frame.time is not None and frame.time >= seconds:
                break
        assert chosen is not None, f"{path} has no frames"
        return chosen.to_ndarray(format="rgb24")


def is_faststart(path: Path) -> bool:
    """The moov atom comes before the media data, so browsers can start playing at once."""
    head = path.read_bytes()
    return 0 <= head.find(b"moov") < head.find(b"mdat")
