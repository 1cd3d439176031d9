"""Music beds: royalty-free music Scenecart plays itself, or the merchant's own track fitted.

Every shopper aesthetic has a ``BedStyle``: tempo, key, a chord progression that loops over
any length, and the parts a small band plays over it (pads, arpeggios, strums, bass,
percussion). The band is additive synthesis from wavetables with per-note envelopes, each
note one vectorized numpy expression; the low-pass is folded into the wavetables, the reverb
is one convolution in the frequency domain. 20 s of music takes well under half a second.

Beds are encoded as AAC in .m4a by the ffmpeg ``imageio-ffmpeg`` ships, written to a
temporary name beside the target, probed, then renamed: a half-written bed never exists.
"""

import logging
import math
import secrets
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import av
import numpy as np

from .media import MediaError, ffmpeg_exe

logger = logging.getLogger(__name__)

PEAK_DBFS = -3.0
FADE_IN_SECONDS = 0.5
FADE_OUT_SECONDS = 1.0
# Merchant music is brought to about the loudness of our own beds (their gated RMS is
# between -19 and -13 dBFS), with its peaks kept below -1 dBFS so AAC has room to overshoot.
MUSIC_RMS_DBFS = -16.0
MUSIC_PEAK_DBFS = -1.0
MUSIC_MAX_BOOST_DB = 20.0


@dataclass(frozen=True, slots=True)
class Timbre:
    """How one instrument sounds: harmonic partials shaped by an envelope.

    ``decay`` is the time for a struck note to fall by 1/e (None: held until released);
    ``detune_cents`` adds a second oscillator that far sharp, panned apart from the first,
    which is what makes pads wide and old keys warm.
    """

    partials: tuple[float, ...]  # amplitude of harmonic 1, 2, 3, …
    attack: float
    release: float
    decay: float | None = None
    detune_cents: float = 0.0


@dataclass(frozen=True, slots=True)
class Chord:
    """Semitones above the key's tonic: ``root`` for the bass, ``tones`` voiced for the hands."""

    root: int
    tones: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """One line of the band, playing the current chord.

    Each step of ``pattern`` lists indices into the chord's tones (``source="chord"``) or into
    root, fifth (``source="bass"``); an index past the end climbs an octave, a negative one
    drops. Several indices in one step sound together, ``strum`` seconds apart; ``None`` rests.
    """

    timbre: Timbre
    pattern: tuple[tuple[int, ...] | None, ...]
    step_beats: float
    gain: float
    octave: int = 0
    gate: float = 1.0  # how much of a step a note is held before it is released
    pan: float = 0.0  # -1 left … 1 right
    strum: float = 0.0
    accents: tuple[float, ...] = (1.0,)
    source: Literal["chord", "bass"] = "chord"


@dataclass(frozen=True, slots=True)
class Percussion:
    """Velocities on a sixteenth-note grid, one bar long; 0 is silence."""

    kick: tuple[float, ...] = ()
    tick: tuple[float, ...] = ()
    shaker: tuple[float, ...] = ()
    gain: float = 1.0


@dataclass(frozen=True, slots=True)
class Echo:
    """A ping-pong echo: repeats alternate left and right, each ``feedback`` times softer."""

    beats: float
    feedback: float
    mix: float


@dataclass(frozen=True, slots=True)
class BedStyle:
    """Everything that makes one aesthetic's music sound like itself."""

    name: str
    bpm: float
    tonic: int  # MIDI note number of the key's tonic
    progression: tuple[Chord, ...]
    beats_per_chord: float
    parts: tuple[Part, ...]
    brightness_hz: float  # cutoff of the one-pole low-pass over the whole band
    lowpass_poles: int = 1
    reverb_seconds: float = 1.5
    reverb_mix: float = 0.3
    echo: Echo | None = None
    percussion: Percussion | None = None
    swing: float = 0.0  # off-beat eighths arrive this fraction of an eighth late
    humanize: float = 0.004  # seconds of random lateness per note
    wow: float = 0.0  # tape speed wobble, as a fraction of pitch
    drive: float = 0.0  # tanh saturation: the warmth of old amplifiers
    crackle: float = 0.0  # vinyl clicks per second


