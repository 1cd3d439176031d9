"""Music beds: the file a video gets, how it is heard, and each aesthetic sounding like itself.

The measures are what a listener notices: loudness (RMS), brightness (spectral centroid) and
busyness (onsets a second). Their thresholds were set from measured values with a wide margin;
the measured values are in the comments.
"""

import itertools
import math
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from catalog.vocabulary import Aesthetic
from tests.support.frames import is_faststart
from videokit.audio import AESTHETIC_STYLES, bed_for, fit_music, music_bed, write_bed
from videokit.media import MediaError

RATE = 48000
AESTHETICS = ["", *Aesthetic.values]  # "" is the generic bed, for shoppers without one


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty directory of the test's own (tmp_path also holds the test's MEDIA_ROOT)."""
    path = tmp_path / "audio"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def beds() -> dict[str, np.ndarray]:
    return {aesthetic: music_bed(aesthetic=aesthetic, seconds=12) for aesthetic in AESTHETICS}


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def middle(samples: np.ndarray) -> np.ndarray:
    """Mono, without the fades: what plays while the video is under way."""
    return samples[int(1.5 * RATE) : len(samples) - int(1.5 * RATE)].mean(axis=1)


def centroid_hz(samples: np.ndarray) -> float:
    """Brightness: the power-weighted mean frequency."""
    mono = middle(samples)
    power = np.abs(np.fft.rfft(mono)) ** 2
    return float((np.fft.rfftfreq(len(mono), 1 / RATE) * power).sum() / power.sum())


def onsets_per_second(samples: np.ndarray) -> float:
    """Busyness: notes and hits a second.

    Spectral flux over half-octave bands (150 Hz – 12 kHz) in dB, lightly smoothed so the
    shimmer of a reverb tail does not count; an onset is a peak of at least 12 dB of summed
    rise over ~20 ms, and two within 50 ms are one.
    """
    mono = middle(samples)
    frame, hop = 2048, 256
    count = 1 + (len(mono) - frame) // hop
    windows = mono[np.arange(frame)[None, :] + hop * np.arange(count)[:, None]]
    power = np.abs(np.fft.rfft(windows * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1 / RATE)
    edges = 150 * 2 ** np.arange(0, 7, 0.5)
    bands = np.stack(
        [
            power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
            for lo, hi in itertools.pairwise(edges)
        ],
        axis=1,
    )
    level = 10 * np.log10(bands + bands.max() * 1e-5)
    kernel = np.ones(5) / 5
    level = np.stack([np.convolve(band, kernel, mode="same") for band in level.T], axis=1)
    flux = np.maximum(level[4:] - level[:-4], 0).sum(axis=1)
    peaks = np.flatnonzero((flux[1:-1] >= 12) & (flux[1:-1] >= flux[:-2]) & (flux[1:-1] > flux[2:]))
    onsets: list[int] = []
    for index in peaks + 1:
        if not onsets or index - onsets[-1] >= 0.05 * RATE / hop:
            onsets.append(int(index))
    return len(onsets) / (len(mono) / RATE)


def probe_audio(path: Path) -> tuple[str, int, int, float, int]:
    """Codec, sample rate, channels, duration (s) and the number of video streams."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(container.duration / av.time_base)
        codec = stream.codec_context
        return codec.name, codec.sample_rate, codec.channels, duration, len(container.streams.video)


def decode(path: Path) -> np.ndarray:
    """The decoded audio as float32 (n×2)."""
    with av.open(str(path)) as container:
        planes = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(planes, axis=1).T


def dominant_hz(samples: np.ndarray, start: float, end: float) -> float:
    mono = samples[int(start * RATE) : int(end * RATE)].mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / RATE)[spectrum.argmax()])


