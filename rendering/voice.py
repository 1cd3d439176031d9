"""Voice-over: the video's lines spoken over it, with the music ducked under the voice.

Optional and off by default (``SCENECART_VOICE = None``). When configured, like a render
backend::

    SCENECART_VOICE = {"BACKEND": "rendering.voice.OpenAISpeech",
                       "OPTIONS": {"api_key": "…", "voice": "alloy"}}

assembly calls ``voice_bed(video=…, bed=…, workdir=…)`` and muxes what it returns instead of
the music bed. The spoken line is what the video shows: the personalized scene's caption and
the offer's claim, read from the plans of the video's segments (so an LLM-written script is
spoken as it is shown). It starts with the scene, after the opening shot.

Two text-to-speech APIs (PROVIDERS.md, "Script and voice"): OpenAI's ``/v1/audio/speech`` and
ElevenLabs' ``/v1/text-to-speech/{voice_id}``; both answer MP3 bytes. Speech costs money per
character, so each (voice, line) is synthesized once and kept in storage: the other aspects of
the same variant, and every re-assembly, reuse it.

Mixing: both tracks are decoded with PyAV to 48 kHz stereo, the voice is brought to a speech
level, the bed's gain follows the voice (down by ``DUCK_DB`` while it speaks, through short
gaps between words, with smooth ramps either side), and the sum is encoded as AAC by
``audio.write_bed`` (the ffmpeg ``imageio-ffmpeg`` ships), atomically and probed.

A voice-over is an extra: if the provider fails (after its retries) or sends audio that does
not decode, the video is made with the music alone, and the failure is logged as an error.
"""

import hashlib
import inspect
import logging
import math
import random
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import av
import numpy as np
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.remote import FailureKind, ProviderFailure, retry_after_seconds
from videokit.audio import write_bed
from videokit.media import MediaError

from .models import Video

logger = logging.getLogger(__name__)

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
# TTS bills per character; a line is a caption and a claim, not a paragraph.
MAX_LINE_CHARS = 300
MAX_AUDIO_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class VoiceLine:
    text: str
    start: float  # seconds into the video where the scene, and so the voice, begins


class SpeechBackend:
    """A text-to-speech API over HTTP: how to ask (``speak``), shared retries and errors."""

    provider: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    default_voice: ClassVar[str] = ""
    suffix: ClassVar[str] = "mp3"

    def __init__(
        self,
        *,
        api_key: str = "",
        base_url: str = "",
        model: str = "",
        voice: str = "",
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 20.0,
    ) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/").removesuffix("/v1")
        self.model = model or self.default_model
        self.voice = voice or self.default_voice
        if not self.voice:
            raise ImproperlyConfigured(f"SCENECART_VOICE: {type(self).__name__} needs a voice.")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "Scenecart/1.0"

    @property
    def identity(self) -> str:
        """What makes a different recording of the same text: provider, model, voice."""
        return f"{self.provider}:{self.model}:{self.voice}"

    def __repr__(self) -> str:
        # Never the key.
        return f"<{type(self).__name__} {self.base_url} {self.identity}>"

    def speak(self, text: str) -> bytes:
        """The audio file of ``text`` being spoken."""
        raise NotImplementedError

    def post_audio(self, path: str, *, body: dict[str, Any], headers: dict[str, str]) -> bytes:
        """One synthesis, with retries of transient failures (429, 5xx, timeouts; Retry-After
        honoured) and errors classified as ``RemoteBackend.request`` classifies them; that
        helper decodes JSON, these APIs answer audio."""
        url = f"{self.base_url}{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.post(url, json=body, headers=headers, timeout=self.timeout)
                failure = self.classify(response)
            except requests.Timeout as exc:
                failure = self.failure("transient", f"timed out after {self.timeout:g} s: {exc}")
            except requests.ConnectionError as exc:
                failure = self.failure("transient", f"could not connect: {exc}")
            if failure is None:
                audio = response.content
                if not audio or response.headers.get("Content-Type", "").startswith(
                    ("application/json", "text/")
                ):
                    raise self.failure("invalid", "answered without audio")
                if len(audio) > MAX_AUDIO_BYTES:
                    raise self.failure("invalid", f"answered {len(audio)} bytes of audio")
                return audio
            if failure.final or attempt > self.retries:
                raise failure
            delay = (
                min(failure.retry_after, self.max_backoff)
                if failure.retry_after is not None
                else random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            )
            logger.warning(
                "%s POST %s: %s; retry %d of %d in %.1f s",
                self.provider, url, failure, attempt, self.retries, delay,
            )  # fmt: skip
            time.sleep(delay)

    def failure(self, kind: FailureKind, message: str, **extra: Any) -> ProviderFailure:
        return ProviderFailure(kind, message, provider=self.provider, **extra)

    def classify(self, response: requests.Response) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            return None
        message = _error_message(response)
        if status in (401, 403):
            return self.failure("auth", message, status=status)
        if status == 402:
            return self.failure("funds", message, status=status)
        if status in (408, 429) or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return self.failure("transient", message, status=status, retry_after=retry_after)
        return self.failure("invalid", message, status=status)


class OpenAISpeech(SpeechBackend):
    """OpenAI's speech endpoint (and the many servers that copy it): Bearer auth."""

    provider = "openai-tts"
    default_base_url = "https://api.openai.com"
    default_model = "tts-1"
    default_voice = "alloy"

    def speak(self, text: str) -> bytes:
        return self.post_audio(
            "/v1/audio/speech",
            body={
                "model": self.model,
                "input": text,
                "voice": self.voice,
                "response_format": "mp3",
            },
            headers={"Authorization": f"Bearer {self.api_key}"},
        )