# Instruments. Partial amplitudes fall off faster for mellow sounds, slower for bright ones.
_SOFT_KEYS = Timbre(partials=(1.0, 0.22, 0.06, 0.03), attack=0.004, release=0.5, decay=1.4)
_PIANO = Timbre(
    partials=(1.0, 0.6, 0.4, 0.25, 0.18, 0.12, 0.08, 0.05), attack=0.003, release=0.3, decay=0.9
)
_SOFT_PAD = Timbre(partials=(1.0, 0.3, 0.1), attack=1.0, release=1.5, detune_cents=6.0)
_WARM_PAD = Timbre(
    partials=(1.0, 0.25, 0.11, 0.06, 0.04, 0.03), attack=0.9, release=1.6, detune_cents=7.0
)
_NYLON = Timbre(partials=(1.0, 0.45, 0.22, 0.12, 0.06, 0.03), attack=0.004, release=0.35, decay=0.7)
_DEEP_PAD = Timbre(partials=(1.0, 0.4, 0.14, 0.05), attack=2.2, release=3.0, detune_cents=5.0)
_SUB = Timbre(partials=(1.0, 0.12), attack=0.06, release=1.2, decay=5.0)
# Basses carry a few harmonics so that phone speakers, which play no fundamental that low,
# still let the line be heard.
_ROUND_BASS = Timbre(partials=(1.0, 0.5, 0.25, 0.1), attack=0.01, release=0.15, decay=0.8)
_SHIMMER = Timbre(partials=(1.0, 0.05), attack=0.02, release=1.5, decay=2.2)
_STEEL = Timbre(
    partials=(1.0, 0.75, 0.55, 0.45, 0.32, 0.25, 0.18, 0.12, 0.08, 0.05),
    attack=0.002,
    release=0.08,
    decay=0.8,
)
_MALLET = Timbre(partials=(1.0, 0.08, 0.32, 0.04, 0.14), attack=0.002, release=0.04, decay=0.12)
_BOUNCY_BASS = Timbre(partials=(1.0, 0.4, 0.15), attack=0.003, release=0.05, decay=0.16)
_OLD_KEYS = Timbre(
    partials=(1.0, 0.6, 0.35, 0.22, 0.12, 0.08),
    attack=0.006,
    release=0.2,
    decay=1.1,
    detune_cents=11.0,
)
_OLD_ORGAN = Timbre(
    partials=(1.0, 0.5, 0.28, 0.0, 0.12, 0.0, 0.0, 0.08),
    attack=0.25,
    release=0.6,
    detune_cents=9.0,
)
_UPRIGHT = Timbre(partials=(1.0, 0.35, 0.12), attack=0.008, release=0.1, decay=0.6)

_WHOLE_CHORD = ((0, 1, 2, 3),)

GENERIC = BedStyle(
    name="generic",
    bpm=100,
    tonic=60,  # C major: I – V/B – vi – IV
    progression=(
        Chord(0, (0, 4, 7, 11)),
        Chord(-5, (-1, 2, 7, 11)),
        Chord(-3, (0, 4, 7, 9)),
        Chord(-7, (0, 5, 9, 12)),
    ),
    beats_per_chord=4,
    parts=(
        Part(_SOFT_PAD, _WHOLE_CHORD, step_beats=4, gain=0.07, octave=-1),
        # A rolling arpeggio climbing into the next octave: bright and forward-moving.
        Part(_PIANO, ((0,), (1,), (2,), (3,), (4,), (5,), (6,), (5,)), step_beats=0.5,
             gain=0.3, gate=2.0, pan=0.2, accents=(1.0, 0.7, 0.85, 0.7)),
        Part(_ROUND_BASS, ((0,), None, (1,), None), step_beats=1, gain=0.3, octave=-2,
             source="bass"),
    ),
    brightness_hz=6500,
    reverb_seconds=1.4,
    reverb_mix=0.25,
)  # fmt: skip

MINIMALIST = BedStyle(
    name="minimalist",
    bpm=72,
    tonic=62,  # D major, rootless ninth voicings: Dmaj9 – Bm11 – Gmaj9 – Asus
    progression=(
        Chord(0, (4, 7, 11, 14)),
        Chord(-3, (2, 4, 7, 9)),
        Chord(-7, (4, 7, 9, 12)),
        Chord(-5, (2, 4, 7, 12)),
    ),
    beats_per_chord=4,
    parts=(
        # A few soft plucks per bar with space between them; the echo fills the gaps.
        Part(_SOFT_KEYS, ((2,), None, None, (1,), None, None, (3,), None), step_beats=0.5,
             gain=0.4, gate=3.0, pan=-0.15),
        Part(_SOFT_PAD, _WHOLE_CHORD, step_beats=4, gain=0.05, octave=-1),
        Part(_SUB, ((0,),), step_beats=4, gain=0.25, octave=-2, source="bass"),
    ),
    brightness_hz=3500,
    reverb_seconds=2.0,
    reverb_mix=0.3,
    echo=Echo(beats=0.75, feedback=0.45, mix=0.35),
)  # fmt: skip

