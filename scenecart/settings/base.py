"""Settings shared by every entry point, read from the environment.

Every setting has an embedded default that needs no service: SQLite, files under ``./media``
and a Celery broker kept in files under ``./var``. Set ``DATABASE_URL``, ``REDIS_URL`` and
``SCENECART_STORAGE=s3`` (with ``AWS_*``) to run on PostgreSQL, Redis and S3 instead; the code
path is the same. The README lists every variable.
"""

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "scenecart.apps.ScenecartAdminConfig",  # django.contrib.admin with the merchant dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "catalog",
    "personalization",
    "rendering",
    "storefront",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scenecart.urls"
WSGI_APPLICATION = "scenecart.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: WAL lets readers run beside the one
    # writer, IMMEDIATE transactions take the write lock up front instead of failing on upgrade,
    # and the timeout makes a writer wait rather than raise "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------------------
STATIC_URL = env.str("STATIC_URL", default="/static/")
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

SCENECART_STORAGE = env.str("SCENECART_STORAGE", default="local")
if SCENECART_STORAGE == "s3":
    _default_storage = {
        # Private objects presigned, the published prefixes through the CDN (scenecart.storage).
        "BACKEND": "scenecart.storage.MediaStorage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default=None),
            "location": env.str("AWS_LOCATION", default=""),
            # Objects stay private; browsers get short-lived presigned URLs, except for the
            # published prefixes when a CDN serves them (AWS_S3_CUSTOM_DOMAIN).
            "default_acl": None,
            "querystring_auth": env.bool("AWS_QUERYSTRING_AUTH", default=True),
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
            # Without it botocore presigns with SigV2 in us-east-1, which newer buckets and
            # SSE-KMS objects refuse (boto/boto3#2680).
            "signature_version": env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
        },
    }
