"""Words and voice: who writes a video's lines, and the optional voice-over."""

from .env import Pluggable, env

# Who writes a video's lines (scene caption and subcaption, offer claim), configured like a
# render backend. Default: the built-in template (product title, climate tagline, claim): no
# network, no cost. SCENECART_SCRIPT_LLM_MODEL turns on an LLM behind any OpenAI-compatible
# chat API at SCENECART_SCRIPT_LLM_URL (key: SCENECART_SCRIPT_LLM_API_KEY, else
# OPENAI_API_KEY); a failed or unusable answer falls back to the template's lines.
SCENECART_SCRIPT_WRITER: Pluggable = {
    "BACKEND": "personalization.scripts.TemplateWriter",
    "OPTIONS": {},
}
if env.str("SCENECART_SCRIPT_LLM_MODEL", default=""):
    SCENECART_SCRIPT_WRITER = {
        "BACKEND": "personalization.scripts.ChatScriptWriter",
        "OPTIONS": {
            "model": env.str("SCENECART_SCRIPT_LLM_MODEL"),
            "base_url": env.str("SCENECART_SCRIPT_LLM_URL", default="https://api.openai.com"),
            "api_key": env.str(
                "SCENECART_SCRIPT_LLM_API_KEY", default=env.str("OPENAI_API_KEY", default="")
            ),
        },
    }
# Voice-over (rendering/voice.py): a line spoken over the video, the music ducked under it.
# None (the default): no voice. SCENECART_VOICE_PROVIDER=openai (POST /v1/audio/speech; key
# SCENECART_VOICE_API_KEY, else OPENAI_API_KEY) or elevenlabs (key SCENECART_VOICE_API_KEY,
# else ELEVENLABS_API_KEY; SCENECART_VOICE_NAME is the voice id and is required);
# SCENECART_VOICE_URL, _MODEL and _NAME override the endpoint, the model and the voice.
SCENECART_VOICE: Pluggable | None = None
SCENECART_VOICE_PROVIDER = env.str("SCENECART_VOICE_PROVIDER", default="").lower()
_voice_options: dict[str, str] = {
    _option: _value
    for _option, _value in (
        ("base_url", env.str("SCENECART_VOICE_URL", default="")),
        ("model", env.str("SCENECART_VOICE_MODEL", default="")),
        ("voice", env.str("SCENECART_VOICE_NAME", default="")),
    )
    if _value
}
if SCENECART_VOICE_PROVIDER == "openai":
    SCENECART_VOICE = {
        "BACKEND": "providers.speech.OpenAISpeech",
        "OPTIONS": {
            "api_key": env.str(
                "SCENECART_VOICE_API_KEY", default=env.str("OPENAI_API_KEY", default="")
            ),
            **_voice_options,
        },
    }
elif SCENECART_VOICE_PROVIDER == "elevenlabs":
    # Without SCENECART_VOICE_NAME scenecart.checks says so; the backend refuses it too.
    SCENECART_VOICE = {
        "BACKEND": "providers.speech.ElevenLabsSpeech",
        "OPTIONS": {
            "api_key": env.str(
                "SCENECART_VOICE_API_KEY", default=env.str("ELEVENLABS_API_KEY", default="")
            ),
            **_voice_options,
        },
    }