COZY = BedStyle(
    name="cozy",
    bpm=84,
    tonic=65,  # F major: Fmaj7 – Dm7 – Bbmaj7 – C7sus4
    progression=(
        Chord(0, (0, 4, 7, 11)),
        Chord(-3, (0, 4, 7, 9)),
        Chord(-7, (0, 5, 9, 16)),
        Chord(-5, (0, 2, 5, 7)),
    ),
    beats_per_chord=4,
    parts=(
        Part(_WARM_PAD, _WHOLE_CHORD, step_beats=4, gain=0.07, octave=-1),
        # Fingerpicked triplets in a guitar's register: a lilt, low and close.
        Part(_NYLON, ((0,), (1,), (2,), (3,), (4,), (2,)), step_beats=1 / 3, gain=0.38,
             octave=-1, gate=3.0, pan=0.25, accents=(1.0, 0.55, 0.7)),
        Part(_ROUND_BASS, ((0,), None, (1,), None), step_beats=1, gain=0.3, octave=-2,
             source="bass"),
    ),
    brightness_hz=1500,
    reverb_seconds=1.8,
    reverb_mix=0.3,
    drive=0.5,
)  # fmt: skip

LUXURY = BedStyle(
    name="luxury",
    bpm=60,
    tonic=48,  # C minor, low: Cm9 – Abmaj7 – Fm9 – G7sus4, two bars each
    progression=(
        Chord(0, (3, 7, 10, 14)),
        Chord(-4, (3, 7, 8, 12)),
        Chord(-7, (0, 3, 7, 8)),
        Chord(-5, (2, 5, 7, 12)),
    ),
    beats_per_chord=8,
    parts=(
        Part(_DEEP_PAD, _WHOLE_CHORD, step_beats=8, gain=0.2),
        Part(_SUB, ((0,),), step_beats=8, gain=0.5, octave=-1, source="bass"),
        # Shimmer: a slow, quiet high line two octaves up, far from the pads in the stereo field.
        Part(_SHIMMER, ((3,), (1,), (2,), None), step_beats=2, gain=0.12, octave=2, gate=1.5,
             pan=0.5),
    ),
    brightness_hz=1300,
    reverb_seconds=3.2,
    reverb_mix=0.45,
)  # fmt: skip

OUTDOORSY = BedStyle(
    name="outdoorsy",
    bpm=108,
    tonic=55,  # G major, open guitar shapes: G5add9 – Dsus2 – Em7 – Cadd9
    progression=(
        Chord(0, (0, 7, 12, 14, 19)),
        Chord(-5, (-5, 2, 7, 9, 14)),
        Chord(-3, (-3, 4, 7, 12, 16)),
        Chord(-7, (-7, -3, 0, 7, 9)),
    ),
    beats_per_chord=4,
    parts=(
        # Down, down-up, up-down-up: up-strums list the strings high to low.
        Part(_STEEL,
             ((0, 1, 2, 3, 4), None, (0, 1, 2, 3, 4), (4, 3, 2, 1), None, (4, 3, 2, 1),
              (0, 1, 2, 3, 4), (4, 3, 2, 1)),
             step_beats=0.5, gain=0.22, gate=1.0, strum=0.014,
             accents=(1.0, 0.0, 0.75, 0.5, 0.0, 0.6, 0.85, 0.5)),
        Part(_ROUND_BASS, ((0,), None, (1,), None), step_beats=1, gain=0.3, octave=-1,
             source="bass"),
    ),
    brightness_hz=7000,
    reverb_seconds=1.1,
    reverb_mix=0.2,
    percussion=Percussion(shaker=(0.5, 0.2, 0.8, 0.2) * 4, gain=0.12),
)  # fmt: skip

PLAYFUL = BedStyle(
    name="playful",
    bpm=128,
    tonic=72,  # C major, high and bouncy: C – Am – F – G
    progression=(
        Chord(0, (0, 4, 7)),
        Chord(-3, (0, 4, 9)),
        Chord(-7, (0, 5, 9)),
        Chord(-5, (-1, 2, 7)),
    ),
    beats_per_chord=4,
    parts=(
        Part(_MALLET, ((0,), (2,), (1,), (3,), (2,), (4,), (3,), (5,)), step_beats=0.5,
             gain=0.5, gate=0.5, accents=(1.0, 0.6, 0.8, 0.6)),
        Part(_MALLET, ((0, 1, 2),), step_beats=1, gain=0.1, octave=-1, gate=0.4, pan=-0.3,
             accents=(0.0, 1.0)),
        Part(_BOUNCY_BASS, ((0,), (1,), (2,), (1,)), step_beats=1, gain=0.35, octave=-2,
             gate=0.5, source="bass"),
    ),
    brightness_hz=9000,
    reverb_seconds=0.8,
    reverb_mix=0.15,
    percussion=Percussion(
        kick=(1, 0, 0, 0, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 0, 0, 0),
        tick=(0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5),
        shaker=(0.3, 0.15) * 8,
        gain=0.3,
    ),
    swing=0.12,
)  # fmt: skip

