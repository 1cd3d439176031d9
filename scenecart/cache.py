"""Two-level reads for the storefront's hot path: a per-process memo in front of the shared
cache.

The shared cache (Redis, or files) is the truth every process sees; services drop entries
there when the rows behind them change. Each web process also keeps what it read for
``SCENECART_LOCAL_CACHE_SECONDS`` (1 s by default), so a busy product's lookup costs no cache
round trip at all: a change made in another process reaches this one within that second, a
change made in this one at once (``forget`` drops both levels).
"""

import time
from collections.abc import Callable
from typing import TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

T = TypeVar("T")

# Bounds the memory of a process that sees many products; it simply starts over when full.
MAX_LOCAL_ENTRIES = 20_000
_MISSING = object()
_local: dict[str, tuple[float, object]] = {}


def read_through(key: str, *, ttl: int, load: Callable[[], T]) -> T:
    """The value under ``key``: from this process's memo, else the shared cache, else
    ``load()`` (stored for ``ttl`` seconds unless it is ``None``). ``ttl=0`` always loads."""
    if not ttl:
        return load()
    now = time.monotonic()
    hit = _local.get(key)
    if hit is not None and hit[0] > now:
        # One memo for every key, but a key only ever holds what its own load() returned.
        return cast(T, hit[1])
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        loaded = load()
        if loaded is None:
            return loaded  # not stored: the next read asks load() again
        cache.set(key, loaded, ttl)
        value = loaded
    local_ttl = settings.SCENECART_LOCAL_CACHE_SECONDS
    if local_ttl:
        if len(_local) >= MAX_LOCAL_ENTRIES:
            _local.clear()
        _local[key] = (now + min(local_ttl, ttl), value)
    return value


def forget(key: str) -> None:
    """Drop ``key`` from the shared cache and from this process's memo."""
    cache.delete(key)
    _local.pop(key, None)


@receiver(setting_changed)
def _new_cache_new_memo(*, setting: str, **kwargs: object) -> None:
    # Another cache configuration (tests give each test its own key prefix) is another truth.
    if setting in ("CACHES", "SCENECART_LOCAL_CACHE_SECONDS"):
        _local.clear()
