"""Downloads for perpetuals: mark/index price candles and funding-rate history, resumable.

Mark and index candles are bars like any others: `adownload_prices` runs the bar downloader
(`quantkit.data.downloader.adownload`, resumable by partition, known gaps, validation) on a view
of the venue that serves the chosen price, and stores them in the `ParquetStore` under their own
series, the symbol with a ``#mark`` or ``#index`` suffix (`price_symbol`), so they never mix
with last-price bars. A venue without candles of that price is refused, unless
``fallback_to_last=True``: then the last-price candles are downloaded (under the plain symbol)
with a warning, and the report's symbol says so. `read_price_bars` reads them back as the
`BarSeries` a backtest takes.

Funding rates go to a `FundingStore` (same root, same atomic, locked, validated writes):
`adownload_funding` asks the store what is missing (`FundingStore.missing`), pages through the
venue ``funding_limit`` rates at a time from there, and writes each page as it arrives, so an
interrupted download keeps every page it received and the next run starts after the last
stored rate. Read them back with `FundingStore.read`: a `FundingSeries` of ``time`` (int64 ns)
and ``rate`` (float64) arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal, Protocol

from quantkit.data._timestamps import TimeLike
from quantkit.data.fetch import RetryPolicy, _bounds, _Retrier, _run_closing
from quantkit.data.funding import FundingSeries, FundingSource
from quantkit.data.source import OhlcvRow, OhlcvSource, TradeRow, _SourceView
from quantkit.data.store.ranges import NsRange, TimeRange
from quantkit.errors import ConfigError, DataError, ExchangeError

if TYPE_CHECKING:
    from quantkit.data.downloader import DownloadReport
    from quantkit.data.store.funding_store import FundingStore
    from quantkit.data.store.parquet_store import ParquetStore
    from quantkit.domain.bars import BarSeries

__all__ = [
    "FundingDownloadReport",
    "PriceKind",
    "PriceOhlcvSource",
    "adownload_funding",
    "adownload_prices",
    "download_funding",
    "download_prices",
    "price_symbol",
    "read_price_bars",
]

PriceKind = Literal["last", "mark", "index"]
"""Which price a candle follows: trades (``"last"``), the mark price or the index price."""

_MS = 1_000_000


def price_symbol(symbol: str, price: PriceKind) -> str:
    """The store's symbol for candles of a price: ``symbol#mark``, ``symbol#index``, or ``symbol``.

    Args:
        symbol: The market's symbol, e.g. ``"BTC/USDT:USDT"``.
        price: Which price.

    Returns:
        The series' symbol in the store.

    Raises:
        ConfigError: If ``price`` is not one of the three kinds.

    Examples:
        >>> price_symbol("BTC/USDT:USDT", "mark"), price_symbol("BTC/USDT:USDT", "last")
        ('BTC/USDT:USDT#mark', 'BTC/USDT:USDT')
    """
    if price not in ("last", "mark", "index"):
        raise ConfigError(f"price must be 'last', 'mark' or 'index', got {price!r}")
    return symbol if price == "last" else f"{symbol}#{price}"


class PriceOhlcvSource(OhlcvSource, Protocol):
    """A venue that serves candles of the mark and index prices too (e.g. ``CcxtExchange``)."""

    def offers_price(self, price: PriceKind) -> bool:
        """Whether the venue serves candles of ``price``."""
        ...

    async def fetch_price_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int, price: PriceKind
    ) -> list[OhlcvRow]:
        """Candles of ``price`` opening at or after ``since_ms``, oldest first."""
        ...


class _PriceView(_SourceView):
    """An `OhlcvSource` whose candles of ``symbol#price`` are the venue's ``price`` candles."""

    def __init__(self, source: PriceOhlcvSource, price: PriceKind) -> None:
        super().__init__(source)
        self._prices = source
        self._price = price

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[OhlcvRow]:
        market = symbol.removesuffix(f"#{self._price}")
        return await self._prices.fetch_price_ohlcv(market, timeframe, since_ms, limit, self._price)

    async def fetch_trades(self, symbol: str, since_ms: int, limit: int) -> list[TradeRow]:
        raise ExchangeError(  # pragma: no cover - the bar downloader never asks
            f"{self._price} prices have no trades", exchange=self.id, reason="not_supported"
        )


