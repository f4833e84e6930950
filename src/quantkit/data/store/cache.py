"""A least-recently-used cache of read results, bounded by the bytes it holds.

The store keeps what it recently read so that reading the same range again (a parameter sweep
running many backtests over one feed) costs no I/O. Each entry carries a *stamp* of the files it
was read from; an entry whose stamp no longer matches the files on disk is stale, which is how
the cache notices changes made by other processes. Writes and deletes through the store drop the
entries of their series at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from quantkit.errors import ConfigError

__all__ = ["CacheInfo", "CacheKey", "FrameCache"]

CacheKey = tuple[str, str, str, int | None, int | None]
"""``(exchange, symbol, timeframe, start, end)``; start and end in ns, ``None`` when open."""

ValueT = TypeVar("ValueT")


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a `FrameCache`.

    Attributes:
        hits: Lookups answered from the cache.
        misses: Lookups that found nothing, or a stale entry.
        evictions: Entries dropped to make room.
        invalidations: Entries dropped because their series changed.
        entries: Entries held now.
        bytes: Bytes held now.
        max_bytes: The bound on ``bytes``.
    """

    hits: int
    misses: int
    evictions: int
    invalidations: int
    entries: int
    bytes: int
    max_bytes: int


@dataclass(slots=True)
class _Entry(Generic[ValueT]):
    value: ValueT
    size: int
    stamp: Hashable


class FrameCache(Generic[ValueT]):
    """Byte-bounded LRU cache keyed by `CacheKey`; safe to share between threads.

    A value larger than ``max_bytes`` is not kept. Adding a value evicts the least recently
    used entries until the total fits.

    Args:
        max_bytes: The most bytes the cache holds; ``0`` disables it.

    Raises:
        ConfigError: If ``max_bytes`` is negative.

    Examples:
        >>> cache: FrameCache[str] = FrameCache(max_bytes=10)
        >>> key = ("binance", "BTC/USDT", "1h", None, None)
        >>> cache.put(key, "bars", size=4, stamp=1)
        True
        >>> cache.get(key, stamp=1), cache.get(key, stamp=2)
        ('bars', None)
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ConfigError(f"cache_bytes must be an integer >= 0, got {max_bytes!r}")
        self._max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, _Entry[ValueT]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._invalidations = 0

    def get(self, key: CacheKey, stamp: Hashable) -> ValueT | None:
        """Return the value stored under ``key`` if its stamp is ``stamp``.

        Args:
            key: What was read.
            stamp: The current stamp of the files the value comes from.

        Returns:
            The value, or ``None`` on a miss (a stale entry is dropped).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.stamp != stamp:
                self._drop(key)
                self._invalidations += 1
                entry = None
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry.value

    def put(self, key: CacheKey, value: ValueT, *, size: int, stamp: Hashable) -> bool:
        """Store ``value`` under ``key``, evicting older entries to make room.

        Args:
            key: What was read.
            value: The result.
            size: Its size in bytes.
            stamp: The stamp of the files it was read from.

        Returns:
            Whether the value was stored (it is not when larger than the bound).
        """
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size > self._max_bytes:
                return False
            while self._bytes + size > self._max_bytes:
                self._drop(next(iter(self._entries)))
                self._evictions += 1
            self._entries[key] = _Entry(value, size, stamp)
            self._bytes += size
            return True

    def invalidate(self, exchange: str, symbol: str, timeframe: str) -> int:
        """Drop every entry of one series.

        Args:
            exchange: Exchange id.
            symbol: Symbol.
            timeframe: Canonical timeframe.

        Returns:
            How many entries were dropped.
        """
        series = (exchange, symbol, timeframe)
        with self._lock:
            keys = [key for key in self._entries if key[:3] == series]
            for key in keys:
                self._drop(key)
            self._invalidations += len(keys)
            return len(keys)

    def clear(self) -> None:
        """Drop every entry (the counters are kept)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def info(self) -> CacheInfo:
        """The cache's counters and size.

        Returns:
            A snapshot of the counters.
        """
        with self._lock:
            return CacheInfo(
                self._hits,
                self._misses,
                self._evictions,
                self._invalidations,
                len(self._entries),
                self._bytes,
                self._max_bytes,
            )

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
