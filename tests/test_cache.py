"""The storefront's two-level reads (scenecart/cache.py): a per-process memo over the cache."""

import time

import pytest
from django.core.cache import cache

from scenecart.cache import forget, read_through


class Loader:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_a_value_is_loaded_once_then_read_from_the_memo() -> None:
    load = Loader({"id": 1})
    assert read_through("k", ttl=60, load=load) == {"id": 1}
    assert read_through("k", ttl=60, load=load) == {"id": 1}
    assert load.calls == 1
    assert cache.get("k") == {"id": 1}  # shared with the other processes


def test_another_process_sees_a_change_within_the_memo_lifetime(
    settings: pytest.FixtureRequest,
) -> None:
    settings.SCENECART_LOCAL_CACHE_SECONDS = 0.2  # type: ignore[attr-defined]
    read_through("k", ttl=60, load=Loader("old"))
    cache.set("k", "new", 60)  # what another process's service writes
    assert read_through("k", ttl=60, load=Loader("unused")) == "old"  # this process's memo
    time.sleep(0.25)
    assert read_through("k", ttl=60, load=Loader("unused")) == "new"


def test_forget_drops_both_levels_at_once() -> None:
    read_through("k", ttl=60, load=Loader("old"))
    forget("k")
    load = Loader("fresh")
    assert read_through("k", ttl=60, load=load) == "fresh" and load.calls == 1


def test_misses_are_not_cached_and_ttl_zero_always_loads() -> None:
    load = Loader(None)
    assert read_through("gone", ttl=60, load=load) is None
    assert read_through("gone", ttl=60, load=load) is None
    assert load.calls == 2
    fresh = Loader("x")
    read_through("k", ttl=0, load=fresh)
    read_through("k", ttl=0, load=fresh)
    assert fresh.calls == 2 and cache.get("k") is None