class ElevenLabsSpeech(SpeechBackend):
    """ElevenLabs: the key in ``xi-api-key``, the voice id in the path; MP3 by default."""

    provider = "elevenlabs"
    default_base_url = "https://api.elevenlabs.io"
    default_model = "eleven_multilingual_v2"  # the locale decides the language, not the model

    def speak(self, text: str) -> bytes:
        return self.post_audio(
            f"/v1/text-to-speech/{quote(self.voice, safe='')}",
            body={"text": text, "model_id": self.model},
            headers={"xi-api-key": self.api_key, "Accept": "audio/mpeg"},
        )


def voice_backend() -> SpeechBackend | None:
    """The configured voice, built once per process; None when there is none."""
    return _build_voice()


def voice_bed(*, video: Video, bed: Path, workdir: Path) -> Path:
    """The audio assembly muxes: ``bed`` itself when no voice is configured (or the video has
    no line to speak, or the voice failed), else a new file in ``workdir``: the bed ducked
    under the spoken line, same length. ``bed`` is never modified (it is a shared, stored
    music bed)."""
    if voice_backend() is None:
        return bed
    line = voice_line(video=video)
    if not line.text:
        return bed
    try:
        speech = voice_audio(video=video, text=line.text, workdir=workdir)
        return mix_voice(bed=bed, voice=speech, start=line.start, out=workdir / "voiced-bed.m4a")
    except (ProviderFailure, MediaError) as exc:
        logger.error("Voice-over for video %s failed, made with the music alone: %s", video.pk, exc)
        return bed


def voice_line(*, video: Video) -> VoiceLine:
    """What the video shows as its lines, as one line to speak: the scene's caption, then the
    offer's claim; and when the scene begins."""
    caption = claim = ""
    start = at = 0.0
    found_scene = False
    for part in video.parts.select_related("segment").order_by("position"):
        plan = part.segment.plan or {}
        if plan.get("kind") == "scene" and not found_scene:
            found_scene, start, caption = True, at, str(plan.get("caption", ""))
        elif plan.get("kind") == "offer" and not claim:
            claim = str(plan.get("subcaption", ""))
        at += float(part.segment.duration or plan.get("seconds") or 0)
    sentences = [s.strip() for s in (caption, claim) if s.strip()]
    text = " ".join(s if re.search(r"[.!?…。！？]$", s) else f"{s}." for s in sentences)
    if len(text) > MAX_LINE_CHARS:
        text = text[: MAX_LINE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return VoiceLine(text=text, start=start)


def voice_audio(*, video: Video, text: str, workdir: Path) -> Path:
    """``text`` spoken by the configured voice, as an audio file in ``workdir``.

    Synthesized once per (voice, text) and kept in storage under the merchant (tenants never
    share files), so the variant's other aspects and every re-assembly reuse it. Only audio
    that decodes is kept. Raises ``ProviderFailure`` or ``MediaError``.
    """
    speaker = voice_backend()
    if speaker is None:
        raise ImproperlyConfigured("SCENECART_VOICE is not configured.")
    digest = hashlib.sha256(f"{speaker.identity}\n{text}".encode()).hexdigest()[:32]
    name = f"audio/voice/{video.product.merchant.slug}/{digest}.{speaker.suffix}"
    path = workdir / f"voice.{speaker.suffix}"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as stored:
            path.write_bytes(stored.read())
        return path
    path.write_bytes(speaker.speak(text))
    if _decode(path).shape[1] == 0:
        raise MediaError(f"{speaker.provider} sent audio without any sound in it")
    default_storage.save(name, ContentFile(path.read_bytes()))
    return path


def mix_voice(*, bed: Path, voice: Path, start: float, out: Path) -> Path:
    """The ducking step: ``bed`` with ``voice`` spoken from ``start`` seconds and the music
    ducked under it, written to ``out`` as AAC (atomically, probed) at the bed's length."""
    mixed = duck_and_mix(_decode(bed), _decode(voice), start=start)
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


def _decode(path: Path) -> np.ndarray:
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


@cache
def _build_voice() -> SpeechBackend | None:
    config = settings.SCENECART_VOICE
    if not config:
        return None
    unknown_keys = set(config) - {"BACKEND", "OPTIONS"}
    if unknown_keys:
        raise ImproperlyConfigured(
            f"SCENECART_VOICE has unknown keys: {', '.join(sorted(unknown_keys))}."
        )
    try:
        backend_class = import_string(config["BACKEND"])
    except (ImportError, KeyError) as exc:
        raise ImproperlyConfigured(f"SCENECART_VOICE['BACKEND'] cannot be imported: {exc}") from exc
    options = dict(config.get("OPTIONS") or {})
    accepted = {
        name
        for name, parameter in inspect.signature(backend_class.__init__).parameters.items()
        if name != "self"
        and parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ImproperlyConfigured(
            f"SCENECART_VOICE has options {backend_class.__name__} does not take: "
            f"{', '.join(unknown)}."
        )
    return backend_class(**options)  # type: ignore[no-any-return]


@receiver(setting_changed)
def _forget_voice(*, setting: str, **kwargs: object) -> None:
    if setting == "SCENECART_VOICE":
        _build_voice.cache_clear()


def _error_message(response: requests.Response) -> str:
    """The API's error text: OpenAI ``{"error": {"message"}}``, ElevenLabs
    ``{"detail": {"message"}}`` (or a plain ``detail``), else the HTTP reason."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        for key in ("error", "detail"):
            value = body.get(key)
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])[:300]
            if value:
                return str(value)[:300]
    return response.reason or f"HTTP {response.status_code}"
