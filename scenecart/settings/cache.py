"""The cache shared by web processes and workers."""

from pathlib import Path

from .env import BASE_DIR, env

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
# Each web process also keeps cached reads this long (scenecart/cache.py), so a busy product's
# lookup makes no cache round trip; a change reaches other processes within this time.
SCENECART_LOCAL_CACHE_SECONDS = env.float("SCENECART_LOCAL_CACHE_SECONDS", default=1.0)
