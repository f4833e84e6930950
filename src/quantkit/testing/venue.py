"""LocalVenue: what a local exchange holds (markets, candles, trades), built lazily, thread-safe.

The venue knows nothing of HTTP: `BinanceSpotApi` renders it the Binance way and
`LocalExchange` serves it. Synthetic series are generated on first use and kept; coarser candles
are aggregated from the data's own timeframe and kept too.

A venue serves all its data at once, or, once `LocalVenue.reveal` was called (live mode, driven
by `LiveClock`), only the candles that opened up to a point in time plus the next one as a
forming candle, and only the trades before the end of the last revealed candle.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError
from quantkit.testing.market_data import (
    BINANCE_INTERVALS,
    DEFAULT_MARKETS,
    Candles,
    LocalMarket,
    Trades,
    aggregate_candles,
    candles_from_frame,
    forming_head,
    synthetic_candles,
    synthetic_trades,
    trades_from_frame,
)
from quantkit.testing.venue_lookup import find_market, serves_interval

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["LocalVenue"]


class LocalVenue:
    """The markets and market data of a local exchange.

    Args:
        markets: The markets to list; `DEFAULT_MARKETS` when ``None``. Symbols given only in
            ``candles`` or ``trades`` are added with default settings.
        candles: Candles to serve instead of synthetic ones, one DataFrame per symbol at
            ``timeframe`` (see `candles_from_frame`); holes are served as holes.
        trades: Trades to serve instead of synthetic ones, one DataFrame per symbol (see
            `trades_from_frame`).
        timeframe: Timeframe of the data, one of Binance's intervals from ``"1s"`` to ``"1w"``.
        start: First open time of the synthetic data (UTC when naive).
        end: End of the synthetic data (exclusive).
        seed: String key the synthetic data is generated from; same key, same data.
        trades_per_minute: Average rate of the synthetic trades.

    Raises:
        ConfigError: If the timeframe or the dates are invalid.
        DataError: If a supplied frame lacks its times or a column.
    """

    def __init__(
        self,
        markets: Sequence[LocalMarket] | None = None,
        *,
        candles: Mapping[str, pd.DataFrame] | None = None,
        trades: Mapping[str, pd.DataFrame] | None = None,
        timeframe: str = "1m",
        start: TimeLike = "2024-01-01",
        end: TimeLike = "2024-01-15",
        seed: str = "quantkit",
        trades_per_minute: float = 2.0,
    ) -> None:
        self._step_ms = parse_timeframe(timeframe) // 1_000_000
        if timeframe not in BINANCE_INTERVALS:
            raise ConfigError(f"timeframe must be one of {', '.join(BINANCE_INTERVALS[:-1])}")
        self._timeframe = timeframe
        self._start_ms = parse_instant(start, name="start") // 1_000_000
        self._end_ms = parse_instant(end, name="end") // 1_000_000
        if self._end_ms <= self._start_ms:
            raise ConfigError(f"end ({end}) must be after start ({start})")
        self._seed = seed
        self._per_minute = trades_per_minute
        by_symbol = {m.symbol: m for m in (DEFAULT_MARKETS if markets is None else markets)}
        self._base: dict[str, Candles] = {}
        self._trades: dict[str, Trades] = {}
        for symbol, frame in (candles or {}).items():
            self._base[symbol] = candles_from_frame(frame, timeframe, source=symbol)
            first = float(frame["open"].iloc[0]) if len(frame) else 100.0
            by_symbol.setdefault(symbol, LocalMarket(symbol, price=first))
        for symbol, frame in (trades or {}).items():
            self._trades[symbol] = trades_from_frame(frame, source=symbol)
            by_symbol.setdefault(symbol, LocalMarket(symbol))
        self._markets = tuple(by_symbol.values())
        self._by_id = {m.venue_id: m for m in self._markets}
        self._aggregated: dict[tuple[str, str], Candles] = {}
        self._served: dict[tuple[str, str], tuple[int, Candles]] = {}
        self._through: int | None = None
        self._lock = threading.Lock()

    @property
    def markets(self) -> tuple[LocalMarket, ...]:
        """The markets, in listing order."""
        return self._markets

    @property
    def timeframe(self) -> str:
        """The timeframe of the data (the finest candles served)."""
        return self._timeframe

    @property
    def step_ms(self) -> int:
        """Length of the data's candles in milliseconds."""
        return self._step_ms

    def market(self, symbol: str) -> LocalMarket:
        """Look a market up by unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).

        Args:
            symbol: The symbol or id.

        Returns:
            The market.

        Raises:
            ConfigError: If there is no such market.
        """
        return find_market(self._markets, self._by_id, symbol, venue="local exchange")

    def market_by_id(self, venue_id: str) -> LocalMarket | None:
        """Return the market with this venue id (``"BTCUSDT"``), or ``None``.

        Args:
            venue_id: The id.

        Returns:
            The market, if any.
        """
        return self._by_id.get(venue_id)

    def serves(self, interval: str) -> bool:
        """Whether candles of ``interval`` can be served.

        They can for a Binance interval that is a multiple of the data's timeframe (``"1M"``
        needs a timeframe that divides a day).

        Args:
            interval: A kline interval such as ``"1h"``.

        Returns:
            ``True`` if it is served.
        """
        return serves_interval(interval, self._step_ms)

    def candles(self, market: LocalMarket, interval: str) -> Candles:
        """Return the candles of a market at an interval `serves` accepts.

        Args:
            market: One of `markets`.
            interval: The interval.

        Returns:
            The candles, generated or aggregated on first use.
        """
        with self._lock:
            base = self._base.get(market.symbol)
            if base is None:
                base = synthetic_candles(
                    market, self._timeframe, self._start_ms, self._end_ms, seed=self._seed
                )
                self._base[market.symbol] = base
            if interval == self._timeframe:
                return base
            key = (market.symbol, interval)
            if key not in self._aggregated:
                self._aggregated[key] = aggregate_candles(base, interval)
            return self._aggregated[key]

    def trades(self, market: LocalMarket) -> Trades:
        """Return the trades of a market.

        Args:
            market: One of `markets`.

        Returns:
            The trades, generated on first use.
        """
        with self._lock:
            if market.symbol not in self._trades:
                self._trades[market.symbol] = synthetic_trades(
                    market,
                    self._start_ms,
                    self._end_ms,
                    seed=self._seed,
                    per_minute=self._per_minute,
                )
            return self._trades[market.symbol]

    # ------------------------------------------------------------------------ live mode

    def open_times(self) -> npt.NDArray[np.int64]:
        """Open times of the data's candles, over every market, sorted and unique.

        Returns:
            The times in ms; the steps a `LiveClock` reveals one by one.
        """
        times = [self.candles(m, self._timeframe).time for m in self._markets]
        merged: npt.NDArray[np.int64] = np.unique(np.concatenate([np.zeros(0, np.int64), *times]))
        return merged

    @property
    def revealed_through(self) -> int | None:
        """Open time (ms) of the last revealed candle; ``None`` while all data is served."""
        return self._through

    def reveal(self, through_ms: int) -> None:
        """Serve only the candles that open at or before ``through_ms`` (and one forming).

        Args:
            through_ms: Open time of the last closed candle, in ms since the epoch.
        """
        with self._lock:
            self._through = through_ms

    def closed_count(self, market: LocalMarket, through_ms: int) -> int:
        """How many of a market's candles (of the data's timeframe) open at or before a time.

        Args:
            market: One of `markets`.
            through_ms: The time, in ms since the epoch.

        Returns:
            The count; the candle after them, if any, is the forming one.
        """
        base = self.candles(market, self._timeframe)
        return int(np.searchsorted(base.time, through_ms, "right"))

    def served_candles(
        self, market: LocalMarket, interval: str, *, through_ms: int | None = None
    ) -> Candles:
        """Return the candles served now: all of them, or the revealed ones plus a forming one.

        Args:
            market: One of `markets`.
            interval: An interval `serves` accepts.
            through_ms: Serve as if revealed through this open time; the current state when
                ``None``.

        Returns:
            The candles. When revealed, the last one is the forming candle (unless the data is
            used up); for coarser intervals it aggregates the closed candles of its period and
            the forming one.
        """
        through = self._through if through_ms is None else through_ms
        if through is None:
            return self.candles(market, interval)
        key = (market.symbol, interval)
        with self._lock:
            cached = self._served.get(key)
        if cached is not None and cached[0] == through:
            return cached[1]
        base = self.candles(market, self._timeframe)
        visible = forming_head(base, self.closed_count(market, through))
        served = visible if interval == self._timeframe else aggregate_candles(visible, interval)
        with self._lock:
            self._served[key] = (through, served)
        return served

    def served_trades(self, market: LocalMarket) -> Trades:
        """Return the trades served now: all of them, or those before the revealed data's end.

        Args:
            market: One of `markets`.

        Returns:
            The trades, a leading part of `trades` when revealed.
        """
        trades = self.trades(market)
        through = self._through
        if through is None:
            return trades
        end = int(np.searchsorted(trades.time, through + self._step_ms, "left"))
        return Trades(
            trades.id[:end],
            trades.time[:end],
            trades.price[:end],
            trades.amount[:end],
            trades.buyer_maker[:end],
        )
