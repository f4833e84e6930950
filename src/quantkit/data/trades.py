"""Trades (tick data) from a venue between two instants, and their aggregation into bars.

Paging, retries and the sync/async pairing work as in `quantkit.data.fetch`, whose helpers this
module shares.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data.fetch import (
    _MONDAY_NS,
    _MS,
    _WEEK_NS,
    RetryPolicy,
    _bounds,
    _progress_bar,
    _refuse,
    _Retrier,
    _run_closing,
    _utc_index,
)
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError, ExchangeError

if TYPE_CHECKING:
    import pandas as pd

    from quantkit.data._timestamps import TimeLike
    from quantkit.data.source import OhlcvSource, TradeRow

__all__ = ["afetch_trades_range", "fetch_trades_range", "trades_to_bars"]


async def afetch_trades_range(
    source: OhlcvSource,
    symbol: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    limit: int = 1000,
    window: str = "1h",
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Download the trades of ``symbol`` in ``[start, end)``, page by page.

    Each request asks for trades at or after a cursor, which then moves to the last trade's
    time; trades sharing that millisecond are not taken twice. Some venues search only a window
    after the cursor (Binance: one hour), so an answer with nothing new moves the cursor on by
    ``window`` rather than ending the download: it ends at ``end``.

    Args:
        source: The venue, e.g. a `CcxtExchange`.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        start: Earliest trade time wanted (UTC when naive).
        end: End of the range, exclusive (UTC when naive); ``None`` means now.
        limit: Trades per request (Binance's maximum is 1000).
        window: How far the venue searches after the cursor in one request.
        progress: ``None``: a progress bar on a terminal; ``True``: always; ``False``: never.
        retry: How transient failures are retried; `RetryPolicy()` when ``None``.

    Returns:
        The trades in the venue's order: UTC ``DatetimeIndex`` named ``"time"`` (several trades
        may share a time), float columns ``price`` and ``amount`` (base currency), and ``side``,
        the taker's side (``"buy"``/``"sell"``, ``""`` when unknown).

    Raises:
        ExchangeError: If the venue offers no trades or refuses the request (names the venue
            and symbol).
        TransientError: If a request still fails after the retries.
        ConfigError: If the dates, ``limit`` or ``window`` are invalid.
        DataError: If the venue answers malformed trades.
    """
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    window_ms = parse_timeframe(window) // _MS
    start_ms, end_ms = _bounds(start, end)
    what = f"{symbol} trades"
    fetch = _Retrier(retry or RetryPolicy(), f"{source.id} {what}")
    trades: list[TradeRow] = []
    cursor, seen = start_ms, 0  # `seen`: trades at time `cursor` already kept
    minutes = (end_ms - start_ms) / 60_000
    with _progress_bar(
        progress, minutes, minutes * 60_000 / window_ms, f"{source.id} {what}"
    ) as bar:
        while cursor < end_ms:
            since = cursor
            try:
                page = await fetch(partial(source.fetch_trades, symbol, since, limit))
            except ExchangeError as exc:
                raise _refuse(exc, source, what) from exc
            fresh = _fresh_trades(page, cursor, seen)
            trades.extend(row for row in fresh if row[0] < end_ms)
            if fresh:
                last = fresh[-1][0]
                cursor, seen = last, _ties_at_end(fresh) + (seen if last == cursor else 0)
            elif len(page) >= limit:
                warnings.warn(
                    f"{source.id} {symbol}: more than {limit} trades at {cursor} ms; the rest "
                    "of that millisecond is skipped (raise `limit` to keep them)",
                    stacklevel=2,
                )
                cursor, seen = cursor + 1, 0
            else:
                cursor, seen = cursor + window_ms, 0
            bar.update(min(minutes, (min(cursor, end_ms) - start_ms) / 60_000) - bar.n)
    return _trade_frame(trades, source.id, symbol)


def _fresh_trades(page: list[TradeRow], cursor: int, seen: int) -> list[TradeRow]:
    """The trades of a page not kept yet.

    None before the cursor, and the first ``seen`` trades at the cursor's millisecond skipped.
    """
    fresh: list[TradeRow] = []
    skipped = 0
    for row in page:
        if row[0] < cursor:
            continue
        if row[0] == cursor and skipped < seen:
            skipped += 1
            continue
        fresh.append(row)
    return fresh


def _ties_at_end(rows: list[TradeRow]) -> int:
    """How many of the last rows share the last row's time."""
    last = rows[-1][0]
    count = 0
    for row in reversed(rows):
        if row[0] != last:
            break
        count += 1
    return count


def _trade_frame(trades: list[TradeRow], exchange: str, symbol: str) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415 - keep `import quantkit` light

    times = np.fromiter((row[0] for row in trades), dtype=np.int64, count=len(trades))
    frame = pd.DataFrame(
        {
            "price": np.fromiter((row[1] for row in trades), np.float64, len(trades)),
            "amount": np.fromiter((row[2] for row in trades), np.float64, len(trades)),
            "side": np.array([row[3] for row in trades], dtype=object),
        },
        index=_utc_index(times * _MS),
    )
    frame.attrs.update(exchange=exchange, symbol=symbol)
    return frame