VINTAGE = BedStyle(
    name="vintage",
    bpm=92,
    tonic=58,  # B-flat major, a ii – V – I – vi turnaround: Cm7 – F9 – Bbmaj9 – Gm7
    progression=(
        Chord(2, (0, 5, 9, 14)),
        Chord(7, (-1, 2, 5, 9)),
        Chord(0, (-1, 2, 4, 7)),
        Chord(9, (0, 4, 7, 9)),
    ),
    beats_per_chord=4,
    parts=(
        Part(_OLD_ORGAN, _WHOLE_CHORD, step_beats=4, gain=0.07, octave=-1),
        # Comping stabs on two and the "and" of three, like a lazy rhythm section.
        Part(_OLD_KEYS, (None, None, _WHOLE_CHORD[0], None, None, _WHOLE_CHORD[0], None, None),
             step_beats=0.5, gain=0.14, gate=1.2, pan=0.2, strum=0.008),
        Part(_UPRIGHT, ((0,), (1,), (2,), (1,)), step_beats=1, gain=0.35, octave=-2,
             gate=0.9, source="bass"),
    ),
    brightness_hz=2200,
    lowpass_poles=2,
    reverb_seconds=1.3,
    reverb_mix=0.22,
    # Brushes on a snare, swung, as on an old jazz record.
    percussion=Percussion(shaker=(0.8, 0, 0.5, 0, 1.0, 0, 0.5, 0) * 2, gain=0.35),
    swing=0.2,
    humanize=0.008,
    wow=0.0025,
    drive=1.5,
    crackle=6.0,
)  # fmt: skip

AESTHETIC_STYLES: dict[str | None, BedStyle] = {
    None: GENERIC,
    "": GENERIC,
    "minimalist": MINIMALIST,
    "cozy": COZY,
    "luxury": LUXURY,
    "outdoorsy": OUTDOORSY,
    "playful": PLAYFUL,
    "vintage": VINTAGE,
}


def music_bed(
    *, aesthetic: str | None, seconds: float, sample_rate: int = 48000, seed: int = 0
) -> np.ndarray:
    """``seconds`` of the aesthetic's music as float32 stereo (n×2), peaking at −3 dBFS.

    The same arguments always give the same samples (the random humanizing is seeded).
    """
    if seconds <= 0:
        raise ValueError(f"a music bed needs a positive length, not {seconds} s")
    style = _style_for(aesthetic)
    rng = np.random.default_rng([seed, zlib.crc32(style.name.encode())])
    take = _Take(style, round(seconds * sample_rate), sample_rate, rng)
    for part in style.parts:
        take.play(part)
    if style.percussion is not None:
        take.play_percussion(style.percussion)
    band = take.mixdown()
    if style.wow:
        band = _wow(band, style.wow, sample_rate)
    mix = _room(band, style, rng, sample_rate)
    mix /= max(float(np.abs(mix).max()), 1e-9)
    if style.drive:
        mix = np.tanh(style.drive * mix) / math.tanh(style.drive)
    if style.crackle:
        _add_crackle(mix, style.crackle, rng, sample_rate)
    _fade(mix, sample_rate)
    peak = float(np.abs(mix).max())
    if peak > 0:
        mix *= 10 ** (PEAK_DBFS / 20) / peak
    return np.ascontiguousarray(mix.T, dtype=np.float32)


def write_bed(path: Path, samples: np.ndarray, *, sample_rate: int = 48000) -> None:
    """Encode float stereo samples (n×2) as AAC in an .m4a at ``path``, atomically."""
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"a bed is n×2 stereo samples, not an array of shape {samples.shape}")
    raw = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    # fmt: off
    with _atomic_m4a(path) as partial:
        _ffmpeg([
            "-f", "f32le", "-ar", str(sample_rate), "-ac", "2", "-i", "pipe:0",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(partial),
        ], stdin=raw)
        _verify_m4a(partial, seconds=len(samples) / sample_rate)
    # fmt: on


def fit_music(source: Path, out: Path, *, seconds: float, sample_rate: int = 48000) -> None:
    """Fit a merchant's track to the video: its first ``seconds`` (looped if shorter), faded,
    brought to the loudness of our own beds, written as AAC .m4a like ``write_bed``."""
    if seconds <= 0:
        raise ValueError(f"music needs a positive length, not {seconds} s")
    if not source.is_file():
        raise FileNotFoundError(f"{source.name}: no such music file")
    # fmt: off
    try:
        # Decode only what the video needs: an uploaded album track can be many minutes long.
        raw = _ffmpeg([
            "-i", str(source), "-map", "0:a:0", "-t", f"{seconds:.6f}",
            "-ac", "2", "-ar", str(sample_rate), "-f", "f32le", "pipe:1",
        ])
    except MediaError as exc:
        raise ValueError(f"{source.name} is not an audio file ffmpeg can read: {exc}") from exc
    # fmt: on
    track = np.frombuffer(raw, dtype="<f4").reshape(-1, 2).T.copy()
    if track.shape[1] == 0:
        raise ValueError(f"{source.name} has no audio in it")
    n = round(seconds * sample_rate)
    track = _loop(track, n, sample_rate) if track.shape[1] < n else track[:, :n]
    _fade(track, sample_rate)
    track *= _loudness_gain(track, sample_rate)
    write_bed(out, track.T, sample_rate=sample_rate)


