"""Resumable downloads of candles from a venue into a `ParquetStore`.

`download` asks the store what it lacks in the window (`ParquetStore.missing`: before the first
bar, after the last, and the holes between) and fetches only that, with
`quantkit.data.fetch.afetch_ohlcv_range`. A second run over the same window therefore asks the
venue for nothing, and an interrupted run loses at most the partition it was fetching: each
missing range is fetched and written one partition period (a month of one-minute bars, a year of
hourly bars) at a time.

Some ranges the venue simply does not have: before the market was listed, or during an outage.
When a fetched range comes back without bars and the store holds bars after it, the range is
recorded as a *known gap* (`ParquetStore.known_gaps`) and later runs skip it; pass
``recheck_gaps=True`` to ask again. The range after the last bar is never recorded: the venue may
still publish it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.data.source import _SourceView
from quantkit.data.store.layout import SeriesKey
from quantkit.data.store.ranges import NsRange, TimeRange, subtract, to_time_ranges
from quantkit.errors import ConfigError

if TYPE_CHECKING:
    from quantkit.data.fetch import RetryPolicy
    from quantkit.data.source import OhlcvRow, OhlcvSource
    from quantkit.data.store.parquet_store import ParquetStore

__all__ = ["DownloadReport", "adownload", "download"]

_WEEK = 7 * 86_400 * 10**9
_MONDAY = 4 * 86_400 * 10**9  # 1970-01-01 was a Thursday; weekly bars open on Mondays


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What a download fetched.

    Attributes:
        exchange: The venue's id (the store's exchange key).
        symbol: Symbol.
        timeframe: Canonical timeframe.
        window: The range of open times the download was about, aligned to the timeframe.
        fetched: The ranges asked of the venue (missing ranges, cut at partition boundaries).
        requests: Requests sent to the venue (retries included).
        rows: Bars received.
        added: Bars added to the store.
        gaps: Ranges the venue had no bars for, now recorded as known gaps.
        still_missing: Ranges of the window the store still lacks (known gaps excluded), such
            as the end of the window when the venue has not published it yet.
    """

    exchange: str
    symbol: str
    timeframe: str
    window: TimeRange
    fetched: tuple[TimeRange, ...]
    requests: int
    rows: int
    added: int
    gaps: tuple[TimeRange, ...]
    still_missing: tuple[TimeRange, ...]

    @property
    def complete(self) -> bool:
        """Whether the store now holds the whole window, known gaps aside."""
        return not self.still_missing


class _CountingSource(_SourceView):
    """An `OhlcvSource` that counts the candle requests it passes on."""

    def __init__(self, source: OhlcvSource) -> None:
        super().__init__(source)
        self.requests = 0

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        self.requests += 1
        return await self._source.fetch_ohlcv(symbol, timeframe, since_ms, limit)


async def adownload(
    source: OhlcvSource,
    store: ParquetStore,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
    recheck_gaps: bool = False,
) -> DownloadReport:
    """Fetch what the store lacks of ``symbol`` between ``start`` and ``end``, and store it.

    Store reads and writes run in worker threads, so the event loop is never blocked. The
    source is left open (close it with ``await source.aclose()``).

    Args:
        source: The venue, e.g. a `CcxtExchange`; ``source.id`` is the store's exchange key.
        store: Where the bars go.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        timeframe: One of ``source.timeframes``, e.g. ``"1h"``.
        start: First open time wanted (UTC when naive); rounded up to the timeframe.
        end: End of the window, exclusive (UTC when naive), rounded up to the timeframe;
            ``None`` means now, without the bar still forming.
        progress: Progress bars as `fetch_ohlcv_range` shows them.
        retry: How transient failures are retried (a `RetryPolicy`); the default when ``None``.
        recheck_gaps: Ask the venue again for the ranges recorded as known gaps.

    Returns:
        What was fetched and what is still missing.

    Raises:
        ExchangeError: If the venue refuses (unknown symbol, timeframe not offered).
        TransientError: If a request still fails after the retries; what was fetched before
            is kept, and the next run resumes from there.
        ConfigError: If the window or the key is invalid.
        DataError: If the venue's bars are invalid or conflict with stored ones.
        StoreError: If the store cannot be read or written.
    """
    import anyio.to_thread  # noqa: PLC0415 - keep `import quantkit` light

    from quantkit.data.fetch import afetch_ohlcv_range  # noqa: PLC0415

    key = SeriesKey.make(source.id, symbol, timeframe)
    window = _window(key, start, end)
    wanted = await anyio.to_thread.run_sync(
        partial(_wanted, store, key, window, recheck_gaps=recheck_gaps)
    )
    counting = _CountingSource(source)
    fetched: list[NsRange] = []
    rows = added = 0
    for first, stop in _by_partition(key, wanted):
        frame = await afetch_ohlcv_range(
            counting,
            symbol,
            timeframe,
            _instant(first),
            _instant(stop),
            progress=progress,
            retry=retry,
        )
        fetched.append((first, stop))
        rows += len(frame)
        if len(frame):
            report = await anyio.to_thread.run_sync(
                store.write, key.exchange, symbol, key.timeframe, frame
            )
            added += report.added
        del frame
    gaps, still = await anyio.to_thread.run_sync(_settle, store, key, window, wanted)
    return DownloadReport(
        key.exchange,
        symbol,
        key.timeframe,
        TimeRange.from_ns(*window),
        tuple(to_time_ranges(fetched)),
        counting.requests,
        rows,
        added,
        tuple(to_time_ranges(gaps)),
        tuple(to_time_ranges(still)),
    )


