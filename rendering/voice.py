"""Voice-over: the video's lines spoken over it, with the music ducked under the voice.

Optional and off by default (``SCENECART_VOICE = None``). When configured, like a render
backend::

    SCENECART_VOICE = {"BACKEND": "providers.speech.OpenAISpeech",
                       "OPTIONS": {"api_key": "…", "voice": "alloy"}}

assembly calls ``voice_bed(video=…, bed=…, workdir=…)`` and muxes what it returns instead of
the music bed. The spoken line is what the video shows: the personalized scene's caption and
the offer's claim, read from the plans of the video's segments (so an LLM-written script is
spoken as it is shown). It starts with the scene, after the opening shot.

This module decides what is said, by whom, and what is kept; the text-to-speech APIs are
``providers/speech.py`` and the ducking is ``videokit/mixing.py``. Speech costs money per
character, so each (voice, line) is synthesized once and kept in storage: the other aspects
of the same variant, and every re-assembly, reuse it.

A voice-over is an extra: if the provider fails (after its retries) or sends audio that does
not decode, the video is made with the music alone, and the failure is logged as an error.
"""

import hashlib
import inspect
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.remote import ProviderFailure
from providers.speech import SpeechBackend
from videokit.media import MediaError
from videokit.mixing import decode, mix_voice

from .models import Video

logger = logging.getLogger(__name__)

# TTS bills per character; a line is a caption and a claim, not a paragraph.
MAX_LINE_CHARS = 300


@dataclass(frozen=True, slots=True)
class VoiceLine:
    text: str
    start: float  # seconds into the video where the scene, and so the voice, begins


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
    if decode(path).shape[1] == 0:
        raise MediaError(f"{speaker.provider} sent audio without any sound in it")
    default_storage.save(name, ContentFile(path.read_bytes()))
    return path


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
    return backend_class(**options)


@receiver(setting_changed)
def _forget_voice(*, setting: str, **kwargs: object) -> None:
    if setting == "SCENECART_VOICE":
        _build_voice.cache_clear()