def bed_for(*, aesthetic: str | None, seconds: float, out: Path, music: Path | None = None) -> Path:
    """The music of a video: the merchant's own track when they uploaded one, else ours."""
    if music is not None:
        fit_music(music, out, seconds=seconds)
    else:
        write_bed(out, music_bed(aesthetic=aesthetic, seconds=seconds))
    return out


# Synthesis.

_TABLE_BITS = 13  # 8192 samples a cycle: the top bits of a uint32 phase index the table
_TABLE_SIZE = 1 << _TABLE_BITS
_DETUNE_SPREAD = 0.35  # how far apart the two oscillators of a detuned note are panned


def _style_for(aesthetic: str | None) -> BedStyle:
    style = AESTHETIC_STYLES.get(aesthetic)
    if style is None:
        # A new aesthetic added to the vocabulary must not stop videos from being made;
        # it plays the generic bed until it gets its own.
        logger.warning("No music bed style for aesthetic %r; using the generic one", aesthetic)
        return GENERIC
    return style


@lru_cache(maxsize=1024)
def _wavetable(
    partials: tuple[float, ...], hz: float, brightness_hz: float, poles: int, sample_rate: int
) -> np.ndarray:
    """One cycle of a note's partials: a lookup replaces a sine per partial per sample.

    The band's low-pass is applied here, to each partial's amplitude: for a harmonic tone
    that is exactly what a filter does to it, and it costs nothing per sample. Partials past
    Nyquist are left out rather than folded back as noise. The table is scaled like the
    unfiltered tone (peak 1), so a duller note is also a softer one, as through a filter.
    """
    harmonics = np.arange(1, len(partials) + 1)
    heard = harmonics * hz < 0.45 * sample_rate
    a = 1 - math.exp(-2 * math.pi * brightness_hz / sample_rate)
    omega = 2 * math.pi * harmonics * hz / sample_rate
    lowpass = np.abs(a / (1 - (1 - a) * np.exp(-1j * omega))) ** poles
    sines = _harmonic_sines(len(partials))
    unfiltered = np.abs(np.asarray(partials) @ sines).max()
    wave = (np.asarray(partials) * lowpass * heard / unfiltered) @ sines
    return wave.astype(np.float32)


@lru_cache(maxsize=16)
def _harmonic_sines(count: int) -> np.ndarray:
    """One cycle of harmonics 1…count, one row each."""
    cycle = np.arange(_TABLE_SIZE)
    sine = np.sin(cycle * (2 * math.pi / _TABLE_SIZE))
    # sin(2π·k·i/N) is the base sine at k·i mod N: a gather instead of more sines.
    return sine[(np.arange(1, count + 1)[:, None] * cycle) % _TABLE_SIZE]