elif SCENECART_STORAGE == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(
        f"SCENECART_STORAGE={SCENECART_STORAGE!r} is not supported: use 'local' or 's3'."
    )
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Cache -----------------------------------------------------------------------------------
# Shared by the web processes and the workers: the storefront's variant tables (a worker that
# finishes a video drops the entry, so shoppers see it at once), weather per grid cell, and the
# API's rate limits. Redis when REDIS_URL (or CACHE_URL) is set; otherwise files under
# SCENECART_VAR_DIR, which every process on the machine shares.
_cache_url = env.str("CACHE_URL", default=env.str("REDIS_URL", default=""))
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "scenecart",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(
                Path(str(env.path("SCENECART_VAR_DIR", default=BASE_DIR / "var"))) / "cache"
            ),
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# --- Storefront API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The public API is anonymous: shoppers are named by signed tokens, merchants' servers by
    # their storefront secret (storefront.api.MerchantSecretAuthentication).
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "storefront.api.json_exception_handler",
    # Client addresses for rate limits: REMOTE_ADDR, or the address this many proxies in
    # front of Django put in X-Forwarded-For.
    "NUM_PROXIES": env.int("SCENECART_NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "events": env.str("SCENECART_EVENTS_RATE", default="600/min"),
        "shopper_tokens": env.str("SCENECART_TOKENS_RATE", default="1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Scenecart storefront API",
    "DESCRIPTION": (
        "Personalized product videos: the variant that fits a shopper, playback events, "
        "and signed shopper tokens for merchants' servers."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}
# Seconds a product's table of variants is cached for the video lookup. Rendering drops the
# entry when a video changes, so this only bounds staleness when that drop cannot reach every
# web process.
SCENECART_LOOKUP_CACHE_SECONDS = env.int("SCENECART_LOOKUP_CACHE_SECONDS", default=10)
# Video lookups a client address may make per window (storefront/ratelimit.py), like
# "1200/min" (s, min, h, day); past it the lookup answers 429 with Retry-After. Behind a CDN
# the address is the CDN's edge unless SCENECART_NUM_PROXIES is set. "" or "0": no limit.
SCENECART_LOOKUP_RATE = env.str("SCENECART_LOOKUP_RATE", default="1200/min")
# Each web process also keeps those reads this long (scenecart/cache.py), so a busy product's
# lookup makes no cache round trip; a change reaches other processes within this time.
SCENECART_LOCAL_CACHE_SECONDS = env.float("SCENECART_LOCAL_CACHE_SECONDS", default=1.0)
# How long a shopper token is valid when the merchant's server does not say.
SCENECART_SHOPPER_TOKEN_TTL = env.int("SCENECART_SHOPPER_TOKEN_TTL", default=24 * 60 * 60)
# Today's weather refines a shopper's climate where the CDN sends their coordinates.
SCENECART_WEATHER_PROVIDER = env.str("SCENECART_WEATHER_PROVIDER", default="open-meteo")
SCENECART_WEATHER_URL = env.str(
    "SCENECART_WEATHER_URL", default="https://api.open-meteo.com/v1/forecast"
)
SCENECART_WEATHER_TIMEOUT = env.float("SCENECART_WEATHER_TIMEOUT", default=0.3)
SCENECART_WEATHER_CACHE_SECONDS = env.int("SCENECART_WEATHER_CACHE_SECONDS", default=30 * 60)

# --- Catalog imports ----------------------------------------------------------------------
# Images named by URL in merchants' feeds are fetched by workers (catalog/fetch.py). Hosts
# listed here may resolve to loopback or private addresses (tests, a feed server on the LAN);
# every other host that does is refused.
SCENECART_FETCH_ALLOWED_HOSTS = env.list("SCENECART_FETCH_ALLOWED_HOSTS", default=[])
SCENECART_FETCH_TIMEOUT = env.float("SCENECART_FETCH_TIMEOUT", default=10.0)
SCENECART_FETCH_MAX_BYTES = env.int("SCENECART_FETCH_MAX_BYTES", default=25 * 1024 * 1024)
SCENECART_FETCH_RETRIES = env.int("SCENECART_FETCH_RETRIES", default=2)

# --- Celery -----------------------------------------------------------------------------------
# Without Redis the broker is kombu's filesystem transport: a real worker process takes tasks
# from files under SCENECART_VAR_DIR, so the demo runs with nothing but Python installed.
SCENECART_VAR_DIR = env.path("SCENECART_VAR_DIR", default=BASE_DIR / "var")
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost//")


def broker_transport_options(broker_url: str, var_dir: Path) -> dict[str, object]:
    if broker_url.startswith("filesystem://"):
        folder = Path(var_dir) / "broker"
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            # The default 1 s poll would add a second to every hop (render → assemble).
            "polling_interval": 0.2,
        }
    # Longer than the longest render, so a slow render is not redelivered to a second worker.
    return {"visibility_timeout": 2 * 60 * 60}


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL, SCENECART_VAR_DIR)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Task state lives on Segment and Video rows, which is what every caller reads.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "rendering.render_segment": {"queue": "render.local"},
    "rendering.assemble_video": {"queue": "assemble"},
    "rendering.plan_video": {"queue": "default"},
    "rendering.submit_bulk_job": {"queue": "default"},
    "rendering.submit_segment": {"queue": "render.remote"},
    "rendering.poll_segment": {"queue": "render.remote"},
    "rendering.requeue_stale_work": {"queue": "default"},
    "rendering.sync_publication": {"queue": "default"},
    "catalog.cutout_product_image": {"queue": "default"},
    "catalog.fetch_product_image": {"queue": "default"},
}
SCENECART_WORKER_QUEUES = "default,render.local,render.remote,assemble"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False

