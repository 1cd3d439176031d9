"""A fixed-window rate limit per client address for the video lookup.

The lookup is a plain Django view that skips DRF's throttles (see ``storefront.api``), and it is
the storefront's hot path: a cache hit answers without a database query or a shared-cache round
trip. So this limiter costs one counter increment per request in the shared cache, nothing more:
the counter's key names the client and the current window (``lookup-rate:<client>:<window>``),
so a new window starts a new counter and no reset or read-modify-write is needed. On Redis the
increment and its expiry go out in one pipelined round trip; on other caches it is
``cache.incr``, with ``cache.add`` once per client and window.

``SCENECART_LOOKUP_RATE`` sets the rate ("1200/min"; units s, min, h, day as DRF spells them);
"" or "0" turns the limit off. Clients are told apart like DRF's throttles tell them apart:
``REMOTE_ADDR``, or the address ``SCENECART_NUM_PROXIES`` proxies in front of Django put in
``X-Forwarded-For``; an IPv6 client counts by its /64, the block one subscriber gets.
"""

import ipaddress
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from rest_framework.settings import api_settings

KEY_PREFIX = "lookup-rate"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Rate:
    requests: int
    seconds: int

    def __str__(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[self.seconds]
        return f"{self.requests} requests a {unit}"


@lru_cache(maxsize=16)
def parse_rate(text: str) -> Rate | None:
    """``"1200/min"`` → 1200 a minute; ``""`` or ``"0"`` → no limit."""
    value = text.strip().lower()
    if value in ("", "0"):
        return None
    count, _, period = value.partition("/")
    seconds = PERIODS.get(period.strip()[:1])
    if not count.strip().isdigit() or seconds is None:
        raise ImproperlyConfigured(
            f"SCENECART_LOOKUP_RATE={text!r} is not a rate: write requests/period, e.g. "
            '"1200/min" (periods s, min, h, day), or "0" for no limit.'
        )
    if int(count) == 0:
        return None
    return Rate(int(count), seconds)


def client_address(request: HttpRequest) -> str:
    """The client's address as DRF's throttles read it (``BaseThrottle.get_ident``), from
    ``request.META`` directly: ``request.headers`` would parse every header."""
    meta = request.META
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        addresses = forwarded.split(",")
        return addresses[-min(proxies, len(addresses))].strip()
    return str(meta.get("REMOTE_ADDR") or "")


@lru_cache(maxsize=4096)
def client_key(address: str) -> str:
    """A short, cache-safe name for the client: the IPv4 address, the IPv6 /64, or
    "unparsed" for anything that is not an address (which then share one counter)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unparsed"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


# Django makes a new redis-py client object on every call (RedisCacheClient.get_client), which
# costs about as much as the round trip itself; one per cache connection is enough, as the
# connection pool behind it is shared anyway.
_redis_clients: WeakKeyDictionary[object, Any] = WeakKeyDictionary()


def _redis_client(cache: RedisCache) -> Any:
    connection = cache._cache
    client = _redis_clients.get(connection)
    if client is None:
        client = _redis_clients[connection] = connection.get_client(write=True)
    return client


def _count(key: str, window_seconds: int) -> int:
    """Add one to ``key``'s counter in the shared cache and return it."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # One round trip: INCR creates the counter, EXPIRE lets it go after its window.
        # Django's RedisCache.incr would send EXISTS first and refuse a missing key.
        full_key = cache.make_and_validate_key(key)
        pipeline = _redis_client(cache).pipeline(transaction=False)
        pipeline.incr(full_key)
        pipeline.expire(full_key, window_seconds + 1)
        count, _ = pipeline.execute()
        return int(count)
    try:
        return int(cache.incr(key))
    except ValueError:  # the client's first request in this window
        if cache.add(key, 1, window_seconds + 1):
            return 1
        return int(cache.incr(key))  # another process added it first


def lookup_rate_limit(request: HttpRequest) -> JsonResponse | None:
    """``None`` if the client may look up a video now, else the 429 to answer with."""
    rate = parse_rate(settings.SCENECART_LOOKUP_RATE)
    if rate is None:
        return None
    now = time.time()
    window = int(now // rate.seconds)
    client = client_key(client_address(request))
    if _count(f"{KEY_PREFIX}:{client}:{window}", rate.seconds) <= rate.requests:
        return None
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return JsonResponse(
        {
            "error": f"Too many video lookups from this address (at most {rate}); "
            f"try again in {retry_after} s."
        },
        status=429,
        headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
    )
