"""What a bar store holds: coverage, missing ranges, the catalogue and the venue's known gaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from quantkit.data._timestamps import TimeLike
from quantkit.data.store import _catalog, _gaps, _locking, _reader
from quantkit.data.store._rooted import RootedStore
from quantkit.data.store._windows import bounded_window, edges, parse_window
from quantkit.data.store.layout import SeriesKey, list_partitions, overlapping
from quantkit.data.store.ranges import NsRange, TimeRange, runs, subtract, to_time_ranges

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StoreHoldings"]


class StoreHoldings(RootedStore):
    """The queries of `ParquetStore` about what it holds, apart from the bars themselves.

    Args:
        root: The store's directory.
        compression: Parquet codec of new files.
        lock_timeout: Seconds a write waits for another writer of the same series.
    """

    # -- what is held --------------------------------------------------------------------------

    def coverage(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> list[TimeRange]:
        """The contiguous ranges of bars held, each from the first open to the last close.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            start: Consider bars opening at or after this instant only.
            end: Consider bars opening before this instant only.

        Returns:
            One range per run of consecutive bars, oldest first; empty if nothing is held.

        Raises:
            ConfigError: If the key or the range is invalid.
            StoreError: If a file is corrupt.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        return to_time_ranges(self._runs(key, parse_window(start, end)))

    def missing(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        start: TimeLike,
        end: TimeLike,
    ) -> list[TimeRange]:
        """The parts of ``[start, end)`` that no stored bar covers: both ends and the holes.

        A bar covers the time from its open to its close.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            start: First instant of interest.
            end: First instant after the range of interest.

        Returns:
            The uncovered ranges, oldest first; ``[start, end)`` whole if nothing is held.

        Raises:
            ConfigError: If the key or the range is invalid.
            StoreError: If a file is corrupt.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        first, stop = bounded_window(start, end)
        covered = self._runs(key, (first - key.timeframe_ns + 1, stop))
        return to_time_ranges(subtract((first, stop), covered))

    def _runs(self, key: SeriesKey, window: tuple[int | None, int | None]) -> list[NsRange]:
        """Runs of consecutive bars opening in the window."""
        with _locking.reading(self._root, key):
            chosen = overlapping(list_partitions(key, self._root), window)
            first, last = edges(chosen, window)
            times = _reader.read_times(
                [p.path for p in chosen],
                first,
                last,
                timeframe=key.timeframe_ns,
                source=key.describe(),
            )
        return runs(times, key.timeframe_ns)

    def entries(self) -> pd.DataFrame:
        """What the store holds: one row per series.

        Returns:
            Columns ``exchange``, ``symbol``, ``timeframe``, ``first`` (first open time),
            ``last`` (last open time), ``rows``, ``gaps`` (holes between runs of consecutive
            bars), ``partitions`` (files) and ``bytes`` (on disk), sorted by the first three.

        Raises:
            StoreError: If a file is corrupt.
        """
        return _catalog.entries(self._root)

    # -- known gaps ------------------------------------------------------------------------------

    def known_gaps(self, exchange: str, symbol: str, timeframe: str | int) -> list[TimeRange]:
        """Ranges the venue was asked for and had no bars, as recorded by downloads.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.

        Returns:
            The ranges, oldest first.

        Raises:
            ConfigError: If the key is invalid.
            StoreError: If the record is corrupt.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        return to_time_ranges(_gaps.load_gaps(key.directory(self._root)))

    def add_known_gaps(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        ranges: Sequence[tuple[TimeLike, TimeLike]],
    ) -> None:
        """Record ranges the venue has no bars for, so that downloads skip them.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            ranges: ``(start, end)`` pairs.

        Raises:
            ConfigError: If the key or a range is invalid.
            StoreError: If the record cannot be written.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        pairs = [bounded_window(start, end) for start, end in ranges]
        with self._writing(key):
            _gaps.add_gaps(key.directory(self._root), pairs)