def fetch_trades_range(
    source: OhlcvSource,
    symbol: str,
    start: TimeLike,
    end: TimeLike | None = None,
    *,
    limit: int = 1000,
    window: str = "1h",
    progress: bool | None = None,
    retry: RetryPolicy | None = None,
) -> pd.DataFrame:
    """Download trades from synchronous code; see `afetch_trades_range`.

    Runs in a fresh event loop and closes ``source`` before returning.

    Args:
        source: The venue, e.g. a `CcxtExchange`.
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        start: Earliest trade time wanted (UTC when naive).
        end: End of the range, exclusive; ``None`` means now.
        limit: Trades per request.
        window: How far the venue searches after the cursor in one request.
        progress: ``None``: a progress bar on a terminal; ``True``: always; ``False``: never.
        retry: How transient failures are retried; `RetryPolicy()` when ``None``.

    Returns:
        The trades, as `afetch_trades_range` returns them.

    Raises:
        ExchangeError: If the venue offers no trades or refuses the request.
        TransientError: If a request still fails after the retries.
        ConfigError: If the dates, ``limit`` or ``window`` are invalid.
        DataError: If the venue answers malformed trades.
    """
    call = partial(afetch_trades_range, source, symbol, start, end, limit=limit, window=window,
                   progress=progress, retry=retry)  # fmt: skip
    return _run_closing("fetch_trades_range", source, call)


def trades_to_bars(trades: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Aggregate trades into OHLCV bars labelled by their open time.

    A bar's open is its first trade's price, high and low the extremes, close the last trade's
    price and volume the summed amount. Bars are aligned to the Unix epoch (UTC midnight for
    days), weekly bars open on Monday. Intervals without a trade produce no bar: gaps stay gaps.

    Args:
        trades: Trades with a ``DatetimeIndex`` (naive means UTC) and columns ``price`` and
            ``amount``, as `fetch_trades_range` returns them; any order (ties keep theirs).
        timeframe: Bar length such as ``"1m"``, ``"1h"``, ``"1d"``.

    Returns:
        Bars like `fetch_ohlcv_range` returns: UTC ``DatetimeIndex`` named ``"time"``, float
        columns ``open``, ``high``, ``low``, ``close``, ``volume``; ``attrs`` keeps the trades'
        and adds ``timeframe``.

    Raises:
        ConfigError: If the timeframe is not understood.
        DataError: If the index or a column is missing, or a price or amount is not finite.

    Examples:
        >>> import pandas as pd
        >>> times = ["2024-01-01 00:00:10", "2024-01-01 00:00:50", "2024-01-01 00:01:05"]
        >>> trades = pd.DataFrame(
        ...     {"price": [10.0, 12.0, 9.0], "amount": [1.0, 2.0, 0.5]},
        ...     index=pd.DatetimeIndex(times, tz="UTC"),
        ... )
        >>> trades_to_bars(trades, "1m").to_numpy().tolist()
        [[10.0, 12.0, 10.0, 12.0, 3.0], [9.0, 9.0, 9.0, 9.0, 0.5]]
    """
    import pandas as pd  # noqa: PLC0415 - keep `import quantkit` light

    step = parse_timeframe(timeframe)
    if not isinstance(trades, pd.DataFrame) or not isinstance(trades.index, pd.DatetimeIndex):
        raise DataError("trades need a DataFrame with a DatetimeIndex", source="trades_to_bars")
    index = trades.index if trades.index.tz is None else trades.index.tz_convert("UTC")
    ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    columns = []
    for name in ("price", "amount"):
        if name not in trades.columns:
            raise DataError(f"trades have no {name!r} column", source="trades_to_bars")
        values = np.asarray(trades[name], dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(f"{name} is not finite", source="trades_to_bars", row=int(bad[0]))
        columns.append(values)
    order = np.argsort(ns, kind="stable")
    ns, price, amount = ns[order], columns[0][order], columns[1][order]
    origin = _MONDAY_NS if step % _WEEK_NS == 0 else 0
    opens = (ns - origin) // step * step + origin
    starts = np.flatnonzero(np.r_[True, opens[1:] != opens[:-1]]) if ns.size else order
    ends = np.r_[starts[1:], ns.size] - 1 if ns.size else order
    bars = pd.DataFrame(
        {
            "open": price[starts],
            "high": np.maximum.reduceat(price, starts) if ns.size else price,
            "low": np.minimum.reduceat(price, starts) if ns.size else price,
            "close": price[ends],
            "volume": np.add.reduceat(amount, starts) if ns.size else amount,
        },
        index=_utc_index(opens[starts]),
    )
    bars.attrs.update(trades.attrs)
    bars.attrs["timeframe"] = timeframe
    return bars
