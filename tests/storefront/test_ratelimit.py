"""Rate limits of the public API: DRF's throttles on events and shopper tokens, and the video
lookup's own per-address limiter (storefront/ratelimit.py, ``SCENECART_LOOKUP_RATE``).

Each test sets a tiny rate and goes past it: the answer is a 429 with a JSON error and a
Retry-After the client can trust, and another client is not held back. Counters live in the
shared cache (files here, Redis in the services pass of scripts/test).
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import Client
from pytest_django import Settings
from redis.client import Pipeline, Redis

from catalog.models import Merchant, Product
from rendering.models import Video
from storefront.api import EventsThrottle
from storefront.ratelimit import KEY_PREFIX, SYNC_SECONDS, Rate, _tallies, client_key, parse_rate
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db


@dataclass
class Shop:
    merchant: Merchant
    product: Product
    video: Video
    secret: str


@pytest.fixture(autouse=True)
def whole_minute() -> None:
    """Start with at least 10 s left in the current minute: the limits here count per fixed
    minute window (and DRF's per minute), so a test that straddled a window boundary would see
    its count start again halfway through."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.05)


@pytest.fixture
def shop() -> Shop:
    merchant = make_merchant(slug="tiny-shop")
    product = make_product(merchant, sku="T-1", with_image=False)
    video = Video.objects.create(product=product, bucket="generic", aspect="16:9", recipe_key="r")
    return Shop(merchant, product, video, merchant.shopper_token_secret)


def throttle_rates(settings: Settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def assert_rate_limited(response: HttpResponse, *, window: int) -> int:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert set(json.loads(response.content)) == {"error"}
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= window
    return retry_after


# --- DRF throttles: events and shopper tokens ---------------------------------------------------


def post_events(client: Client, shop: Shop, address: str = "198.51.100.7") -> HttpResponse:
    body = {"merchant": shop.merchant.slug, "events": [{"type": "play", "video": shop.video.pk}]}
    return client.post(
        "/api/v1/events", json.dumps(body), content_type="text/plain", REMOTE_ADDR=address
    )


def test_events_answer_429_with_retry_after_past_their_rate(
    client: Client, shop: Shop, settings: Settings
) -> None:
    throttle_rates(settings, events="2/min")
    assert EventsThrottle().get_rate() == "2/min"  # the override reaches DRF's throttle
    assert [post_events(client, shop).status_code for _ in range(2)] == [202, 202]

    limited = post_events(client, shop)
    assert_rate_limited(limited, window=60)
    assert "throttled" in limited.json()["error"].lower()
    # Counted per client address: another browser still gets through.
    assert post_events(client, shop, address="203.0.113.9").status_code == 202


def test_shopper_tokens_answer_429_past_their_rate(
    client: Client, shop: Shop, settings: Settings
) -> None:
    throttle_rates(settings, shopper_tokens="1/min")

    def issue() -> HttpResponse:
        return client.post(
            "/api/v1/shopper-tokens",
            {"merchant": shop.merchant.slug, "shopper": "cust-1"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {shop.secret}"},
        )

    assert issue().status_code == 201
    assert_rate_limited(issue(), window=60)


# --- The lookup's own limiter --------------------------------------------------------------------


def lookup(client: Client, shop: Shop, **extra: Any) -> HttpResponse:
    return client.get(f"/api/v1/videos/{shop.merchant.slug}/{shop.product.sku}", **extra)


def test_the_lookup_answers_429_past_its_rate_per_client_address(
    client: Client, shop: Shop, settings: Settings
) -> None:
    settings.SCENECART_LOOKUP_RATE = "3/min"
    shopper, neighbour = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "198.51.100.8"}
    assert [lookup(client, shop, **shopper).status_code for _ in range(3)] == [200] * 3

    limited = lookup(client, shop, **shopper)
    assert_rate_limited(limited, window=60)
    assert "3 requests a minute" in limited.json()["error"]
    # A CDN must not keep the refusal for everyone behind it.
    assert limited["Cache-Control"] == "no-store"
    assert lookup(client, shop, **neighbour).status_code == 200


def test_the_lookup_limit_counts_every_request_from_the_address(
    client: Client, shop: Shop, settings: Settings
) -> None:
    """Unknown SKUs and merchants count too: probing the catalog is not free."""
    settings.SCENECART_LOOKUP_RATE = "2/min"
    assert client.get("/api/v1/videos/tiny-shop/NOPE").status_code == 404
    assert client.get("/api/v1/videos/no-such-shop/T-1").status_code == 404
    assert_rate_limited(lookup(client, shop), window=60)


def test_retry_after_is_when_the_next_window_opens(
    client: Client, shop: Shop, settings: Settings
) -> None:
    settings.SCENECART_LOOKUP_RATE = "2/s"
    deadline = time.monotonic() + 5
    while True:  # start at the beginning of a second, so the two fit in one window
        time.sleep(1 - time.time() % 1 + 0.01)
        first, second = lookup(client, shop), lookup(client, shop)
        if (first.status_code, second.status_code) == (200, 200):
            break
        assert time.monotonic() < deadline, "two lookups never fit in one second"
    retry_after = assert_rate_limited(lookup(client, shop), window=1)
    time.sleep(retry_after)
    assert lookup(client, shop).status_code == 200


def test_behind_proxies_the_forwarded_address_is_the_client(
    client: Client, shop: Shop, settings: Settings
) -> None:
    settings.SCENECART_LOOKUP_RATE = "1/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    via_cdn = {"REMOTE_ADDR": "10.0.0.2"}  # every request comes from the same edge
    assert (
        lookup(client, shop, headers={"X-Forwarded-For": "198.51.100.7"}, **via_cdn).status_code
        == 200
    )
    assert (
        lookup(client, shop, headers={"X-Forwarded-For": "198.51.100.8"}, **via_cdn).status_code
        == 200
    )
    limited = lookup(client, shop, headers={"X-Forwarded-For": "198.51.100.7"}, **via_cdn)
    assert limited.status_code == 429


def test_an_ipv6_client_counts_by_its_64(client: Client, shop: Shop, settings: Settings) -> None:
    """One subscriber gets a whole /64: rotating addresses inside it is still one client."""
    settings.SCENECART_LOOKUP_RATE = "1/min"
    assert lookup(client, shop, REMOTE_ADDR="2001:db8:1:2::10").status_code == 200
    assert lookup(client, shop, REMOTE_ADDR="2001:db8:1:2:ffff::1").status_code == 429
    assert lookup(client, shop, REMOTE_ADDR="2001:db8:1:3::10").status_code == 200


@pytest.mark.parametrize("rate", ["", "0", "0/min"])
def test_an_empty_or_zero_rate_turns_the_limit_off(
    client: Client, shop: Shop, settings: Settings, rate: str
) -> None:
    settings.SCENECART_LOOKUP_RATE = rate
    assert {lookup(client, shop).status_code for _ in range(30)} == {200}


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("1200/min", Rate(1200, 60)),
        ("5/s", Rate(5, 1)),
        ("100/hour", Rate(100, 3600)),
        ("10000/day", Rate(10000, 86400)),
        (" 7 / m ", Rate(7, 60)),
    ],
)
def test_rates_are_written_like_drfs(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "100", "100/fortnight", "-1/min", "1.5/s"])
def test_a_rate_that_is_not_one_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="SCENECART_LOOKUP_RATE"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("", "unparsed"),
        ("not an address\n" + "x" * 300, "unparsed"),
    ],
)
def test_clients_are_named_safely_for_the_cache(address: str, key: str) -> None:
    assert client_key(address) == key


