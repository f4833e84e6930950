"""ParquetStore: a local store of bars, one Parquet file per series and calendar period."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._tabular import PathLike
from quantkit.data._timestamps import TimeLike, TimeUnit, format_ns, parse_instant
from quantkit.data.gaps import DEFAULT_GAP_POLICY, GapPolicy
from quantkit.data.store import _arrow, _catalog, _gaps, _locking, _reader
from quantkit.data.store._columns import VALUE_COLUMNS, Columns
from quantkit.data.store._windows import edges, parse_window
from quantkit.data.store._writer import WriteReport, delete_range, remove_empty, write_series
from quantkit.data.store.cache import CacheInfo, CacheKey, FrameCache
from quantkit.data.store.holdings import StoreHoldings
from quantkit.data.store.layout import Partition, SeriesKey, list_partitions, overlapping
from quantkit.data.store.ranges import TimeRange
from quantkit.data.validation import BarLabel, check_series, validate_bars
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import ConfigError, DataError, StoreError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from quantkit.data.store.snapshot import StoreSnapshot
    from quantkit.data.store.store_feed import StoreFeed

__all__ = ["DEFAULT_CACHE_BYTES", "DEFAULT_LOCK_TIMEOUT", "ParquetStore", "WriteReport"]

DEFAULT_CACHE_BYTES = 256 * 2**20
"""Default bound of the read cache: 256 MiB."""

DEFAULT_LOCK_TIMEOUT = 60.0
"""Default time a write waits for another writer of the same series: 60 seconds."""

_Stamp = tuple[tuple[str, int, int, int], ...]


class ParquetStore(StoreHoldings):
    """A local store of OHLCV bars in Parquet files, by exchange, symbol and timeframe.

    Bars are validated on the way in, merged with what is stored and written one calendar
    period per file; a write is committed all at once, by an atomic swap of the series'
    manifest (see ``docs/store.md``). Reads touch only the files and row groups of the range
    asked for and are cached in memory (least recently used first out, bounded in bytes); the
    cache notices changes made through the store or by other processes.

    Times are bar **open** times, UTC; ranges are half-open ``[start, end)`` and ``start``/``end``
    accept ISO strings, ``datetime``, ``date``, ``pandas.Timestamp`` or ``numpy.datetime64``
    (naive values are UTC).

    Concurrency: writers of one series take turns, across threads, store objects and processes
    (an OS lock per series; a writer waits up to ``lock_timeout`` for the one before it, then
    raises), so no bar is lost. A read sees one committed version of the series, never a
    writer's half-done work, and never fails because a writer is busy.

    Args:
        root: The store's directory; created on the first write.
        cache_bytes: Bound of the read cache in bytes; ``0`` disables it.
        compression: Parquet codec for new files: ``"snappy"`` (default, fast), ``"zstd"``
            (smaller), ``"lz4"``, ``"gzip"``, ``"brotli"`` or ``"none"``.
        lock_timeout: Seconds a write waits for another writer of the same series.

    Raises:
        ConfigError: If ``cache_bytes`` or ``lock_timeout`` is negative or the codec unknown.

    Examples:
        >>> import tempfile
        >>> import pandas as pd
        >>> store = ParquetStore(tempfile.mkdtemp())
        >>> bars = pd.DataFrame(
        ...     {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0},
        ...     index=pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC"),
        ... )
        >>> store.write("binance", "BTC/USDT", "1h", bars).added
        48
        >>> len(store.read("binance", "BTC/USDT", "1h", start="2024-01-02"))
        24
        >>> store.missing("binance", "BTC/USDT", "1h", "2024-01-01", "2024-01-04")
        [TimeRange(start=Timestamp('2024-01-03 00:00:00+0000', tz='UTC'), \
end=Timestamp('2024-01-04 00:00:00+0000', tz='UTC'))]
    """

    def __init__(
        self,
        root: PathLike,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        compression: str = "snappy",
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        super().__init__(root, compression=compression, lock_timeout=lock_timeout)
        if compression not in ("snappy", "zstd", "lz4", "gzip", "brotli", "none"):
            raise ConfigError(
                "compression must be one of 'snappy', 'zstd', 'lz4', 'gzip', 'brotli', 'none', "
                f"got {compression!r}"
            )
        self._cache: FrameCache[Columns] = FrameCache(cache_bytes)

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        data: pd.DataFrame | Mapping[str, npt.ArrayLike] | BarSeries,
        *,
        overwrite: bool = False,
        label: BarLabel = "open",
        time_column: str | None = None,
        time_unit: TimeUnit | None = None,
    ) -> WriteReport:
        """Validate bars and merge them into the store.

        The data passes `validate_bars` (gaps are allowed and reported). Bars at a timestamp
        already stored must have the same values unless ``overwrite`` is set; stored bars the
        data does not mention are kept. Only the partitions the bars fall in are rewritten,
        each atomically, and only if something in them changed.

        Args:
            exchange: Exchange id, e.g. ``"binance"``.
            symbol: Market symbol, e.g. ``"BTC/USDT"``.
            timeframe: Bar length such as ``"1m"`` or ``"1h"``.
            data: A DataFrame or a mapping of columns (as `validate_bars` takes them), or a
                `BarSeries` of this timeframe.
            overwrite: Replace stored bars whose values differ instead of raising.
            label: Whether the timestamps are bar ``"open"`` or ``"close"`` times.
            time_column: Name of the timestamp column when it is not a recognised name.
            time_unit: Unit of epoch timestamps; detected when ``None``.

        Returns:
            What was written.

        Raises:
            DataError: If the data is invalid, conflicts with stored bars or overlaps them.
            ConfigError: If the key or the options are invalid.
            StoreError: If the files cannot be read or written.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        source = key.describe()
        if isinstance(data, BarSeries):
            if data.timeframe != key.timeframe_ns:
                raise DataError(
                    f"the series has {format_timeframe(data.timeframe)} bars, "
                    f"not {key.timeframe} ones",
                    source=source,
                )
            data = {"time": data.open_time, **dict(zip(VALUE_COLUMNS, _values(data), strict=True))}
        series = validate_bars(
            data,
            symbol=symbol,
            source=source,
            timeframe=key.timeframe_ns,
            label=label,
            time_column=time_column,
            time_unit=time_unit,
        )
        return self._write_series(key, series, overwrite=overwrite)

    def import_csv(
        self,
        path: PathLike,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        *,
        overwrite: bool = False,
        label: BarLabel = "open",
        time_column: str | None = None,
        time_unit: TimeUnit | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> WriteReport:
        """Import a CSV file of bars, read and validated as `CsvFeed` reads them.

        Args:
            path: The CSV file (``.gz``, ``.bz2``, ``.xz``, ``.zip`` are decompressed).
            exchange: Exchange id to file the bars under.
            symbol: Market symbol of the bars.
            timeframe: Bar length such as ``"1h"``.
            overwrite: Replace stored bars whose values differ instead of raising.
            label: Whether the timestamps are bar ``"open"`` or ``"close"`` times.
            time_column: Name of the timestamp column when it is not a recognised name.
            time_unit: Unit of epoch timestamps; detected when ``None``.
            start: Import only bars opening at or after this instant.
            end: Import only bars opening before this instant.

        Returns:
            What was written.

        Raises:
            DataError: If the file cannot be read, is invalid or conflicts with stored bars.
            ConfigError: If the key or the options are invalid.
            StoreError: If the store's files cannot be read or written.
        """
        from quantkit.data.csv_feed import CsvFeed  # noqa: PLC0415 - avoids a cycle

        key = SeriesKey.make(exchange, symbol, timeframe)
        feed = CsvFeed(
            path,
            symbol=symbol,
            timeframe=key.timeframe_ns,
            label=label,
            time_column=time_column,
            time_unit=time_unit,
            start=start,
            end=end,
        )
        return self._write_series(key, feed.load()[symbol], overwrite=overwrite)

    def _write_series(self, key: SeriesKey, series: BarSeries, *, overwrite: bool) -> WriteReport:
        """Write validated bars under the series' lock and drop the series' cache entries."""
        with self._writing(key):
            try:
                return write_series(
                    self._root, key, series, overwrite=overwrite, compression=self._compression
                )
            finally:
                self._cache.invalidate(key.exchange, key.symbol, key.timeframe)

    # -- reading -------------------------------------------------------------------------------

    def read(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> pd.DataFrame:
        """Read the bars opening in ``[start, end)`` as a DataFrame.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            start: First open time to include (``None``: from the first bar).
            end: Open times at or after this are excluded (``None``: to the last bar).

        Returns:
            Columns ``open``, ``high``, ``low``, ``close``, ``volume`` (float64) indexed by a
            UTC ``DatetimeIndex`` named ``time`` (open times); empty when no bar is in the range.
            The frame owns its columns: a result too large for the cache is handed over without
            a copy, one the cache keeps is copied so that changing the frame cannot change it.

        Raises:
            DataError: If the store holds no bars of this series at all.
            ConfigError: If the key or the range is invalid.
            StoreError: If a file is corrupt.
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        key = SeriesKey.make(exchange, symbol, timeframe)
        columns, shared = self._read_columns(key, start, end)
        values = [column.copy() if shared else column for column in columns.values()]
        for column in values:
            column.flags.writeable = True  # owned by the frame alone now
        index = pd.DatetimeIndex(columns.time.view("datetime64[ns]"), name="time")
        frame = pd.DataFrame(
            dict(zip(VALUE_COLUMNS, values, strict=True)),
            index=index.tz_localize("UTC"),
            copy=False,
        )
        frame.attrs["symbol"] = symbol
        return frame

    def read_series(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        validate: bool = False,
    ) -> BarSeries:
        """Read the bars opening in ``[start, end)`` as a backtest-ready `BarSeries`.

        The arrays are filled straight from Parquet pages (no intermediate table) and shared
        with the cache, read-only. Bars were validated when they were written, and every read
        checks them again in place (`check_series`: order, overlap, finite positive prices,
        volume, OHLC consistency) without copying; ``validate=True`` runs `validate_bars`
        instead, at the cost of a copy.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            start: First open time to include (``None``: from the first bar).
            end: Open times at or after this are excluded (``None``: to the last bar).
            validate: Run the full validation again.

        Returns:
            The bars.

        Raises:
            DataError: If no bar is in the range, or validation fails.
            ConfigError: If the key or the range is invalid.
            StoreError: If a file is corrupt or out of order.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        columns, _ = self._read_columns(key, start, end)
        if len(columns) == 0:
            raise DataError(
                f"no bars open between {_describe(start, 'the beginning')} and "
                f"{_describe(end, 'the end')}; the store holds "
                + ", ".join(_span(r) for r in self.coverage(exchange, symbol, timeframe)[:5]),
                source=key.describe(),
            )
        if validate:
            mapping = columns.as_mapping()
            return validate_bars(
                mapping, symbol=symbol, source=key.describe(), timeframe=key.timeframe_ns
            )
        series = columns.to_series(symbol, key.timeframe_ns)
        check_series(series, source=key.describe())  # every read is checked, without a copy
        return series

    def feed(
        self,
        exchange: str,
        symbols: str | Sequence[str],
        timeframe: str | int,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        validate: bool = False,
        gap_policy: GapPolicy = DEFAULT_GAP_POLICY,
    ) -> StoreFeed:
        """A `DataFeed` over stored series, for ``Engine(feed=...)``.

        Args:
            exchange: Exchange id.
            symbols: One symbol or several (served in the order given).
            timeframe: Bar length such as ``"1h"``.
            start: First open time to include (``None``: from the first bar).
            end: Open times at or after this are excluded (``None``: to the last bar).
            validate: Run `validate_bars` again when loading (see `read_series`).
            gap_policy: ``"keep"`` (default), ``"fail"`` or ``"ffill"`` for missing bars.

        Returns:
            The feed; it reads the store when the engine first loads it.

        Raises:
            ConfigError: If the key, the symbols or the range is invalid.
        """
        from quantkit.data.store.store_feed import StoreFeed  # noqa: PLC0415 - avoids a cycle

        return StoreFeed(
            self,
            exchange,
            symbols,
            timeframe,
            start=start,
            end=end,
            validate=validate,
            gap_policy=gap_policy,
        )

    def snapshot(
        self, exchange: str, symbols: str | Sequence[str], timeframe: str | int
    ) -> StoreSnapshot:
        """Pin the committed version of some series, for lazy Polars queries (`StoreSnapshot`).

        Args:
            exchange: Exchange id.
            symbols: One symbol or several.
            timeframe: Bar length such as ``"1m"``.

        Returns:
            The snapshot; close it (or use ``with``) when its queries are done.

        Raises:
            DataError: If the store holds no bars of one of the series.
            ConfigError: If the key or the symbols are invalid.
            StoreError: If a file is not one of the store's partitions.
        """
        from quantkit.data.store.snapshot import StoreSnapshot  # noqa: PLC0415 - avoids a cycle

        names = [symbols] if isinstance(symbols, str) else list(symbols)
        return StoreSnapshot(self._root, exchange, names, timeframe)

    def _read_columns(
        self, key: SeriesKey, start: TimeLike | None, end: TimeLike | None
    ) -> tuple[Columns, bool]:
        """Read (or take from the cache) the bars of ``key`` opening in ``[start, end)``.

        Returns the bars and whether the cache holds them (then they must stay unchanged).
        """
        window = parse_window(start, end)
        cache_key: CacheKey = (key.exchange, key.symbol, key.timeframe, *window)
        with _locking.reading(self._root, key):  # pins the version: its files stay
            partitions = self._partitions(key)
            stamp = _stamp(partitions)
            cached = self._cache.get(cache_key, stamp)
            if cached is not None:
                return cached, True
            chosen = overlapping(partitions, window)
            first, last = edges(chosen, window)
            columns = _reader.read_columns(
                chosen, first, last, timeframe=key.timeframe_ns, source=key.describe()
            )
        shared = self._cache.put(cache_key, columns, size=columns.nbytes, stamp=stamp)
        return columns, shared

    def _partitions(self, key: SeriesKey) -> list[Partition]:
        """The series' partitions; raise a helpful DataError if there are none."""
        partitions = list_partitions(key, self._root)
        if not partitions:
            raise DataError(
                f"the store at {os.fspath(self._root)} holds no bars of this series"
                + _catalog.suggest(self._root, key),
                source=key.describe(),
            )
        return partitions

    # -- deleting and exporting ----------------------------------------------------------------

    def delete(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> int:
        """Delete the bars opening in ``[start, end)`` (all of them by default).

        Partitions entirely inside the range are removed, the others rewritten atomically;
        known gaps inside the range are forgotten. Directories left empty are removed.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            start: First open time to delete (``None``: from the first bar).
            end: Open times at or after this are kept (``None``: to the last bar).

        Returns:
            How many bars were deleted.

        Raises:
            ConfigError: If the key or the range is invalid.
            StoreError: If the files cannot be read or written.
        """
        key = SeriesKey.make(exchange, symbol, timeframe)
        first, stop = parse_window(start, end)
        directory = key.directory(self._root)
        with self._writing(key):
            try:
                deleted = delete_range(self._root, key, first, stop, compression=self._compression)
                if directory.is_dir():
                    lowest, highest = -(2**63), 2**63 - 1
                    _gaps.remove_gaps(
                        directory,
                        (lowest if first is None else first, highest if stop is None else stop),
                    )
                remove_empty(directory, stop_at=self._root)
            finally:
                self._cache.invalidate(key.exchange, key.symbol, key.timeframe)
        return deleted

    def export_csv(
        self,
        exchange: str,
        symbol: str,
        timeframe: str | int,
        path: PathLike,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
    ) -> int:
        """Write the bars opening in ``[start, end)`` to a CSV file, atomically.

        The file has a header ``time,open,high,low,close,volume``; times are ISO 8601 UTC open
        times (``2024-01-01T00:00:00Z``) and numbers are written so that they read back
        exactly. A ``.gz``, ``.bz2``, ``.xz`` or ``.zip`` suffix compresses the file.
        `import_csv` and `CsvFeed` read it back.

        Args:
            exchange: Exchange id.
            symbol: Market symbol.
            timeframe: Bar length such as ``"1h"``.
            path: The file to write (replaced if it exists).
            start: First open time to include.
            end: Open times at or after this are excluded.

        Returns:
            How many bars were written.

        Raises:
            DataError: If the store holds no bars of this series.
            ConfigError: If the key or the range is invalid.
            StoreError: If the file cannot be written.
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        key = SeriesKey.make(exchange, symbol, timeframe)
        columns, _ = self._read_columns(key, start, end)
        times = np.datetime_as_string(columns.time.view("datetime64[ns]"), unit="s")
        frame = pd.DataFrame({**columns.as_mapping(), "time": np.char.add(times, "Z")})
        _arrow.atomic_write(Path(path), lambda target: frame.to_csv(target, index=False))
        return len(frame)

    # -- cache -----------------------------------------------------------------------------------

    def cache_info(self) -> CacheInfo:
        """Counters and size of the read cache.

        Returns:
            Hits, misses, evictions, invalidations, entries and bytes.
        """
        return self._cache.info()

    def clear_cache(self) -> None:
        """Empty the read cache."""
        self._cache.clear()


def _values(series: BarSeries) -> tuple[npt.NDArray[np.float64], ...]:
    return series.open, series.high, series.low, series.close, series.volume


def _stamp(partitions: list[Partition]) -> _Stamp:
    """Names, sizes, modification times and inodes of the files: changes when any changes."""
    stamp = []
    for part in partitions:
        try:
            info = part.path.stat()
        except FileNotFoundError as exc:
            raise StoreError(
                f"{part.path} named by the store is missing (deleted by hand?)"
            ) from exc
        stamp.append((part.path.name, info.st_size, info.st_mtime_ns, info.st_ino))
    return tuple(stamp)


def _describe(instant: TimeLike | None, default: str) -> str:
    return default if instant is None else format_ns(parse_instant(instant, name="instant"))


def _span(time_range: TimeRange) -> str:
    start, end = time_range.to_ns()
    return f"{format_ns(start)} to {format_ns(end)}"
