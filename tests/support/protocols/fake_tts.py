"""Two text-to-speech APIs, as PROVIDERS.md documents them, on one fake server:

- OpenAI: ``POST /v1/audio/speech``, Bearer auth, ``{"model", "input", "voice",
  "response_format"}`` → the audio bytes; errors as ``{"error": {"message", "type"}}``;
- ElevenLabs: ``POST /v1/text-to-speech/{voice_id}``, the key in ``xi-api-key``,
  ``{"text", "model_id"}`` → MP3 bytes; errors as ``{"detail": {"status", "message"}}``.

Both answer with the real audio the test made (``audio``), and record what was spoken.
"""

from .server import Answer, FakeProvider, Recorded

OPENAI_KEY = "sk-tts-test"
ELEVEN_KEY = "xi-test"
ELEVEN_VOICE = "21m00Tcm4TlvDq8ikWAM"
OPENAI_VOICES = {"alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"}
OPENAI_FORMATS = {"mp3", "opus", "aac", "flac", "wav", "pcm"}


class FakeTTS(FakeProvider):
    routes = (
        ("POST", r"/v1/audio/speech", "openai_speech"),
        ("POST", r"/v1/text-to-speech/(?P<voice_id>[^/]+)", "eleven_speech"),
    )

    def __init__(self, audio: bytes) -> None:
        super().__init__(mp4=b"")
        self.audio = audio
        self.spoken: list[str] = []

    def openai_error(self, status: int, message: str) -> Answer:
        return status, {"error": {"message": message, "type": "invalid_request_error"}}, {}

    def openai_speech(self, request: Recorded) -> Answer:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return self.openai_error(401, "Incorrect API key provided")
        self.require_fields(
            request.body,
            required={"model", "input", "voice"},
            allowed={"model", "input", "voice", "response_format", "speed", "instructions"},
            error=lambda message: self.openai_error(400, message),
        )
        body = request.body
        if body["model"] not in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"):
            return self.openai_error(400, f"unknown model {body['model']!r}")
        if body["voice"] not in OPENAI_VOICES:
            return self.openai_error(400, f"unknown voice {body['voice']!r}")
        if body.get("response_format", "mp3") not in OPENAI_FORMATS:
            return self.openai_error(400, "response_format is invalid")
        if not isinstance(body["input"], str) or not 0 < len(body["input"]) <= 4096:
            return self.openai_error(400, "input must be 1 to 4096 characters")
        self.spoken.append(body["input"])
        return 200, self.audio, {"Content-Type": "audio/mpeg"}

    def eleven_error(self, status: int, code: str, message: str) -> Answer:
        return status, {"detail": {"status": code, "message": message}}, {}

    def eleven_speech(self, request: Recorded, voice_id: str) -> Answer:
        if request.headers.get("xi-api-key") != ELEVEN_KEY:
            return self.eleven_error(401, "invalid_api_key", "Invalid API key")
        if voice_id != ELEVEN_VOICE:
            return self.eleven_error(404, "voice_not_found", f"A voice with id {voice_id} ...")
        self.require_fields(
            request.body,
            required={"text"},
            allowed={"text", "model_id", "voice_settings", "language_code", "seed"},
            error=lambda message: self.eleven_error(422, "invalid_request", message),
        )
        text = request.body["text"]
        if not isinstance(text, str) or not text.strip():
            return self.eleven_error(422, "invalid_request", "text must not be empty")
        self.spoken.append(text)
        return 200, self.audio, {"Content-Type": "audio/mpeg"}