# --- What the limiter costs -----------------------------------------------------------------------


@pytest.fixture
def counter_traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every round trip to the shared cache about a lookup counter, as the operations in it.

    On Redis that is the pipelines and commands sent; on other caches, the Django cache API
    calls (each of which may be more than one file or socket operation, but is one call).
    """
    trips: list[list[str]] = []
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        execute, command = Pipeline.execute, Redis.execute_command

        def pipeline_execute(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
            names = [str(c[0][0]) for c in self.command_stack]
            if any(KEY_PREFIX in str(c[0][1:]) for c in self.command_stack):
                trips.append(names)
            return execute(self, *args, **kwargs)

        def execute_command(self: Redis, *args: Any, **options: Any) -> Any:
            if KEY_PREFIX in str(args[1:]) and not isinstance(self, Pipeline):
                trips.append([str(args[0])])
            return command(self, *args, **options)

        monkeypatch.setattr(Pipeline, "execute", pipeline_execute)
        monkeypatch.setattr(Redis, "execute_command", execute_command)
    else:
        depth = [0]  # BaseCache.incr calls get and set itself: count the outer call only
        for name in ("get", "set", "add", "incr", "get_many", "delete", "touch"):
            original = getattr(cache, name)

            def spy(
                key: Any, *args: Any, _name: str = name, _original: Any = original, **kwargs: Any
            ) -> Any:
                if KEY_PREFIX in str(key) and not depth[0]:
                    trips.append([_name])
                depth[0] += 1
                try:
                    return _original(key, *args, **kwargs)
                finally:
                    depth[0] -= 1

            monkeypatch.setattr(cache, name, spy)
    yield trips


def test_a_busy_client_costs_one_counter_increment_a_second(
    client: Client, shop: Shop, settings: Settings, counter_traffic: list[list[str]]
) -> None:
    settings.SCENECART_LOOKUP_RATE = "1000/min"
    lookup(client, shop)  # the client's first request adds itself to the shared counter
    counter_traffic.clear()
    for _ in range(5):
        assert lookup(client, shop).status_code == 200
    assert counter_traffic == [], "counted in the process, not in the shared cache"
    time.sleep(SYNC_SECONDS)
    assert lookup(client, shop).status_code == 200
    if isinstance(caches["default"], RedisCache):
        # The six requests in one INCRBY, with its EXPIRE, in one pipelined round trip.
        assert counter_traffic == [["INCRBY", "EXPIRE"]]
    else:
        assert counter_traffic == [["incr"]]
    shared = caches["default"].get(
        next(k for k in _tallies if k.startswith(caches["default"].key_prefix)).split(":", 1)[1]
    )
    assert shared == 7


def test_two_processes_share_the_limit(client: Client, shop: Shop, settings: Settings) -> None:
    """Another process's requests (written straight to the shared counter here) count, from
    this process's next addition to the shared counter (at most a second later)."""
    settings.SCENECART_LOOKUP_RATE = "5/min"
    assert lookup(client, shop).status_code == 200
    key = next(k for k in _tallies if k.startswith(caches["default"].key_prefix)).split(":", 1)[1]
    caches["default"].incr(key, 3)  # three lookups answered by another web process
    time.sleep(SYNC_SECONDS)  # this process learns of them at its next addition
    assert lookup(client, shop).status_code == 200  # 5 of 5
    assert lookup(client, shop).status_code == 429
