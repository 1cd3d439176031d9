"""A fixed-window rate limit per client address for the video lookup.

The lookup is a plain Django view that skips DRF's throttles (see ``storefront.api``), and it is
the storefront's hot path: a cache hit answers without a database query or a shared-cache round
trip. So each process counts a client's requests in memory and adds them to the shared counter
at most once a second (``SYNC_SECONDS``), and at once when its count says the client may be
over the limit, so a refusal is always decided on the shared count. A busy client costs one
shared-cache operation a second per process instead of one per request (the file cache's
increment alone cost twice a whole lookup); the price is that the limit is enforced within
about a second's traffic per process. The counter's key names the client and the current
window (``lookup-rate:<client>:<window>``), so a new window starts a new counter and no reset
is needed. On Redis the increment and its expiry go out in one pipelined round trip; on other
caches it is ``cache.incr``, with ``cache.add`` once per client and window.

``SCENECART_LOOKUP_RATE`` sets the rate ("1200/min"; units s, min, h, day as DRF spells them);
"" or "0" turns the limit off. Clients are told apart like DRF's throttles tell them apart:
``REMOTE_ADDR``, or the address ``SCENECART_NUM_PROXIES`` proxies in front of Django put in
``X-Forwarded-For``; an IPv6 client counts by its /64, the block one subscriber gets.
"""

import ipaddress
import math
import threading
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


def _count(key: str, window_seconds: int, amount: int = 1) -> int:
    """Add ``amount`` to ``key``'s counter in the shared cache and return it."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # One round trip: INCRBY creates the counter, EXPIRE lets it go after its window.
        # Django's RedisCache.incr would send EXISTS first and refuse a missing key.
        full_key = cache.make_and_validate_key(key)
        pipeline = _redis_client(cache).pipeline(transaction=False)
        pipeline.incrby(full_key, amount)
        pipeline.expire(full_key, window_seconds + 1)
        count, _ = pipeline.execute()
        return int(count)
    try:
        return int(cache.incr(key, amount))
    except ValueError:  # the client's first request in this window
        if cache.add(key, amount, window_seconds + 1):
            return amount
        return int(cache.incr(key, amount))  # another process added it first


# How often a process adds its local counts to the shared counter, per client.
SYNC_SECONDS = 1.0
# Local tallies kept at most; past it, those of finished windows are dropped.
MAX_TALLIES = 10_000


@dataclass(slots=True)
class _Tally:
    pending: int = 0  # requests counted here and not yet added to the shared counter
    shared: int = 0  # the shared counter when this process last added to it
    synced_at: float = -math.inf


# Keyed by the shared counter's full key (cache prefix, client, window). The lock keeps two
# threads of a process from adding the same pending requests twice (a threaded server under a
# burst would otherwise refuse clients well inside their limit); the cache call is made
# outside it.
_tallies: dict[str, _Tally] = {}
_lock = threading.Lock()


def _tally(key: str, window: int) -> _Tally:
    tally = _tallies.get(key)
    if tally is None:
        if len(_tallies) >= MAX_TALLIES:
            suffix = f":{window}"
            for old in [k for k in _tallies if not k.endswith(suffix)]:
                del _tallies[old]
            if len(_tallies) >= MAX_TALLIES:
                _tallies.clear()
        tally = _tallies[key] = _Tally()
    return tally


def lookup_rate_limit(request: HttpRequest) -> JsonResponse | None:
    """``None`` if the client may look up a video now, else the 429 to answer with."""
    rate = parse_rate(settings.SCENECART_LOOKUP_RATE)
    if rate is None:
        return None
    now = time.time()
    window = int(now // rate.seconds)
    client = client_key(client_address(request))
    key = f"{KEY_PREFIX}:{client}:{window}"
    with _lock:
        tally = _tally(f"{caches['default'].key_prefix}:{key}", window)
        tally.pending += 1
        adding = 0
        if now - tally.synced_at >= SYNC_SECONDS or tally.shared + tally.pending > rate.requests:
            adding, tally.pending, tally.synced_at = tally.pending, 0, now
    if adding:
        shared = _count(key, rate.seconds, adding)
        with _lock:
            tally.shared = max(tally.shared, shared)
    if tally.shared + tally.pending <= rate.requests:
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
