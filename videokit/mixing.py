"""Voice over music: a spoken line laid on a music bed, the music ducked under the voice.

Plain samples and files, no Django, so the mix can be tested and tuned on arrays alone.
Both tracks are decoded with PyAV to 48 kHz stereo, the voice is brought to a speech level,
the bed's gain follows the voice (down by ``DUCK_DB`` while it speaks, through short gaps
between words, with smooth ramps either side), and the sum is encoded as AAC by
``audio.write_bed`` (the ffmpeg ``imageio-ffmpeg`` ships), atomically and probed.
"""

import math
from pathlib import Path

import av
import numpy as np

from .audio import write_bed
from .media import MediaError

SAMPLE_RATE = 48000
# Speech sits this far above the ducked music: the usual 10–15 dB of broadcast mixes.
DUCK_DB = -12.0
# The voice's gated loudness and its peak ceiling: about as loud as the beds (−19…−13 dBFS)
# are, with the peak kept low enough that voice plus ducked music does not clip.
VOICE_RMS_DBFS = -16.0
VOICE_PEAK_DBFS = -3.0
# Where the voice begins after the scene does, and how close to the end it may finish (the
# bed fades out over its last second).
LEAD_SECONDS = 0.3
TAIL_SECONDS = 0.6
# Gaps between words shorter than this keep the music down: pumping up between words is the
# classic sound of a bad ducker.
HOLD_SECONDS = 0.35
RAMP_SECONDS = 0.15


def mix_voice(*, bed: Path, voice: Path, start: float, out: Path) -> Path:
    """The ducking step: ``bed`` with ``voice`` spoken from ``start`` seconds and the music
    ducked under it, written to ``out`` as AAC (atomically, probed) at the bed's length."""
    mixed = duck_and_mix(decode(bed), decode(voice), start=start)
    write_bed(out, mixed.T, sample_rate=SAMPLE_RATE)
    return out


def duck_and_mix(music: np.ndarray, voice: np.ndarray, *, start: float) -> np.ndarray:
    """``music`` (2×n) with ``voice`` (2×m) spoken from ``start`` seconds and the music ducked
    under it; 2×n float32, the music's length. The voice is moved earlier, or cut with a
    short fade, when it would run into the music's fade-out."""
    n = music.shape[1]
    room = max(0, n - round(TAIL_SECONDS * SAMPLE_RATE))
    offset = min(round((start + LEAD_SECONDS) * SAMPLE_RATE), max(0, room - voice.shape[1]))
    voice = voice[:, : max(0, room - offset)].copy()
    fade = min(voice.shape[1], round(0.05 * SAMPLE_RATE))
    if fade:
        voice[:, voice.shape[1] - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    voice *= np.float32(_voice_gain(voice))
    placed = np.zeros_like(music)
    placed[:, offset : offset + voice.shape[1]] = voice
    mix = music * _duck_gain(placed) + placed
    # Merchant music peaks near −1 dBFS; with a voice on top the sum could clip. Rare, and a
    # whole-track trim is inaudible where a limiter would pump.
    peak = float(np.abs(mix).max(initial=0.0))
    if peak > 0.97:
        mix *= np.float32(0.97 / peak)
    return mix.astype(np.float32)


def decode(path: Path) -> np.ndarray:
    """An audio file as 2×n float32 samples at ``SAMPLE_RATE``. An AAC bed decodes to its
    nominal length (PyAV drops the encoder's priming samples)."""
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name}: no audio stream")
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name}: not a readable audio file ({exc})") from exc
    if not chunks:
        return np.zeros((2, 0), dtype=np.float32)
    return np.concatenate(chunks, axis=1).astype(np.float32)


def _duck_gain(voice: np.ndarray) -> np.ndarray:
    """The music's gain, sample by sample: ``DUCK_DB`` down wherever the voice speaks (gaps
    shorter than ``HOLD_SECONDS`` bridged), back to 1 elsewhere, with raised-cosine ramps
    of ``RAMP_SECONDS`` that start a little before the first word (the window is centred)."""
    block = SAMPLE_RATE // 100  # 10 ms
    n = voice.shape[1]
    blocks = math.ceil(n / block)
    mono = np.zeros(blocks * block, dtype=np.float32)
    mono[:n] = np.abs(voice).max(axis=0)
    level = np.sqrt(np.mean(mono.reshape(blocks, block) ** 2, axis=1))
    speaking = level > 10 ** (-45 / 20)
    hold = max(1, round(HOLD_SECONDS * 100))
    speaking = np.convolve(speaking.astype(np.float32), np.ones(hold), mode="same") > 0
    gain = np.where(speaking, np.float32(10 ** (DUCK_DB / 20)), np.float32(1.0))
    ramp = np.hanning(max(3, round(RAMP_SECONDS * 100)))
    padded = np.pad(gain, len(ramp), mode="edge")
    gain = np.convolve(padded, ramp / ramp.sum(), mode="same")[len(ramp) : -len(ramp)]
    centres = (np.arange(blocks) + 0.5) * block
    return np.interp(np.arange(n), centres, gain).astype(np.float32)


def _voice_gain(voice: np.ndarray) -> float:
    """A gain that brings speech to ``VOICE_RMS_DBFS`` (the RMS of its 10 ms blocks that are
    not pauses) with its peak at most ``VOICE_PEAK_DBFS``."""
    peak = float(np.abs(voice).max(initial=0.0))
    if peak <= 1e-5:
        return 1.0
    block = SAMPLE_RATE // 100
    usable = voice.shape[1] // block * block
    power = np.mean(voice[:, :usable].reshape(2, -1, block) ** 2, axis=(0, 2))
    spoken = power[power > max(power.max(), 1e-12) * 10 ** (-30 / 10)]
    rms_db = 10 * math.log10(float(spoken.mean())) if spoken.size else 20 * math.log10(peak)
    gain_db = min(VOICE_RMS_DBFS - rms_db, VOICE_PEAK_DBFS - 20 * math.log10(peak))
    return float(10 ** (gain_db / 20))