def download(
    source: OhlcvSource,
    store: ParquetStore,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
    recheck_gaps: bool = False,
) -> DownloadReport:
    """Fetch what the store lacks, from synchronous code; see `adownload`.

    Runs in a fresh event loop and closes ``source`` before returning (a `CcxtExchange`
    reopens on its next use), like `fetch_ohlcv_range`.

    Args:
        source: The venue; ``source.id`` is the store's exchange key.
        store: Where the bars go.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        timeframe: One of ``source.timeframes``, e.g. ``"1h"``.
        start: First open time wanted (UTC when naive).
        end: End of the window, exclusive; ``None`` means now (without the forming bar).
        progress: Progress bars as `fetch_ohlcv_range` shows them.
        retry: How transient failures are retried; the default `RetryPolicy` when ``None``.
        recheck_gaps: Ask the venue again for the ranges recorded as known gaps.

    Returns:
        What was fetched and what is still missing.

    Raises:
        ExchangeError: If the venue refuses (unknown symbol, timeframe not offered).
        TransientError: If a request still fails after the retries (progress is kept).
        ConfigError: If the window or the key is invalid.
        DataError: If the venue's bars are invalid or conflict with stored ones.
        StoreError: If the store cannot be read or written.

    Examples:
        >>> import tempfile
        >>> from quantkit.data.store import ParquetStore
        >>> from quantkit.testing import LocalExchange
        >>> store = ParquetStore(tempfile.mkdtemp())
        >>> with LocalExchange() as local:
        ...     first = download(local.ccxt_exchange(), store, "BTC/USDT", "1h",
        ...                      "2024-01-01", "2024-01-03")
        ...     again = download(local.ccxt_exchange(), store, "BTC/USDT", "1h",
        ...                      "2024-01-01", "2024-01-03")
        >>> first.added, again.requests
        (48, 0)
    """
    import anyio  # noqa: PLC0415 - keep `import quantkit` light

    async def run() -> DownloadReport:
        try:
            return await adownload(
                source,
                store,
                symbol,
                timeframe,
                start,
                end,
                progress=progress,
                retry=retry,
                recheck_gaps=recheck_gaps,
            )
        finally:
            await source.aclose()

    return anyio.run(run)


def _window(key: SeriesKey, start: TimeLike, end: TimeLike | None) -> NsRange:
    """The window of open times, on the timeframe's grid; ``end=None`` means now."""
    step = key.timeframe_ns
    origin = _MONDAY if step % _WEEK == 0 else 0
    first = _ceil(parse_instant(start, name="start"), step, origin)
    if end is None:
        stop = _ceil(time.time_ns() - step + 1, step, origin)
    else:
        stop = _ceil(parse_instant(end, name="end"), step, origin)
    if stop <= first:
        raise ConfigError(f"the window from {start!r} to {end or 'now'!r} holds no whole bar")
    return first, stop


def _ceil(instant: int, step: int, origin: int) -> int:
    return -((origin - instant) // step) * step + origin


def _wanted(
    store: ParquetStore, key: SeriesKey, window: NsRange, *, recheck_gaps: bool
) -> list[NsRange]:
    """The missing ranges of the window, less the known gaps unless they are rechecked."""
    missing = [
        r.to_ns() for r in store.missing(key.exchange, key.symbol, key.timeframe, *_ts(window))
    ]
    if recheck_gaps:
        return missing
    known = [r.to_ns() for r in store.known_gaps(key.exchange, key.symbol, key.timeframe)]
    return [part for hole in missing for part in subtract(hole, known)]


def _by_partition(key: SeriesKey, ranges: list[NsRange]) -> list[NsRange]:
    """Cut ranges at partition boundaries, so that each piece is fetched and written alone."""
    pieces = []
    unit = f"datetime64[{key.unit}]"
    for first, stop in ranges:
        cursor = first
        while cursor < stop:
            period = np.datetime64(cursor, "ns").astype(unit)
            boundary = int((period + 1).astype("datetime64[ns]").astype(np.int64))
            pieces.append((cursor, min(boundary, stop)))
            cursor = boundary
    return pieces


def _settle(
    store: ParquetStore, key: SeriesKey, window: NsRange, fetched: list[NsRange]
) -> tuple[list[NsRange], list[NsRange]]:
    """Record the fetched ranges the venue had no bars for; return them and what is missing."""
    missing = [
        r.to_ns() for r in store.missing(key.exchange, key.symbol, key.timeframe, *_ts(window))
    ]
    empty = [part for hole in missing for part in _within(hole, fetched)]
    later = store.coverage(key.exchange, key.symbol, key.timeframe, start=_ts(window)[1])
    gaps = [r for r in empty if r[1] < window[1] or later]
    if gaps:
        store.add_known_gaps(key.exchange, key.symbol, key.timeframe, to_time_ranges(gaps))
    known = [r.to_ns() for r in store.known_gaps(key.exchange, key.symbol, key.timeframe)]
    still = [part for hole in missing for part in subtract(hole, known)]
    return gaps, still


def _within(hole: NsRange, ranges: list[NsRange]) -> list[NsRange]:
    """The parts of ``hole`` inside any of ``ranges`` (sorted, disjoint)."""
    outside = subtract(hole, ranges)
    return subtract(hole, outside)


def _ts(window: NsRange) -> tuple[TimeLike, TimeLike]:
    time_range = TimeRange.from_ns(*window)
    return time_range.start, time_range.end


def _instant(instant: int) -> TimeLike:
    return TimeRange.from_ns(instant, instant).start