# --- Scenecart --------------------------------------------------------------------------------
# x264 settings of the house format: the local renderer encodes with them, and clips from any
# other backend are re-encoded with them once, when stored, so every segment concatenates.
SCENECART_HOUSE_ENCODER = {
    "preset": env.str("SCENECART_LOCAL_PRESET", default="veryfast"),
    "crf": env.int("SCENECART_LOCAL_CRF", default=21),
}
# Render backends, configured like STORAGES: alias -> dotted class path and its options.
SCENECART_BACKENDS = {
    "local": {
        "BACKEND": "rendering.backends.local.LocalBackend",
        "OPTIONS": dict(SCENECART_HOUSE_ENCODER),
    },
}
# AI video providers: each is configured when its key is in the environment (the variables
# their own SDKs read), under the alias on the left; SCENECART_<ALIAS>_BASE_URL and
# SCENECART_<ALIAS>_MODEL override the endpoint and the model.
PROVIDER_BACKENDS = {
    "kling": (
        "rendering.backends.remote.kling.KlingBackend",
        ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"),
    ),
    "seedance": ("rendering.backends.remote.seedance.SeedanceBackend", ("ARK_API_KEY",)),
    "minimax": ("rendering.backends.remote.minimax.MiniMaxBackend", ("MINIMAX_API_KEY",)),
    "runway": ("rendering.backends.remote.runway.RunwayBackend", ("RUNWAYML_API_SECRET",)),
    "veo": ("rendering.backends.remote.veo.VeoBackend", ("GEMINI_API_KEY",)),
    "replicate": ("rendering.backends.remote.replicate.ReplicateBackend", ("REPLICATE_API_TOKEN",)),
    "fal": ("rendering.backends.remote.fal.FalBackend", ("FAL_KEY",)),
    "luma": ("rendering.backends.remote.luma.LumaBackend", ("LUMAAI_API_KEY",)),
    "sora": ("rendering.backends.remote.openai_videos.OpenAIVideosBackend", ("OPENAI_API_KEY",)),
}
for _alias, (_path, _keys) in PROVIDER_BACKENDS.items():
    _values = [env.str(name, default="") for name in _keys]
    if not all(_values):
        continue
    _options: dict[str, object] = {"api_key": ":".join(_values)}
    for _option in ("base_url", "model"):
        _value = env.str(f"SCENECART_{_alias.upper()}_{_option.upper()}", default="")
        if _value:
            _options[_option] = _value
    SCENECART_BACKENDS[_alias] = {"BACKEND": _path, "OPTIONS": _options}
# More aliases, or other options, as JSON in the same shape, e.g. a second Replicate model:
# {"wan": {"BACKEND": "rendering.backends.remote.replicate.ReplicateBackend",
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
# Content Credentials (C2PA) on every published MP4 (rendering.provenance): paths to the PEM
# certificate chain (the signing certificate first, issued by a CA, with the digitalSignature
# key usage and the emailProtection extended key usage; then its CAs) and its private key: a
# merchant's or the operator's certificate. Both empty: a development chain made on first use
# under SCENECART_VAR_DIR/c2pa/dev, whose files read back as valid but untrusted.
SCENECART_C2PA_CERT_CHAIN = env.str("SCENECART_C2PA_CERT_CHAIN", default="")
SCENECART_C2PA_PRIVATE_KEY = env.str("SCENECART_C2PA_PRIVATE_KEY", default="")
# An RFC 3161 timestamp authority that countersigns each manifest (a network call per video);
# empty: none, and a manifest is judged by the certificate's validity at reading time.
SCENECART_C2PA_TSA_URL = env.str("SCENECART_C2PA_TSA_URL", default="")
# A PEM bundle of the CAs the provenance page trusts when it reads a manifest back (e.g. the
# C2PA trust list, or the development root SCENECART_VAR_DIR/c2pa/dev/root.pem); empty: none.
SCENECART_C2PA_TRUST_ANCHORS = env.str("SCENECART_C2PA_TRUST_ANCHORS", default="")
# What paid backends cost, in USD per second of rendered video, by backend alias, e.g.
# SCENECART_PRICES='{"kling": "0.07"}'. Estimates and merchants' monthly budgets use it; a
# backend it does not name costs what the backend itself says (the built-in renderer: 0).
SCENECART_PRICES = env.json("SCENECART_PRICES", default={})
for _alias, _price in SCENECART_PRICES.items():
    try:
        if Decimal(str(_price)) < 0:
            raise InvalidOperation
    except InvalidOperation:
        raise ImproperlyConfigured(
            f'SCENECART_PRICES[{_alias!r}] is {_price!r}: give USD per second, e.g. "0.07".'
        ) from None