def write_wav(path: Path, tones: list[float], *, seconds_each: float, rate: int = 44100) -> None:
    """A 16-bit stereo WAV playing each tone in turn, quietly (peak −26 dBFS)."""
    t = np.arange(int(seconds_each * rate)) / rate
    mono = np.concatenate([0.05 * np.sin(2 * math.pi * hz * t) for hz in tones])
    pcm = (np.repeat(mono[:, None], 2, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def test_bed_file_is_aac_stereo_of_the_asked_length(folder: Path) -> None:
    out = bed_for(aesthetic="cozy", seconds=7.5, out=folder / "bed.m4a")

    assert out == folder / "bed.m4a"
    codec, sample_rate, channels, duration, videos = probe_audio(out)
    assert (codec, sample_rate, channels, videos) == ("aac", 48000, 2, 0)
    assert duration == pytest.approx(7.5, abs=0.1)
    assert is_faststart(out)
    assert [p.name for p in folder.iterdir()] == ["bed.m4a"]  # no temporary file left


@pytest.mark.parametrize("aesthetic", AESTHETICS)
def test_bed_is_heard_and_never_clips(beds: dict[str, np.ndarray], aesthetic: str) -> None:
    bed = beds[aesthetic]

    assert bed.dtype == np.float32
    assert bed.shape == (12 * RATE, 2)
    assert np.isfinite(bed).all()
    # Peaks at −3 dBFS (0.708); the middle's RMS is −14…−20 dBFS (0.10…0.20).
    assert 0.6 < np.abs(bed).max() < 1.0
    assert rms(middle(bed)) > 0.03


@pytest.mark.parametrize("aesthetic", AESTHETICS)
def test_bed_fades_in_and_out(beds: dict[str, np.ndarray], aesthetic: str) -> None:
    bed = beds[aesthetic]
    tenth = RATE // 10
    playing = rms(middle(bed))

    # Measured: the first and last 100 ms are 22–47 dB below the middle.
    assert rms(bed[:tenth]) < playing / 6
    assert rms(bed[-tenth:]) < playing / 6


def test_same_arguments_give_the_same_bed() -> None:
    first = music_bed(aesthetic="vintage", seconds=3, seed=7)

    assert np.array_equal(first, music_bed(aesthetic="vintage", seconds=3, seed=7))
    assert not np.array_equal(first, music_bed(aesthetic="vintage", seconds=3, seed=8))


def test_every_shopper_aesthetic_has_a_style_of_its_own() -> None:
    styles = [AESTHETIC_STYLES[value] for value in AESTHETICS]

    assert len({style.name for style in styles}) == len(AESTHETICS)
    assert AESTHETIC_STYLES[None] is AESTHETIC_STYLES[""]


def test_an_aesthetic_without_a_style_gets_the_generic_bed() -> None:
    assert np.array_equal(
        music_bed(aesthetic="steampunk", seconds=2), music_bed(aesthetic=None, seconds=2)
    )


def test_aesthetics_sound_different_from_each_other(beds: dict[str, np.ndarray]) -> None:
    measured = {a: (centroid_hz(bed), onsets_per_second(bed)) for a, bed in beds.items()}
    # Measured (centroid Hz, onsets/s): generic 439, 3.0; minimalist 363, 0.9; cozy 279, 2.1;
    # luxury 197, 0.2; outdoorsy 485, 7.8; playful 772, 8.3; vintage 210, 3.6. The closest
    # pairs are 1.3× apart in brightness (minimalist, cozy: also 1.2 onsets/s apart) or
    # 1.6× (outdoorsy, playful).
    alike = []
    for a, b in itertools.combinations(AESTHETICS, 2):
        (bright_a, busy_a), (bright_b, busy_b) = measured[a], measured[b]
        brighter = max(bright_a, bright_b) / min(bright_a, bright_b)
        if brighter < 1.15 and abs(busy_a - busy_b) < 0.6:
            alike.append((a or "generic", b, round(brighter, 2), round(abs(busy_a - busy_b), 2)))
    assert not alike, f"these sound alike: {alike}; all measured: {measured}"


def test_playful_is_busier_and_brighter_than_luxury(beds: dict[str, np.ndarray]) -> None:
    playful, luxury = beds["playful"], beds["luxury"]

    # Measured: 8.3 against 0.2 onsets a second, 772 Hz against 197 Hz.
    assert onsets_per_second(playful) > onsets_per_second(luxury) + 4
    assert centroid_hz(luxury) * 2 < centroid_hz(playful)


def test_merchant_music_shorter_than_the_video_is_looped(folder: Path) -> None:
    source = folder / "jingle.wav"
    write_wav(source, [440.0, 660.0, 880.0], seconds_each=1.0)  # 3 s at 44.1 kHz

    fit_music(source, folder / "music.m4a", seconds=5)

    codec, sample_rate, channels, duration, _ = probe_audio(folder / "music.m4a")
    assert (codec, sample_rate, channels) == ("aac", 48000, 2)
    assert duration == pytest.approx(5.0, abs=0.1)
    music = decode(folder / "music.m4a")
    # After the third second the jingle starts again from its first tone.
    assert dominant_hz(music, 1.2, 1.8) == pytest.approx(660, abs=5)
    assert dominant_hz(music, 3.2, 3.8) == pytest.approx(440, abs=5)
    # Faded in and out, and brought from −29 dBFS RMS up to about the loudness of our beds.
    assert rms(music[: RATE // 10]) < rms(music[RATE : 2 * RATE]) / 6
    assert rms(music[-RATE // 10 :]) < rms(music[RATE : 2 * RATE]) / 6
    assert -20 < 20 * math.log10(rms(music[RATE : 3 * RATE])) < -12
    assert sorted(p.name for p in folder.iterdir()) == ["jingle.wav", "music.m4a"]


def test_merchant_music_longer_than_the_video_is_cut(folder: Path) -> None:
    source = folder / "song.wav"
    write_wav(source, [330.0, 550.0], seconds_each=2.0)

    fit_music(source, folder / "music.m4a", seconds=3)

    assert probe_audio(folder / "music.m4a")[3] == pytest.approx(3.0, abs=0.1)


def test_merchant_file_that_is_not_music_is_refused_by_name(folder: Path) -> None:
    source = folder / "price-list.mp3"
    source.write_text("sku,price\nMUG-1,12.00\n")

    with pytest.raises(ValueError, match=r"price-list\.mp3"):
        bed_for(aesthetic="cozy", seconds=5, out=folder / "music.m4a", music=source)

    assert [p.name for p in folder.iterdir()] == ["price-list.mp3"]


def test_failed_encode_leaves_the_previous_bed_and_no_temporary_file(folder: Path) -> None:
    out = folder / "bed.m4a"
    write_bed(out, music_bed(aesthetic="minimalist", seconds=2))
    before = out.read_bytes()

    with pytest.raises(MediaError, match="ffmpeg failed"):
        write_bed(out, np.zeros((RATE, 2), dtype=np.float32), sample_rate=0)

    assert out.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["bed.m4a"]
