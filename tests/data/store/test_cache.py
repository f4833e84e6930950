"""The byte-bounded LRU cache."""

from __future__ import annotations

import threading

import pytest

from quantkit.data.store.cache import CacheKey, FrameCache
from quantkit.errors import ConfigError


def key(symbol: str = "BTC/USDT", start: int | None = None) -> CacheKey:
    return ("binance", symbol, "1h", start, None)


def test_hits_misses_and_stale_stamps() -> None:
    cache: FrameCache[str] = FrameCache(100)
    assert cache.get(key(), stamp=1) is None
    assert cache.put(key(), "a", size=10, stamp=1)
    assert cache.get(key(), stamp=1) == "a"
    assert cache.get(key(), stamp=2) is None  # the files changed: the entry is dropped
    assert cache.get(key(), stamp=1) is None
    info = cache.info()
    assert (info.hits, info.misses, info.invalidations, info.entries, info.bytes) == (1, 3, 1, 0, 0)
    assert info.max_bytes == 100


def test_eviction_drops_the_least_recently_used_until_the_bytes_fit() -> None:
    cache: FrameCache[str] = FrameCache(100)
    for start in range(3):
        cache.put(key(start=start), f"v{start}", size=40, stamp=0)
    # 3 x 40 > 100: the first was evicted when the third came in.
    assert cache.get(key(start=0), stamp=0) is None
    assert cache.get(key(start=1), stamp=0) == "v1"  # now the most recently used
    cache.put(key(start=3), "v3", size=40, stamp=0)
    assert cache.get(key(start=2), stamp=0) is None
    assert cache.get(key(start=1), stamp=0) == "v1"
    info = cache.info()
    assert info.evictions == 2
    assert info.bytes == 80
    assert info.entries == 2


def test_values_larger_than_the_bound_are_not_kept() -> None:
    cache: FrameCache[str] = FrameCache(100)
    cache.put(key(start=1), "small", size=60, stamp=0)
    assert not cache.put(key(start=2), "huge", size=101, stamp=0)
    assert cache.get(key(start=1), stamp=0) == "small"  # nothing evicted for a value not kept
    assert cache.put(key(start=1), "replaced", size=100, stamp=0)
    assert cache.info().bytes == 100


def test_disabled_cache_keeps_nothing() -> None:
    cache: FrameCache[str] = FrameCache(0)
    assert not cache.put(key(), "a", size=1, stamp=0)
    assert cache.put(key(), "empty", size=0, stamp=0)  # zero bytes always fit


def test_invalidate_drops_one_series_and_clear_drops_all() -> None:
    cache: FrameCache[str] = FrameCache(100)
    cache.put(key("BTC/USDT", 1), "a", size=1, stamp=0)
    cache.put(key("BTC/USDT", 2), "b", size=1, stamp=0)
    cache.put(key("ETH/USDT", 1), "c", size=1, stamp=0)
    assert cache.invalidate("binance", "BTC/USDT", "1h") == 2
    assert cache.get(key("ETH/USDT", 1), stamp=0) == "c"
    assert cache.info().invalidations == 2
    cache.clear()
    assert cache.info().entries == 0
    assert cache.info().bytes == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_bound_must_be_a_non_negative_integer(bad: object) -> None:
    with pytest.raises(ConfigError, match="cache_bytes"):
        FrameCache(bad)  # type: ignore[arg-type]


def test_threads_share_the_cache_safely() -> None:
    cache: FrameCache[int] = FrameCache(50)

    def work(offset: int) -> None:
        for i in range(500):
            cache.put(key(start=(i + offset) % 80), i, size=1, stamp=0)
            cache.get(key(start=i % 80), stamp=0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    info = cache.info()
    assert info.bytes == info.entries <= 50