class _Take:
    """One performance of a style: the band plays into mono buses, one per stereo position,
    which are panned into stereo once at the end rather than for every note."""

    def __init__(self, style: BedStyle, n: int, sample_rate: int, rng: np.random.Generator) -> None:
        self.style = style
        self.n = n
        self.sample_rate = sample_rate
        self.rng = rng
        self.buses: dict[float, np.ndarray] = {}
        self.beat = 60.0 / style.bpm
        # The phase of every oscillator is a uint32 counter times its pitch: wrapping at 2^32
        # is the wrap of the cycle (a DDS phase accumulator), exact and cheap.
        self.counter = np.arange(n, dtype=np.uint32)
        self.ramp = self.counter.astype(np.float32)  # sample numbers, for envelopes

    def play(self, part: Part) -> None:
        style = self.style
        step = part.step_beats * self.beat
        for k in range(math.ceil(self.n / self.sample_rate / step) + 1):
            chosen = part.pattern[k % len(part.pattern)]
            velocity = part.accents[k % len(part.accents)]
            if not chosen or velocity <= 0:
                continue
            at_beat = k * part.step_beats
            chord = style.progression[
                int(at_beat // style.beats_per_chord) % len(style.progression)
            ]
            tones = chord.tones if part.source == "chord" else (chord.root, chord.root + 7)
            start = at_beat * self.beat + self.rng.uniform(0, style.humanize)
            if style.swing and math.isclose(at_beat % 1, 0.5):
                start += style.swing * self.beat / 2
            for j, index in enumerate(chosen):
                octaves, which = divmod(index, len(tones))
                note = style.tonic + 12 * (part.octave + octaves) + tones[which]
                self.note(
                    part.timbre,
                    start=start + j * part.strum,
                    hold=part.gate * step,
                    hz=440.0 * 2 ** ((note - 69) / 12),
                    gain=part.gain * velocity * self.rng.uniform(0.9, 1.0),
                    pan=part.pan,
                )

    def note(
        self, timbre: Timbre, *, start: float, hold: float, hz: float, gain: float, pan: float
    ) -> None:
        rate = self.sample_rate
        s0 = round(start * rate)
        seconds = hold + timbre.release
        if timbre.decay is not None:
            seconds = min(seconds, timbre.attack + 7 * timbre.decay)  # past −60 dB: inaudible
        s1 = min(self.n, s0 + round(seconds * rate))
        if s1 <= s0:
            return
        length = s1 - s0
        if timbre.decay is None:
            envelope = np.full(length, gain, dtype=np.float32)
        else:
            envelope = np.exp(self.ramp[:length] * np.float32(-1 / (timbre.decay * rate)))
            envelope *= np.float32(gain)
        rise = min(length, max(1, round(timbre.attack * rate)))
        ramp = np.linspace(0.0, 1.0, rise, dtype=np.float32)
        envelope[:rise] *= ramp * ramp * (3 - 2 * ramp)
        held = round(hold * rate)
        if held < length:
            fall = 1 - self.ramp[: length - held] * np.float32(1 / max(1.0, timbre.release * rate))
            envelope[held:] *= np.clip(fall, 0.0, 1.0) ** 2
        table = _wavetable(
            timbre.partials, hz, self.style.brightness_hz, self.style.lowpass_poles, rate
        )
        oscillators = [(hz, pan)]
        if timbre.detune_cents:
            oscillators = [
                (hz, max(-1.0, pan - _DETUNE_SPREAD)),
                (hz * 2 ** (timbre.detune_cents / 1200), min(1.0, pan + _DETUNE_SPREAD)),
            ]
        for freq, where in oscillators:
            cycles_per_sample = freq / rate
            phase = self.counter[:length] * np.uint32(round(cycles_per_sample * 2**32))
            phase += np.uint32(self.rng.integers(2**32))
            phase >>= 32 - _TABLE_BITS
            voice = table[phase]
            voice *= envelope
            bus = self.buses.get(where)
            if bus is None:
                bus = self.buses[where] = np.zeros(self.n, dtype=np.float32)
            bus[s0:s1] += voice

    def play_percussion(self, kit: Percussion) -> None:
        style = self.style
        sixteenth = self.beat / 4
        sounds = (
            (kit.kick, _kick(self.sample_rate), 0.0),
            (kit.tick, _tick(self.sample_rate), 0.35),
            (kit.shaker, _shaker(self.rng, self.sample_rate), -0.35),
        )
        for pattern, one_shot, pan in sounds:
            if not pattern:
                continue
            sound = _through_lowpass(one_shot, style, self.sample_rate)
            for k in range(math.ceil(self.n / self.sample_rate / sixteenth)):
                velocity = pattern[k % len(pattern)]
                if velocity <= 0:
                    continue
                start = k * sixteenth + self.rng.uniform(0, style.humanize)
                if style.swing and k % 4 == 2:
                    start += style.swing * sixteenth * 2
                s0 = round(start * self.sample_rate)
                s1 = min(self.n, s0 + len(sound))
                if s1 <= s0:
                    continue
                bus = self.buses.get(pan)
                if bus is None:
                    bus = self.buses[pan] = np.zeros(self.n, dtype=np.float32)
                scale = kit.gain * velocity * self.rng.uniform(0.85, 1.0)
                bus[s0:s1] += sound[: s1 - s0] * np.float32(scale)

    def mixdown(self) -> np.ndarray:
        band = np.zeros((2, self.n), dtype=np.float32)
        for pan, bus in self.buses.items():
            left, right = _pan_gains(pan)
            band[0] += bus * np.float32(left)
            band[1] += bus * np.float32(right)
        return band


def _wow(band: np.ndarray, depth: float, sample_rate: int) -> np.ndarray:
    """A worn turntable: the whole band read back at a speed that drifts by ``depth``, slowly.

    Linear interpolation dulls the very top a little, which this style wants anyway.
    """
    rate = 0.55  # Hz
    ticks = np.arange(band.shape[1], dtype=np.float64)
    omega = 2 * math.pi * rate / sample_rate
    # Reading position = time + ∫ depth·cos: speed is 1 + depth·cos(ωt).
    where = ticks + depth / omega * np.sin(omega * ticks)
    return np.stack([np.interp(where, ticks, channel) for channel in band]).astype(np.float32)


def _pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power panning: a sound keeps its loudness as it moves across."""
    angle = (pan + 1) * math.pi / 4
    return math.cos(angle) * math.sqrt(2), math.sin(angle) * math.sqrt(2)


def _through_lowpass(sound: np.ndarray, style: BedStyle, sample_rate: int) -> np.ndarray:
    """A one-shot through the band's low-pass, so the drums sit in the same room as the notes
    (which get it in their wavetables). Zero-padded so the filter's tail does not wrap."""
    size = 2 * len(sound)
    cycles = np.arange(size // 2 + 1) / size
    a = 1 - math.exp(-2 * math.pi * style.brightness_hz / sample_rate)
    lowpass = (a / (1 - (1 - a) * np.exp(-2j * math.pi * cycles))) ** style.lowpass_poles
    return np.fft.irfft(np.fft.rfft(sound, size) * lowpass, size)[: len(sound)].astype(np.float32)


def _kick(sample_rate: int) -> np.ndarray:
    """A soft, round thump: a sine sweeping down from 120 to 50 Hz."""
    t = np.arange(round(0.35 * sample_rate)) / sample_rate
    phase = 2 * math.pi * (50 * t + 70 * 0.03 * (1 - np.exp(-t / 0.03)))
    return (np.sin(phase) * np.exp(-t / 0.12)).astype(np.float32)


def _tick(sample_rate: int) -> np.ndarray:
    """A wood-block tick: two damped high sines."""
    t = np.arange(round(0.06 * sample_rate)) / sample_rate
    tone = np.sin(2 * math.pi * 1900 * t) + 0.5 * np.sin(2 * math.pi * 2950 * t)
    return (tone * np.exp(-t / 0.012) / 1.5).astype(np.float32)


def _shaker(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A shaker grain: high-passed noise (a first difference) with a quick swell and decay."""
    t = np.arange(round(0.08 * sample_rate)) / sample_rate
    noise = np.diff(rng.standard_normal(len(t) + 1))
    envelope = np.minimum(t / 0.006, 1.0) * np.exp(-t / 0.025)
    return (noise * envelope * 0.5).astype(np.float32)


def _room(
    band: np.ndarray, style: BedStyle, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """The band in a room: echo repeats, then a stereo reverb tail added to the dry sound.

    The reverb is a convolution done in the frequency domain on the zero-padded mid signal,
    so circular equals linear. Its impulse response is drawn at a quarter of the sample
    rate: a tail above 6 kHz would only hiss, and the response's transform is then a
    quarter of the size while its bins are still the lowest bins of the full transform.
    """
    n = band.shape[1]
    send = (band[0] + band[1]) * np.float32(0.5)
    mix = band.copy()
    if style.echo is not None:
        delay = round(style.echo.beats * 60.0 / style.bpm * sample_rate)
        level = style.echo.mix
        # Odd repeats on the right, even ones on the left: a ping-pong, to −60 dB.
        for repeat in range(1, math.ceil(math.log(1e-3) / math.log(style.echo.feedback)) + 1):
            shift = repeat * delay
            if shift >= n:
                break
            level *= style.echo.feedback
            mix[repeat % 2, shift:] += send[: n - shift] * np.float32(level)
        send = (mix[0] + mix[1]) * np.float32(0.5)
    size = 4 * _fft_size(math.ceil((n + style.reverb_seconds * sample_rate) / 4))
    response = np.fft.rfft(_impulse_response(style, rng, sample_rate // 4), size // 4, axis=1)
    spectrum = np.fft.rfft(send, size)[: response.shape[1]]
    # Taper the top fifth of the tail's band rather than cutting it off, which would ring.
    bins = response.shape[1]
    response[:, bins - bins // 5 :] *= np.cos(np.linspace(0, math.pi / 2, bins // 5)) ** 2
    wet = np.zeros((2, size // 2 + 1), dtype=np.complex64)
    wet[:, :bins] = response * spectrum * np.float32(style.reverb_mix)
    mix += np.fft.irfft(wet, size, axis=1)[:, :n]
    return mix


def _impulse_response(style: BedStyle, rng: np.random.Generator, rate: int) -> np.ndarray:
    """A room: exponentially decaying noise, different in each ear so the tail is wide."""
    length = round(style.reverb_seconds * rate)
    t = np.arange(length) / rate
    predelay = 0.02
    envelope = np.exp(-6.9 * t / style.reverb_seconds) * np.clip((t - predelay) / 0.01, 0, 1)
    noise = rng.standard_normal((2, length + 1))
    response = (noise[:, 1:] + noise[:, :-1]) * envelope  # a two-tap average: a darker room
    # Unit energy: at mix 1 the reverb is about as loud as the dry sound.
    response /= np.sqrt((response**2).sum(axis=1, keepdims=True))
    return response.astype(np.float32)


def _fft_size(minimum: int) -> int:
    """The smallest 2^a·3^b·5^c at least ``minimum``: FFTs of such sizes are fast."""
    best = 1 << max(0, (minimum - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            size = power35
            while size < minimum:
                size *= 2
            best = min(best, size)
            power35 *= 3
        power5 *= 5
    return best


def _add_crackle(
    mix: np.ndarray, per_second: float, rng: np.random.Generator, sample_rate: int
) -> None:
    """Vinyl dust: sparse, short clicks of decaying noise, mostly faint, now and then a pop."""
    n = mix.shape[1]
    count = rng.poisson(per_second * n / sample_rate)
    for at in rng.integers(0, n, size=count):
        length = int(rng.integers(6, 40))
        level = 0.004 + 0.03 * rng.exponential(0.5)
        click = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4)) * level
        end = min(n, at + length)
        mix[0, at:end] += (click * rng.uniform(0.5, 1.0))[: end - at]
        mix[1, at:end] += (click * rng.uniform(0.5, 1.0))[: end - at]


def _fade(track: np.ndarray, sample_rate: int) -> None:
    """Raised-cosine fade-in and fade-out, in place; short tracks get proportionally shorter
    fades so some of the music is still heard at full level."""
    n = track.shape[1]
    seconds = n / sample_rate
    for length, rising in (
        (round(min(FADE_IN_SECONDS, seconds / 4) * sample_rate), True),
        (round(min(FADE_OUT_SECONDS, seconds / 3) * sample_rate), False),
    ):
        if length < 2:
            continue
        curve = np.sin(np.linspace(0.0, math.pi / 2, length, dtype=np.float32)) ** 2
        if rising:
            track[:, :length] *= curve
        else:
            track[:, n - length :] *= curve[::-1]


# Merchant music.


def _loop(track: np.ndarray, n: int, sample_rate: int) -> np.ndarray:
    """Repeat a short track to ``n`` samples, with 10 ms fades at each seam so it does not
    click (the very first and last of them vanish under the bed's own fades)."""
    length = track.shape[1]
    seam = min(round(0.01 * sample_rate), length // 4)
    piece = track.copy()
    if seam >= 2:
        ramp = np.linspace(0.0, 1.0, seam, dtype=np.float32)
        piece[:, :seam] *= ramp
        piece[:, length - seam :] *= ramp[::-1]
    return np.tile(piece, (1, math.ceil(n / length)))[:, :n]


def _loudness_gain(track: np.ndarray, sample_rate: int) -> float:
    """A gain that brings the track to ``MUSIC_RMS_DBFS`` without pushing peaks past
    ``MUSIC_PEAK_DBFS``.

    Loudness is the RMS of the 400 ms blocks that are not near-silent (the absolute and
    relative gates of ITU-R BS.1770, without its K-weighting), so quiet intros and the
    fades do not make a track count as quieter than it sounds.
    """
    block = round(0.4 * sample_rate)
    usable = track.shape[1] // block * block
    if usable == 0:
        power = np.array([np.mean(track**2)])
    else:
        power = np.mean(track[:, :usable].reshape(2, -1, block) ** 2, axis=(0, 2))
    loud = power[power > 10 ** (-70 / 10)]
    if loud.size == 0:
        return 1.0  # silence stays silence; nothing to bring up
    loud = loud[loud > loud.mean() * 10 ** (-10 / 10)]
    rms_db = 10 * math.log10(float(loud.mean()))
    peak = float(np.abs(track).max())
    gain_db = min(MUSIC_RMS_DBFS - rms_db, MUSIC_PEAK_DBFS - 20 * math.log10(peak))
    return 10 ** (min(gain_db, MUSIC_MAX_BOOST_DB) / 20)


# Files.


@contextmanager
def _atomic_m4a(path: Path) -> Iterator[Path]:
    """A temporary .m4a beside ``path``, renamed onto it only if the block succeeds."""
    # Same directory, so the rename cannot cross file systems; a random name, so two workers
    # writing the same bed do not share a partial file; the .m4a suffix tells ffmpeg which
    # muxer to use. ffmpeg creates it, with the usual permissions (mkstemp's would be 0600).
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.m4a")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def _ffmpeg(args: list[str], *, stdin: bytes | None = None) -> bytes:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    if stdin is None:
        # Without this ffmpeg would read the worker's own stdin, waiting for keystrokes.
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    else:
        result = subprocess.run(command, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip()[-800:]
        raise MediaError(f"ffmpeg failed ({result.returncode}): {tail}")
    return result.stdout


def _verify_m4a(path: Path, *, seconds: float, tolerance: float = 0.1) -> None:
    """Probe the encoded file: an AAC stream of the length we meant to write."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name}: no audio stream")
            codec = container.streams.audio[0].codec_context.name
            duration = float(container.duration / av.time_base) if container.duration else 0.0
    except av.FFmpegError as exc:
        raise MediaError(f"{path.name}: not a readable audio file ({exc})") from exc
    if codec != "aac" or abs(duration - seconds) > tolerance:
        raise MediaError(
            f"{path.name}: {codec} audio of {duration:.3f} s, expected aac of {seconds:.3f} s"
        )
