"""Text-to-speech over HTTP: the voice-over's adapters, one class per provider API.

Configured like a render backend (``SCENECART_VOICE = {"BACKEND":
"providers.speech.OpenAISpeech", "OPTIONS": {…}}``) and built by ``rendering.voice``; this
module only knows how to ask, so it holds no state and imports nothing of the rendering core.

Two APIs (PROVIDERS.md, "Script and voice"): OpenAI's ``/v1/audio/speech`` and ElevenLabs'
``/v1/text-to-speech/{voice_id}``; both answer MP3 bytes. Failures are classified into the
same ``ProviderFailure`` kinds the video providers use (``providers/remote.py``), so the
caller treats a refused key or an outage the same way whichever API it was.
"""

import logging
import random
import time
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from django.core.exceptions import ImproperlyConfigured

from .remote import FailureKind, ProviderFailure, retry_after_seconds

logger = logging.getLogger(__name__)

# A spoken line is a few seconds of MP3; anything this big is not one.
MAX_AUDIO_BYTES = 20 * 1024 * 1024


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