# How many segments render at once across all workers: the bulk generation estimate divides
# the measured render time by it. Defaults to this machine's cores (one worker, -c cores).
SCENECART_RENDER_PARALLELISM = env.int("SCENECART_RENDER_PARALLELISM", default=os.cpu_count() or 1)
# A render still "rendering" after this long is taken to have crashed and may be claimed again.
SCENECART_RENDER_STALE_AFTER = env.int("SCENECART_RENDER_STALE_AFTER", default=30 * 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# The house format of each aspect: every segment of an aspect is encoded exactly like this.
SCENECART_PROFILES = {
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

# Who writes a video's lines (scene caption and subcaption, offer claim), configured like a
# render backend. Default: the built-in template (product title, climate tagline, claim): no
# network, no cost. SCENECART_SCRIPT_LLM_MODEL turns on an LLM behind any OpenAI-compatible
# chat API at SCENECART_SCRIPT_LLM_URL (key: SCENECART_SCRIPT_LLM_API_KEY, else
# OPENAI_API_KEY); a failed or unusable answer falls back to the template's lines.
SCENECART_SCRIPT_WRITER: dict[str, object] = {
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
SCENECART_VOICE: dict[str, object] | None = None
_voice_provider = env.str("SCENECART_VOICE_PROVIDER", default="").lower()
_voice_options: dict[str, str] = {
    _option: _value
    for _option, _value in (
        ("base_url", env.str("SCENECART_VOICE_URL", default="")),
        ("model", env.str("SCENECART_VOICE_MODEL", default="")),
        ("voice", env.str("SCENECART_VOICE_NAME", default="")),
    )
    if _value
}
if _voice_provider == "openai":
    SCENECART_VOICE = {
        "BACKEND": "rendering.voice.OpenAISpeech",
        "OPTIONS": {
            "api_key": env.str(
                "SCENECART_VOICE_API_KEY", default=env.str("OPENAI_API_KEY", default="")
            ),
            **_voice_options,
        },
    }
elif _voice_provider == "elevenlabs":
    if "voice" not in _voice_options:
        raise ImproperlyConfigured(
            "SCENECART_VOICE_PROVIDER=elevenlabs needs SCENECART_VOICE_NAME (the voice id)."
        )
    SCENECART_VOICE = {
        "BACKEND": "rendering.voice.ElevenLabsSpeech",
        "OPTIONS": {
            "api_key": env.str(
                "SCENECART_VOICE_API_KEY", default=env.str("ELEVENLABS_API_KEY", default="")
            ),
            **_voice_options,
        },
    }
elif _voice_provider not in ("", "none"):
    raise ImproperlyConfigured(
        f"SCENECART_VOICE_PROVIDER={_voice_provider!r} is not supported: use openai or elevenlabs."
    )

# The merchant whose products the home page shows.
SCENECART_DEMO_MERCHANT = env.str("SCENECART_DEMO_MERCHANT", default="demo")

# --- Housekeeping -----------------------------------------------------------------------------
# Unused segments and orphaned video files are deleted once older than this; the grace also
# covers renders and assemblies in flight (they store the file before the row names it).
SCENECART_HOUSEKEEPING_GRACE_HOURS = env.int("SCENECART_HOUSEKEEPING_GRACE_HOURS", default=24)
# Run by `celery -A scenecart beat` beside the workers.
CELERY_BEAT_SCHEDULE = {
    "housekeeping": {"task": "rendering.housekeeping_sweep", "schedule": 6 * 60 * 60},
    "requeue-stale-work": {"task": "rendering.requeue_stale_work", "schedule": 60},
}
CELERY_TASK_ROUTES["rendering.housekeeping_sweep"] = {"queue": "default"}
