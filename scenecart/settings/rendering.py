"""Rendering: the house format, render backends and AI providers, fallbacks, prices, and how
long renders and unused files are kept."""

import os
from typing import Any, NotRequired, TypedDict

from .env import Pluggable, env

# x264 settings of the house format: the local renderer encodes with them, and clips from any
# other backend are re-encoded with them once, when stored, so every segment concatenates.
SCENECART_HOUSE_ENCODER = {
    "preset": env.str("SCENECART_LOCAL_PRESET", default="veryfast"),
    "crf": env.int("SCENECART_LOCAL_CRF", default=21),
}
# Render backends, configured like STORAGES: alias -> dotted class path and its options.
SCENECART_BACKENDS: dict[str, Pluggable] = {
    "local": {
        "BACKEND": "providers.local.LocalBackend",
        "OPTIONS": dict(SCENECART_HOUSE_ENCODER),
    },
}
# AI video providers: each is configured when its key is in the environment (the variables
# their own SDKs read), under the alias on the left; SCENECART_<ALIAS>_BASE_URL and
# SCENECART_<ALIAS>_MODEL override the endpoint and the model.
PROVIDER_BACKENDS = {
    "kling": (
        "providers.kling.KlingBackend",
        ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
    ),
    "seedance": ("providers.seedance.SeedanceBackend", ("ARK_API_KEY",)),
    "minimax": ("providers.minimax.MiniMaxBackend", ("MINIMAX_API_KEY",)),
    "runway": ("providers.runway.RunwayBackend", ("RUNWAYML_API_SECRET",)),
    "veo": ("providers.veo.VeoBackend", ("GEMINI_API_KEY",)),
    "replicate": ("providers.replicate.ReplicateBackend", ("REPLICATE_API_TOKEN",)),
    "fal": ("providers.fal.FalBackend", ("FAL_KEY",)),
    "luma": ("providers.luma.LumaBackend", ("LUMAAI_API_KEY",)),
    "sora": ("providers.openai_videos.OpenAIVideosBackend", ("OPENAI_API_KEY",)),
}
for _alias, (_path, _keys) in PROVIDER_BACKENDS.items():
    _values = [env.str(name, default="") for name in _keys]
    if not all(_values):
        continue
    _options: dict[str, Any] = {"api_key": ":".join(_values)}
    for _option in ("base_url", "model"):
        _value = env.str(f"SCENECART_{_alias.upper()}_{_option.upper()}", default="")
        if _value:
            _options[_option] = _value
    SCENECART_BACKENDS[_alias] = {"BACKEND": _path, "OPTIONS": _options}
# More aliases, or other options, as JSON in the same shape, e.g. a second Replicate model:
# {"wan": {"BACKEND": "providers.replicate.ReplicateBackend",
#          "OPTIONS": {"api_key": "…", "model": "wan-video/wan-2.2-i2v-fast"}}}
SCENECART_BACKENDS.update(env.json("SCENECART_EXTRA_BACKENDS", default={}))
SCENECART_DEFAULT_BACKEND = env.str("SCENECART_DEFAULT_BACKEND", default="local")
# Where a provider that fails for good (not a moderation refusal) hands its segments, e.g.
# {"kling": ["seedance", "local"]}: tried in order, each backend once.
SCENECART_FALLBACKS = env.json("SCENECART_FALLBACKS", default={})
# Fernet key(s) that encrypt merchants' provider keys at rest (new key first when rotating);
# empty: derived from SECRET_KEY (then rotating SECRET_KEY makes stored keys unreadable).
SCENECART_ENCRYPTION_KEY = env.str("SCENECART_ENCRYPTION_KEY", default="")
# The public address of this installation, for provider webhooks; empty: polling only.
SCENECART_PUBLIC_URL = env.str("SCENECART_PUBLIC_URL", default="")
# What paid backends cost, in USD per second of rendered video, by backend alias, e.g.
# SCENECART_PRICES='{"kling": "0.07"}'. Estimates and merchants' monthly budgets use it; a
# backend it does not name costs what the backend itself says (the built-in renderer: 0).
SCENECART_PRICES = env.json("SCENECART_PRICES", default={})
# How many segments render at once across all workers: the bulk generation estimate divides
# the measured render time by it. Defaults to this machine's cores (one worker, -c cores).
SCENECART_RENDER_PARALLELISM = env.int("SCENECART_RENDER_PARALLELISM", default=os.cpu_count() or 1)
# A render still "rendering" after this long is taken to have crashed and may be claimed again.
SCENECART_RENDER_STALE_AFTER = env.int("SCENECART_RENDER_STALE_AFTER", default=30 * 60)


class HouseFormat(TypedDict):
    """One aspect's house format: videokit.job.OutputProfile's fields besides the aspect."""

    width: int
    height: int
    fps: NotRequired[int]
    codec: NotRequired[str]
    pix_fmt: NotRequired[str]
    timescale: NotRequired[int]


# The house format of each aspect: every segment of an aspect is encoded exactly like this.
SCENECART_PROFILES: dict[str, HouseFormat] = {
    "16:9": {"width": 1280, "height": 720, "fps": 30},
    "9:16": {"width": 1080, "height": 1920, "fps": 30},
    "1:1": {"width": 1080, "height": 1080, "fps": 30},
}
# Length in seconds of each segment kind of a video.
SCENECART_SEGMENT_SECONDS = {
    "hero": env.float("SCENECART_HERO_SECONDS", default=4.0),
    "scene": env.float("SCENECART_SCENE_SECONDS", default=8.0),
    "offer": env.float("SCENECART_OFFER_SECONDS", default=4.0),
    "outro": env.float("SCENECART_OUTRO_SECONDS", default=4.0),
}

# Unused segments and orphaned video files are deleted once older than this; the grace also
# covers renders and assemblies in flight (they store the file before the row names it).
SCENECART_HOUSEKEEPING_GRACE_HOURS = env.int("SCENECART_HOUSEKEEPING_GRACE_HOURS", default=24)
# The videos of a product archived this many days ago are deleted by the sweep (nothing of an
# archived product is served); its segments follow once no other video uses them. Until then,
# making the product active again serves its videos again without a render.
SCENECART_ARCHIVED_VIDEOS_DAYS = env.int("SCENECART_ARCHIVED_VIDEOS_DAYS", default=30)
