"""Video files: encoding frames, probing, stream-copy concatenation and posters.

ffmpeg is the binary ``imageio-ffmpeg`` ships (no system ffmpeg needed); probing uses PyAV
because that ffmpeg build comes without ffprobe.
"""

import subprocess
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
from PIL import Image

from .job import OutputProfile


class MediaError(Exception):
    """ffmpeg failed or a file is not the video it should be; the message says how."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def encoder_args(profile: OutputProfile, *, preset: str, crf: int) -> list[str]:
    """The whole ffmpeg output side of the house format, for command lines (e.g. benchmarks)."""
    return [
        "-c:v",
        "libx264",
        "-pix_fmt",
        profile.pix_fmt,
        *h264_params(profile, preset=preset, crf=crf),
    ]


def h264_params(profile: OutputProfile, *, preset: str, crf: int) -> list[str]:
    """Encoder settings of the house format: identical for every segment of a profile."""
    return [
        "-preset", preset, "-crf", str(crf), "-profile:v", "high",
        # A keyframe every second and no scene-cut keyframes: segments are short and concat
        # joins them at their first (key)frame.
        "-g", str(profile.fps), "-keyint_min", str(profile.fps), "-sc_threshold", "0",
        "-r", str(profile.fps), "-video_track_timescale", str(profile.timescale),
        # Frames are composed in BT.709 limited range; say so, so players convert them right.
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-color_range", "tv", "-movflags", "+faststart", "-an",
    ]  # fmt: skip


@contextmanager
def frame_writer(
    path: Path, profile: OutputProfile, *, preset: str, crf: int
) -> Iterator["FrameSink"]:
    """Stream raw yuv420p frames into ffmpeg; frames are never collected in memory.

    On any error the partial file is removed, so a failed render leaves nothing behind.
    """
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (profile.width, profile.height),
        fps=profile.fps,
        codec="libx264",
        pix_fmt_in="yuv420p",
        pix_fmt_out=profile.pix_fmt,
        quality=None,
        macro_block_size=2,
        ffmpeg_log_level="error",
        output_params=h264_params(profile, preset=preset, crf=crf),
    )
    writer.send(None)
    sink = FrameSink(writer, profile)
    try:
        yield sink
    except BaseException:
        writer.close()
        path.unlink(missing_ok=True)
        raise
    else:
        writer.close()


class FrameSink:
    def __init__(self, writer: Generator[object, bytes, object], profile: OutputProfile) -> None:
        # The primed generator imageio_ffmpeg.write_frames returns: each send() is one frame.
        self._writer = writer
        chroma = ((profile.width + 1) // 2) * ((profile.height + 1) // 2)
        self._size = profile.width * profile.height + 2 * chroma
        self.frames = 0

    def write(self, frame: bytes) -> None:
        if len(frame) != self._size:
            raise MediaError(f"frame has {len(frame)} bytes, expected {self._size} (yuv420p)")
        self._writer.send(frame)
        self.frames += 1


@dataclass(frozen=True, slots=True)
class Probe:
    duration: float
    width: int
    height: int
    codec: str
    pix_fmt: str
    fps: float
    frames: int
    has_audio: bool
    audio_codec: str | None


def probe(path: Path) -> Probe:
    """Open the file and read its streams; a file that does not decode raises MediaError."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path.name}: no video stream")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            rate = video.average_rate or video.guessed_rate or Fraction(0)
            return Probe(
                duration=duration,
                width=video.codec_context.width,
                height=video.codec_context.height,
                codec=video.codec_context.name,
                pix_fmt=video.codec_context.format.name if video.codec_context.format else "",
                fps=float(rate),
                frames=video.frames,
                has_audio=audio is not None,
                audio_codec=audio.codec_context.name if audio is not None else None,
            )
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name}: not a readable video ({exc})") from exc


def verify(
    path: Path,
    profile: OutputProfile,
    *,
    seconds: float,
    tolerance: float = 0.1,
    audio: bool = False,
) -> Probe:
    """Probe a freshly written file and check it is the video we meant to write."""
    if not path.exists() or path.stat().st_size == 0:
        raise MediaError(f"{path.name}: ffmpeg wrote nothing")
    found = probe(path)
    problems = []
    if (found.width, found.height) != (profile.width, profile.height):
        problems.append(
            f"size {found.width}×{found.height}, expected {profile.width}×{profile.height}"
        )
    if found.codec != profile.codec:
        problems.append(f"codec {found.codec}, expected {profile.codec}")
    if found.pix_fmt != profile.pix_fmt:
        problems.append(f"pixel format {found.pix_fmt}, expected {profile.pix_fmt}")
    if audio and not found.has_audio:
        problems.append("no audio stream")
    if abs(found.duration - seconds) > tolerance:
        problems.append(f"duration {found.duration:.3f} s, expected {seconds:.3f} s")
    if problems:
        raise MediaError(f"{path.name}: " + "; ".join(problems))
    return found


def normalize(
    source: Path, out_path: Path, profile: OutputProfile, *, seconds: float, preset: str, crf: int
) -> None:
    """Re-encode a clip from any backend (a provider MP4 of another size, frame rate or codec)
    into the house format of ``profile``, once, when it is stored: scaled to cover the frame
    and center-cropped (no letterbox bars), at the profile's frame rate, cut to ``seconds``,
    without audio. After this it concatenates with every other segment by stream copy."""
    width, height = profile.width, profile.height
    scale = (
        f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=bicubic,"
        f"crop={width}:{height},setsar=1,fps={profile.fps},format={profile.pix_fmt}"
    )
    # fmt: off
    _run_ffmpeg([
        "-i", str(source), "-t", f"{seconds:.3f}", "-vf", scale, "-c:v", "libx264",
        *h264_params(profile, preset=preset, crf=crf), str(out_path),
    ])
    # fmt: on


def concat_copy(parts: list[Path], out_path: Path, *, audio: Path | None = None) -> None:
    """Join house-format segments without re-encoding (ffmpeg concat demuxer, stream copy),
    muxing in an already encoded audio bed, with the index up front (+faststart)."""
    listing = out_path.with_suffix(".txt")
    listing.write_text("".join(f"file '{_concat_escape(p)}'\n" for p in parts))
    audio_args = ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-shortest"] if audio else []
    # fmt: off
    _run_ffmpeg([
        "-f", "concat", "-safe", "0", "-i", str(listing), *audio_args,
        "-c", "copy", "-movflags", "+faststart", str(out_path),
    ])
    # fmt: on
    listing.unlink(missing_ok=True)


def poster_jpeg(video_path: Path, out_path: Path, *, at_seconds: float) -> None:
    """Write the frame at ``at_seconds`` (or the last one before it) as a JPEG poster.

    Seeks to the keyframe before that time first (the house format has one every second), so
    only a few frames are decoded, not the whole video up to there.
    """
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        if stream.time_base is not None and at_seconds > 0:
            container.seek(int(at_seconds / stream.time_base), stream=stream, backward=True)
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= at_seconds:
                break
        if chosen is None:
            raise MediaError(f"{video_path.name}: no frame to make a poster from")
        image: Image.Image = chosen.to_image()
    image.save(out_path, "JPEG", quality=85, optimize=True, progressive=True)


def _concat_escape(path: Path) -> str:
    return str(path.resolve()).replace("'", r"'\''")


def _run_ffmpeg(args: list[str]) -> None:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MediaError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()[-800:]}")