async def adownload_prices(
    source: PriceOhlcvSource,
    store: ParquetStore,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    price: PriceKind = "mark",
    fallback_to_last: bool = False,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> DownloadReport:
    """Fetch the mark (or index) candles the store lacks, into the series `price_symbol` names.

    Resumable and validated like `adownload` (which it runs); the source is left open.

    Args:
        source: The venue, e.g. a `CcxtExchange` of ``"binanceusdm"``.
        store: Where the bars go.
        symbol: Unified symbol, e.g. ``"BTC/USDT:USDT"``.
        timeframe: One of ``source.timeframes``.
        start: First open time wanted (UTC when naive).
        end: End of the window, exclusive; ``None`` means now (without the forming bar).
        price: ``"mark"``, ``"index"`` or ``"last"``.
        fallback_to_last: When the venue has no candles of ``price``, download last-price
            candles instead (stored under ``symbol``, with a warning) rather than refusing.
        progress: Progress bars as `fetch_ohlcv_range` shows them.
        retry: How transient failures are retried.

    Returns:
        The bar downloader's report; its ``symbol`` is the series written
        (``"BTC/USDT:USDT#mark"``, or ``"BTC/USDT:USDT"`` after a fallback).

    Raises:
        ExchangeError: If the venue has no candles of ``price`` (``reason="not_supported"``)
            and ``fallback_to_last`` is false, or it refuses.
        TransientError: If a request still fails after the retries (progress is kept).
        DataError: If the venue's candles are invalid or conflict with stored ones.
        ConfigError: If ``price`` or the window is invalid.
        StoreError: If the store cannot be written.
    """
    from quantkit.data.downloader import adownload  # noqa: PLC0415 - a cycle otherwise

    series = price_symbol(symbol, price)
    run = partial(adownload, store=store, timeframe=timeframe, start=start, end=end,
                  progress=progress, retry=retry)  # fmt: skip
    if price == "last":
        return await run(source=source, symbol=symbol)
    if source.offers_price(price):
        return await run(source=_PriceView(source, price), symbol=series)
    if not fallback_to_last:
        raise ExchangeError(
            f"cannot download {symbol} {price} candles: the venue serves none; pass "
            "fallback_to_last=True to use last-price candles instead",
            exchange=source.id,
            reason="not_supported",
        )
    warnings.warn(
        f"{source.id} serves no {price} candles; downloading last-price candles of {symbol} "
        f"instead (stored as {symbol!r}, not {series!r})",
        stacklevel=2,
    )
    return await run(source=source, symbol=symbol)


def download_prices(
    source: PriceOhlcvSource,
    store: ParquetStore,
    symbol: str,
    timeframe: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    price: PriceKind = "mark",
    fallback_to_last: bool = False,
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> DownloadReport:
    """`adownload_prices` from synchronous code; closes ``source`` before returning.

    Args:
        source: The venue.
        store: Where the bars go.
        symbol: Unified symbol.
        timeframe: One of ``source.timeframes``.
        start: First open time wanted.
        end: End of the window, exclusive; ``None`` means now.
        price: ``"mark"``, ``"index"`` or ``"last"``.
        fallback_to_last: Use last-price candles when the venue has none of ``price``.
        progress: Progress bars.
        retry: How transient failures are retried.

    Returns:
        The report (see `adownload_prices`).

    Raises:
        ExchangeError: See `adownload_prices`.
        TransientError: If a request still fails after the retries.
        DataError: If the venue's candles are invalid.
        ConfigError: If an argument is invalid.
        StoreError: If the store cannot be written.
    """
    call = partial(adownload_prices, source, store, symbol, timeframe, start, end, price=price,
                   fallback_to_last=fallback_to_last, progress=progress, retry=retry)  # fmt: skip
    return _run_closing("download_prices", source, call)


def read_price_bars(
    store: ParquetStore,
    exchange: str,
    symbol: str,
    timeframe: str,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    *,
    price: PriceKind = "mark",
) -> BarSeries:
    """Read stored mark (or index, or last) candles as the `BarSeries` a backtest takes.

    Args:
        store: The bar store.
        exchange: Exchange id, e.g. ``"binanceusdm"``.
        symbol: Unified symbol, e.g. ``"BTC/USDT:USDT"``.
        timeframe: Bar length.
        start: First open time (``None``: from the first bar).
        end: End, exclusive (``None``: to the last bar).
        price: Which price.

    Returns:
        The bars (mark and index bars have volume 0).

    Raises:
        DataError: If no such bars are stored in the range (the message says how to get them,
            or to read ``price="last"`` as the documented fallback).
        ConfigError: If an argument is invalid.
        StoreError: If a file is corrupt.
    """
    series = price_symbol(symbol, price)
    try:
        return store.read_series(exchange, series, timeframe, start, end)
    except DataError as exc:
        if price == "last":
            raise
        raise DataError(
            f"{exc.problem}; download them with download_prices(price={price!r}), or read "
            "price='last' as the fallback where the venue has no such candles",
            source=exc.source,
        ) from exc


@dataclass(frozen=True, slots=True)
class FundingDownloadReport:
    """What a funding download fetched.

    Attributes:
        exchange: The venue's id (the store's exchange key).
        symbol: Symbol.
        window: The window asked for.
        fetched: The missing ranges asked of the venue.
        requests: Requests sent (retries included).
        rows: Rates received within the ranges.
        added: Rates added to the store.
        still_missing: Ranges of the window still without their rates (the venue had none,
            e.g. before the market was listed or not yet published).
    """

    exchange: str
    symbol: str
    window: TimeRange
    fetched: tuple[TimeRange, ...]
    requests: int
    rows: int
    added: int
    still_missing: tuple[TimeRange, ...]

    @property
    def complete(self) -> bool:
        """Whether the store now holds every funding rate of the window."""
        return not self.still_missing


@dataclass(slots=True)
class _Tally:
    requests: int = 0
    rows: int = 0
    added: int = 0


async def _fetch_range(
    source: FundingSource,
    store: FundingStore,
    symbol: str,
    hole: NsRange,
    fetch: _Retrier,
    tally: _Tally,
) -> None:
    """Page through one missing range, writing each page as it arrives."""
    import anyio.to_thread  # noqa: PLC0415 - keep `import quantkit` light

    first, stop = hole
    cursor = -(-first // _MS)  # integer ceiling: ns values exceed a float's precision
    limit = max(1, source.funding_limit)
    while cursor * _MS < stop:
        tally.requests += 1
        try:
            page = await fetch(partial(source.fetch_funding_rates, symbol, cursor, limit))
        except ExchangeError as exc:
            detail = str(exc).removeprefix(f"{exc.exchange}: ")
            raise ExchangeError(
                f"cannot download {symbol} funding rates: {detail}", exchange=source.id,
                reason=exc.reason,
            ) from exc  # fmt: skip
        if not page:
            return
        keep = [row for row in page if first <= row[0] * _MS < stop]
        if keep:
            rates = FundingSeries.from_rows(keep, source=f"{source.id} {symbol} funding rates")
            report = await anyio.to_thread.run_sync(partial(store.write, source.id, symbol, rates))
            tally.rows += len(keep)
            tally.added += report.added
        after = max(row[0] for row in page) + 1
        if after <= cursor:  # the venue ignored the cursor: no progress possible
            return
        cursor = after


async def adownload_funding(
    source: FundingSource,
    store: FundingStore,
    symbol: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    interval: str = "8h",
    retry: RetryPolicy | None = None,
) -> FundingDownloadReport:
    """Fetch the funding rates the store lacks of ``symbol`` in ``[start, end)``, and store them.

    Args:
        source: The venue, e.g. a `CcxtExchange` of ``"binanceusdm"``; left open.
        store: Where the rates go.
        symbol: Unified symbol, e.g. ``"BTC/USDT:USDT"``.
        start: Start of the window (UTC when naive).
        end: End, exclusive; ``None`` means now.
        interval: The market's funding interval (what counts as a missing rate).
        retry: How transient failures are retried.

    Returns:
        What was fetched and what is still missing.

    Raises:
        ExchangeError: If the venue refuses (no funding history, unknown symbol).
        TransientError: If a request still fails after the retries; every page received
            before is stored, and the next run resumes after it.
        DataError: If the venue's rates are invalid or conflict with stored ones.
        ConfigError: If the window or the interval is invalid.
        StoreError: If the store cannot be written.
    """
    import anyio.to_thread  # noqa: PLC0415 - keep `import quantkit` light

    start_ms, end_ms = _bounds(start, end)
    window = TimeRange.from_ns(start_ms * _MS, end_ms * _MS)
    missing = partial(store.missing, source.id, symbol, window.start, window.end, interval=interval)
    wanted = await anyio.to_thread.run_sync(missing)
    fetch = _Retrier(retry or RetryPolicy(), f"{source.id} {symbol} funding rates")
    tally = _Tally()
    for hole in wanted:
        await _fetch_range(source, store, symbol, hole.to_ns(), fetch, tally)
    still = await anyio.to_thread.run_sync(missing)
    return FundingDownloadReport(
        source.id, symbol, window, tuple(wanted), tally.requests, tally.rows, tally.added,
        tuple(still),
    )  # fmt: skip


def download_funding(
    source: FundingSource,
    store: FundingStore,
    symbol: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    interval: str = "8h",
    retry: RetryPolicy | None = None,
) -> FundingDownloadReport:
    """`adownload_funding` from synchronous code; closes ``source`` before returning.

    Args:
        source: The venue.
        store: Where the rates go.
        symbol: Unified symbol.
        start: Start of the window.
        end: End, exclusive; ``None`` means now.
        interval: The funding interval.
        retry: How transient failures are retried.

    Returns:
        The report.

    Raises:
        ExchangeError: If the venue refuses.
        TransientError: If a request still fails after the retries (progress is kept).
        DataError: If the venue's rates are invalid.
        ConfigError: If an argument is invalid.
        StoreError: If the store cannot be written.

    Examples:
        >>> import tempfile
        >>> from quantkit.data.store import FundingStore
        >>> from quantkit.testing import LocalFuturesExchange
        >>> store = FundingStore(tempfile.mkdtemp())
        >>> with LocalFuturesExchange(end="2024-01-03") as local:
        ...     first = download_funding(local.ccxt_exchange(), store, "BTC/USDT:USDT",
        ...                              "2024-01-01", "2024-01-03")
        ...     again = download_funding(local.ccxt_exchange(), store, "BTC/USDT:USDT",
        ...                              "2024-01-01", "2024-01-03")
        >>> first.added, first.complete, again.requests
        (6, True, 0)
    """
    call = partial(adownload_funding, source, store, symbol, start, end, interval=interval,
                   retry=retry)  # fmt: skip
    return _run_closing("download_funding", source, call)
