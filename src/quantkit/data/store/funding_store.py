"""FundingStore: funding-rate history in Parquet files, beside the bars of a `ParquetStore`.

A funding series lives under the same root as the bars, with the same guarantees::

    root/binanceusdm/BTC_USDT+USDT/funding/
        manifest.json        which file holds each year (swapped atomically to commit)
        2024.<hex>.parquet   the rates of 2024: time (ns, UTC), rate, mark_price (NaN: unknown)

Writes are validated (`validate_funding`), merged with what is stored (a time already stored
with the same rate adds nothing; another rate is a conflict, refused unless ``overwrite``),
checked again as a whole (no two funding times less than a minute apart, which would charge
one funding twice), written to new files and committed by replacing the manifest, under the
series' writer lock, so concurrent writers never lose rows and readers never see half a write.
The bar store's catalog ignores the ``funding`` directory (it is no timeframe).

Gaps: funding falls at a known interval (8 hours on most venues); `FundingStore.missing` and
each write's report call a stretch longer than that without a rate a gap (see `find_gaps`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data._tabular import PathLike
from quantkit.data._timestamps import TimeLike, format_ns, parse_instant
from quantkit.data.funding import FundingSeries, validate_funding
from quantkit.data.store import _arrow, _locking, _manifest
from quantkit.data.store._rooted import RootedStore
from quantkit.data.store.layout import Partition, SeriesKey, encode_name, list_partitions
from quantkit.data.store.ranges import NsRange, TimeRange, to_time_ranges
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError, StoreError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FUNDING_DIRECTORY", "FundingStore", "FundingWriteReport", "find_gaps"]

FUNDING_DIRECTORY = "funding"
"""Name of a funding series' directory, beside the timeframes of the symbol's bars."""

_MIN_SPACING_NS = 60 * 10**9
_FORMAT = b"1"


@dataclass(frozen=True, slots=True)
class FundingWriteReport:
    """What a funding write did.

    Attributes:
        exchange: Exchange id.
        symbol: Symbol.
        rows: Rates given.
        added: Rates not stored before.
        replaced: Stored rates whose values changed (``overwrite=True`` only).
        partitions: Names of the partition files written.
        gaps: Stretches between the first and last rate given with no rate for longer than
            the interval.
    """

    exchange: str
    symbol: str
    rows: int
    added: int
    replaced: int
    partitions: tuple[str, ...]
    gaps: tuple[TimeRange, ...]


def find_gaps(time: np.ndarray[Any, np.dtype[np.int64]], interval_ns: int) -> list[NsRange]:
    """Stretches between consecutive funding times that miss at least one funding.

    A stretch counts when the next time is 1.5 intervals or more after the previous one (so
    a few milliseconds of jitter in the venue's timestamps never count).

    Args:
        time: Increasing funding times in ns.
        interval_ns: The funding interval.

    Returns:
        ``(after, before)`` ranges, exclusive of both stored times.

    Examples:
        >>> h = 3_600 * 10**9
        >>> find_gaps(np.array([0, 8 * h, 24 * h, 32 * h + 5]), 8 * h) == [(8 * h + 1, 24 * h)]
        True
    """
    if time.size < 2:
        return []
    far = np.flatnonzero(np.diff(time) * 2 >= 3 * interval_ns)
    return [(int(time[i]) + 1, int(time[i + 1])) for i in far]


def _interval_ns(interval: str) -> int:
    length = parse_timeframe(interval)
    if length < _MIN_SPACING_NS:
        raise ConfigError(f"a funding interval is at least a minute, got {interval!r}")
    return length


class FundingStore(RootedStore):
    """Funding rates by exchange and symbol, in the directory tree of a bar store.

    Args:
        root: The store's directory (the same as a `ParquetStore`'s, or another).
        compression: Parquet codec of new files.
        lock_timeout: Seconds a write waits for another writer of the same series.

    Raises:
        ConfigError: If ``lock_timeout`` is negative.

    Examples:
        >>> import tempfile
        >>> store = FundingStore(tempfile.mkdtemp())
        >>> rates = FundingSeries.from_rows([(0, 1e-4, None), (28_800_000, -2e-4, 101.5)])
        >>> store.write("binanceusdm", "BTC/USDT:USDT", rates).added
        2
        >>> store.read("binanceusdm", "BTC/USDT:USDT").rate.tolist()
        [0.0001, -0.0002]
    """

    def __init__(
        self, root: PathLike, *, compression: str = "snappy", lock_timeout: float = 60.0
    ) -> None:
        super().__init__(root, compression=compression, lock_timeout=lock_timeout)

    @staticmethod
    def _key(exchange: str, symbol: str) -> SeriesKey:
        encode_name(exchange)
        encode_name(symbol)
        return SeriesKey(exchange, symbol, FUNDING_DIRECTORY, 8 * 3_600 * 10**9, "Y")

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        exchange: str,
        symbol: str,
        rates: FundingSeries | pd.DataFrame,
        *,
        overwrite: bool = False,
        interval: str = "8h",
    ) -> FundingWriteReport:
        """Validate funding rates and merge them into the store.

        Args:
            exchange: Exchange id, e.g. ``"binanceusdm"``.
            symbol: Symbol, e.g. ``"BTC/USDT:USDT"``.
            rates: A `FundingSeries`, or a frame with a ``DatetimeIndex`` (naive: UTC), a
                ``rate`` column and optionally ``mark_price``.
            overwrite: Replace stored rates that differ instead of refusing the write.
            interval: The funding interval, for the gaps reported.

        Returns:
            What was written.

        Raises:
            DataError: If a row is invalid, conflicts with a stored rate, or lies within a
                minute of another; nothing is written then.
            StoreError: If the files cannot be written, or another writer holds the series
                longer than the lock timeout.
            ConfigError: If the exchange, symbol or interval is invalid.
        """
        key = self._key(exchange, symbol)
        source = f"{exchange} {symbol} funding"
        if isinstance(rates, FundingSeries):  # checked again: it may have been built by hand
            series = validate_funding(rates.time, rates.rate, rates.mark_price, source=source)
        else:
            series = _from_frame(rates, source)
        step = _interval_ns(interval)
        with self._writing(key):
            added, replaced, written = self._merge_and_commit(key, series, overwrite, source)
        return FundingWriteReport(
            exchange, symbol, len(series), added, replaced, tuple(written),
            tuple(to_time_ranges(find_gaps(series.time, step))),
        )  # fmt: skip

    def _merge_and_commit(
        self, key: SeriesKey, new: FundingSeries, overwrite: bool, source: str
    ) -> tuple[int, int, list[str]]:
        existing = {part.name: part for part in list_partitions(key, self._root)}
        years = new.time.view("datetime64[ns]").astype("datetime64[Y]")
        added = replaced = 0
        changed: dict[str, FundingSeries] = {}
        for year in np.unique(years):
            partition = key.partition_for(self._root, year)
            held = existing.get(partition.name)
            stored = FundingSeries.empty() if held is None else _read_file(held.path)
            part = new.window(partition.start, partition.end)
            merged, count_added, count_replaced = _merge(stored, part, overwrite, source)
            if count_added or count_replaced:
                changed[partition.name] = merged
                added, replaced = added + count_added, replaced + count_replaced
        _check_neighbours(key, self._root, existing, changed, source)
        self._commit(key, existing, changed)
        return added, replaced, list(changed)

    def _commit(
        self, key: SeriesKey, existing: dict[str, Partition], changed: dict[str, FundingSeries]
    ) -> None:
        if not changed:
            return
        directory = key.directory(self._root)
        files = {name: part.path.name for name, part in existing.items()}
        fresh: list[Path] = []
        try:
            for name, series in changed.items():
                files[name] = _manifest.new_file_name(name)
                fresh.append(directory / files[name])
                _write_file(fresh[-1], series, self._compression)
            _manifest.write_manifest(directory, files)
        except BaseException:
            for path in fresh:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        with _locking.exclusive_readers(self._root, key) as alone:
            if alone:
                _manifest.collect_garbage(directory, files)

    # -- reading -------------------------------------------------------------------------------

    def read(
        self, exchange: str, symbol: str, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> FundingSeries:
        """Read the stored rates with ``start <= time < end``.

        Args:
            exchange: Exchange id.
            symbol: Symbol.
            start: First time (UTC when naive); ``None`` for the first stored.
            end: End, exclusive; ``None`` for after the last stored.

        Returns:
            The rates, oldest first; empty if none are stored.

        Raises:
            StoreError: If a file cannot be read.
        """
        low = None if start is None else parse_instant(start, name="start")
        high = None if end is None else parse_instant(end, name="end")
        return self._read_ns(self._key(exchange, symbol), low, high)

    def _read_ns(self, key: SeriesKey, low: int | None, high: int | None) -> FundingSeries:
        with _locking.reading(self._root, key):
            parts = [
                _read_file(p.path)
                for p in list_partitions(key, self._root)
                if (low is None or p.end > low) and (high is None or p.start < high)
            ]
        if not parts:
            return FundingSeries.empty()
        whole = FundingSeries(
            np.concatenate([p.time for p in parts]),
            np.concatenate([p.rate for p in parts]),
            np.concatenate([p.mark_price for p in parts]),
        )
        return whole.window(low, high)

    def missing(
        self, exchange: str, symbol: str, start: TimeLike, end: TimeLike, *, interval: str = "8h"
    ) -> list[TimeRange]:
        """The parts of ``[start, end)`` where at least one funding rate is missing.

        Before the first stored rate when it comes an interval or more after ``start``,
        between rates 1.5 intervals or more apart, and after the last when more than an
        interval remains before ``end``.

        Args:
            exchange: Exchange id.
            symbol: Symbol.
            start: Start of the window (UTC when naive).
            end: End of the window, exclusive.
            interval: The funding interval.

        Returns:
            The ranges, oldest first.

        Raises:
            ConfigError: If the window is empty or the interval invalid.
        """
        low, high = parse_instant(start, name="start"), parse_instant(end, name="end")
        if high <= low:
            raise ConfigError(f"end ({end}) must be after start ({start})")
        step = _interval_ns(interval)
        time = self._read_ns(self._key(exchange, symbol), low, high).time
        if not time.size:
            return to_time_ranges([(low, high)])
        holes: list[NsRange] = []
        if int(time[0]) - low >= step:
            holes.append((low, int(time[0])))
        holes.extend(find_gaps(time, step))
        if high - int(time[-1]) > step:
            holes.append((int(time[-1]) + 1, high))
        return to_time_ranges(holes)


def _merge(
    stored: FundingSeries, new: FundingSeries, overwrite: bool, source: str
) -> tuple[FundingSeries, int, int]:
    """Union of stored and new rates; the counts of added and replaced rows."""
    position = np.searchsorted(stored.time, new.time)
    inside = position < len(stored)
    same = np.zeros(len(new), dtype=bool)
    same[inside] = stored.time[position[inside]] == new.time[inside]
    at = position[same]
    old_mark, new_mark = stored.mark_price[at], new.mark_price[same]
    differs = (stored.rate[at] != new.rate[same]) | (
        ~np.isnan(old_mark) & ~np.isnan(new_mark) & (old_mark != new_mark)
    )
    if differs.any() and not overwrite:
        first = int(np.argmax(differs))
        row = int(np.flatnonzero(same)[first])
        raise DataError(
            f"funding at {format_ns(int(new.time[row]))} is {float(new.rate[row])!r} "
            f"(mark {float(new.mark_price[row])!r}) but the store holds "
            f"{float(stored.rate[at][first])!r} (mark {float(old_mark[first])!r}); "
            "pass overwrite=True to replace it",
            source=source,
            row=row,
        )
    filled = np.isnan(old_mark) & ~np.isnan(new_mark)
    rate, mark = stored.rate.copy(), stored.mark_price.copy()
    rate[at] = new.rate[same]
    mark[at] = np.where(np.isnan(new_mark), old_mark, new_mark)
    time = np.concatenate((stored.time, new.time[~same]))
    order = np.argsort(time, kind="stable")
    merged = FundingSeries(
        time[order],
        np.concatenate((rate, new.rate[~same]))[order],
        np.concatenate((mark, new.mark_price[~same]))[order],
    )
    validate_funding(merged.time, merged.rate, merged.mark_price, source=source + " (merged)")
    _check_spacing(merged.time, source)
    return merged, int((~same).sum()), int((differs | filled).sum())


def _check_spacing(time: np.ndarray[Any, np.dtype[np.int64]], source: str) -> None:
    close = np.flatnonzero(np.diff(time) < _MIN_SPACING_NS)
    if close.size:
        i = int(close[0])
        raise DataError(
            f"funding times {format_ns(int(time[i]))} and {format_ns(int(time[i + 1]))} are "
            "less than a minute apart (one funding twice, with clock jitter?); nothing was "
            "written",
            source=source,
        )


def _check_neighbours(
    key: SeriesKey,
    root: Path,
    existing: dict[str, Partition],
    changed: dict[str, FundingSeries],
    source: str,
) -> None:
    """Check spacing where a changed year meets the years before and after it."""
    names = sorted(set(existing) | set(changed))
    for before, after in itertools.pairwise(names):
        if before not in changed and after not in changed:
            continue
        first = changed[before] if before in changed else _read_file(existing[before].path)
        second = changed[after] if after in changed else _read_file(existing[after].path)
        if len(first) and len(second):
            _check_spacing(np.array([first.time[-1], second.time[0]], dtype=np.int64), source)


def _from_frame(frame: pd.DataFrame, source: str) -> FundingSeries:
    import pandas as pd  # noqa: PLC0415 - pandas only with caller frames

    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError("funding rates need a DatetimeIndex of funding times", source=source)
    if "rate" not in frame.columns:
        raise DataError("funding rates need a 'rate' column", source=source)
    index = frame.index if frame.index.tz is None else frame.index.tz_convert("UTC")
    mark = frame["mark_price"] if "mark_price" in frame.columns else np.full(len(frame), np.nan)
    return validate_funding(
        np.asarray(index.as_unit("ns").asi8, dtype=np.int64),
        np.asarray(frame["rate"], dtype=np.float64),
        np.asarray(mark, dtype=np.float64),
        source=source,
    )


def _schema() -> Any:
    import pyarrow as pa  # noqa: PLC0415 - pyarrow stays out of `import quantkit`

    return pa.schema(
        [
            pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False),
            pa.field("rate", pa.float64(), nullable=False),
            pa.field("mark_price", pa.float64(), nullable=False),
        ],
        metadata={b"quantkit.funding": _FORMAT},
    )


def _write_file(path: Path, series: FundingSeries, compression: str) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    layout = _schema()
    table = pa.Table.from_arrays(
        [
            pa.array(series.time.view("datetime64[ns]"), type=layout.field("time").type),
            pa.array(series.rate),
            pa.array(series.mark_price),
        ],
        schema=layout,
    )
    _arrow.atomic_write(path, lambda target: pq.write_table(table, target, compression=compression))


def _read_file(path: Path) -> FundingSeries:
    import pyarrow.parquet as pq  # noqa: PLC0415

    with _arrow.arrow_errors(str(path)):
        found = pq.read_schema(path)
        if (found.metadata or {}).get(b"quantkit.funding") != _FORMAT:
            raise StoreError(f"{path}: not a funding file of this store; move it out of the store")
        table = pq.read_table(path, schema=_schema())
    return validate_funding(
        table.column("time").to_numpy().view(np.int64),
        table.column("rate").to_numpy(),
        table.column("mark_price").to_numpy(),
        source=str(path),
    )
