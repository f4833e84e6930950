"""LocalVenue: what a local exchange holds (markets, candles, trades), built lazily, thread-safe.

The venue knows nothing of HTTP: `BinanceSpotApi` renders it the Binance way and
`LocalExchange` serves it. Synthetic series are generated on first use and kept; coarser candles
are aggregated from the data's own timeframe and kept too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

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
    synthetic_candles,
    synthetic_trades,
    trades_from_frame,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LocalVenue"]

_MS_PER_DAY = 86_400_000


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
        self._lock = threading.Lock()

    @property
    def markets(self) -> tuple[LocalMarket, ...]:
        """The markets, in listing order."""
        return self._markets

    @property
    def timeframe(self) -> str:
        """The timeframe of the data (the finest candles served)."""
        return self._timeframe

    def market(self, symbol: str) -> LocalMarket:
        """Look a market up by unified symbol (``"BTC/USDT"``) or venue id (``"BTCUSDT"``).

        Args:
            symbol: The symbol or id.

        Returns:
            The market.

        Raises:
            ConfigError: If there is no such market.
        """
        found = self._by_id.get(symbol) or next(
            (m for m in self._markets if m.symbol == symbol), None
        )
        if found is None:
            raise ConfigError(
                f"the local exchange has no market {symbol!r}; "
                f"it has {', '.join(m.symbol for m in self._markets)}"
            )
        return found

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
        if interval not in BINANCE_INTERVALS:
            return False
        if interval == "1M":
            return _MS_PER_DAY % self._step_ms == 0
        return (parse_timeframe(interval) // 1_000_000) % self._step_ms == 0

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
