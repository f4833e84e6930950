"""FuturesVenue: the perpetuals of a local futures exchange and their price series, thread-safe.

It knows nothing of HTTP (`BinanceFuturesApi` renders it). For each market it builds, on first
use and once, the last-price candles, the index and mark candles and the funding rates of
`quantkit.testing.futures.series`, and aggregates coarser candles from the data's own timeframe.
The venue's "now" is the end of its data: `FuturesVenue.premium` reports the last mark and
index closes, the latest funding rate and the next funding timestamp after it.

Any series may be supplied instead (``candles``, ``mark``, ``index``, ``funding``: one frame
per symbol), for hand-computed cases: a supplied last-price series also drives the mark and
index derived from it, unless they are supplied too; supplied funding rates without a
``mark_price`` column get the mark price at each timestamp.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError
from quantkit.testing.futures.markets import DEFAULT_FUTURES_MARKETS, FuturesMarket
from quantkit.testing.futures.series import (
    FundingRates,
    basis_path,
    scaled_candles,
    supplied_funding,
    synthetic_funding,
)
from quantkit.testing.market_data import (
    BINANCE_INTERVALS,
    Candles,
    aggregate_candles,
    candles_from_frame,
    synthetic_candles,
)
from quantkit.testing.venue_lookup import find_market, serves_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FuturesVenue", "PremiumIndex", "PriceKind"]

PriceKind = Literal["last", "mark", "index"]
"""Which price a candle series follows."""


@dataclass(frozen=True, slots=True)
class PremiumIndex:
    """What ``GET /fapi/v1/premiumIndex`` reports for one perpetual.

    Attributes:
        mark_price: The mark price (the last mark close).
        index_price: The index price (the last index close).
        last_funding_rate: The latest funding rate.
        next_funding_time: The funding timestamp after the latest one, in ms.
    """

    mark_price: float
    index_price: float
    last_funding_rate: float
    next_funding_time: int


@dataclass(frozen=True, slots=True)
class _Series:
    last: Candles
    mark: Candles
    index: Candles
    funding: FundingRates


class FuturesVenue:
    """The perpetuals and market data of a local futures exchange.

    Args:
        markets: The perpetuals; `DEFAULT_FUTURES_MARKETS` when ``None``.
        timeframe: Timeframe of the data, a Binance interval from ``"1m"`` to ``"1d"``.
        start: First open time of the data (UTC when naive).
        end: End of the data (exclusive).
        seed: String key the data is generated from; same key, same data.
        candles: Last-price candles to serve instead of synthetic ones, one frame per symbol
            (open times as ``DatetimeIndex``, columns ``open``, ``high``, ``low``, ``close``,
            ``volume``) at ``timeframe``.
        mark: Mark-price candles to serve, likewise (volume may be left out).
        index: Index-price candles to serve, likewise.
        funding: Funding rates to serve, one frame per symbol: funding times as
            ``DatetimeIndex``, a ``rate`` column and optionally ``mark_price``.

    Raises:
        ConfigError: If the timeframe, the dates or the markets are invalid, or a supplied
            series names a symbol not listed.
        DataError: If a supplied frame lacks its times or a column, or its rows are invalid.
    """

    def __init__(
        self,
        markets: Sequence[FuturesMarket] | None = None,
        *,
        timeframe: str = "1m",
        start: TimeLike = "2024-01-01",
        end: TimeLike = "2024-01-15",
        seed: str = "quantkit",
        candles: Mapping[str, pd.DataFrame] | None = None,
        mark: Mapping[str, pd.DataFrame] | None = None,
        index: Mapping[str, pd.DataFrame] | None = None,
        funding: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        if timeframe not in BINANCE_INTERVALS[1:13]:
            raise ConfigError(
                f"timeframe {timeframe!r} must be one of {', '.join(BINANCE_INTERVALS[1:13])}"
            )
        self._timeframe = timeframe
        self._step_ms = parse_timeframe(timeframe) // 1_000_000
        self._start_ms = parse_instant(start, name="start") // 1_000_000
        self._end_ms = parse_instant(end, name="end") // 1_000_000
        if self._end_ms <= self._start_ms:
            raise ConfigError(f"end ({end}) must be after start ({start})")
        self._seed = seed
        listed = tuple(DEFAULT_FUTURES_MARKETS if markets is None else markets)
        if not listed:
            raise ConfigError("a local futures exchange needs at least one market")
        self._by_id = {m.venue_id: m for m in listed}
        if len(self._by_id) != len(listed):
            raise ConfigError("two futures markets share a venue id")
        self._markets = listed
        self._series: dict[str, _Series] = {}
        self._supplied: dict[PriceKind, dict[str, Candles]] = {
            "last": self._supplied_candles("last", candles or {}),
            "mark": self._supplied_candles("mark", mark or {}),
            "index": self._supplied_candles("index", index or {}),
        }
        self._funding = {
            self.market(symbol).symbol: frame for symbol, frame in (funding or {}).items()
        }
        self._aggregated: dict[tuple[str, PriceKind, str], Candles] = {}
        self._lock = threading.Lock()

    @property
    def markets(self) -> tuple[FuturesMarket, ...]:
        """The perpetuals, in listing order."""
        return self._markets

    @property
    def timeframe(self) -> str:
        """The timeframe of the data (the finest candles served)."""
        return self._timeframe

    def market(self, symbol: str) -> FuturesMarket:
        """Look a market up by unified symbol (``"BTC/USDT:USDT"``) or venue id (``"BTCUSDT"``).

        Args:
            symbol: The symbol or id.

        Returns:
            The market.

        Raises:
            ConfigError: If there is no such market.
        """
        return find_market(self._markets, self._by_id, symbol, venue="local futures exchange")

    def market_by_id(self, venue_id: str) -> FuturesMarket | None:
        """Return the market with this venue id (or pair, ``"BTCUSDT"``), or ``None``.

        Args:
            venue_id: The id.

        Returns:
            The market, if any.
        """
        return self._by_id.get(venue_id)

    def serves(self, interval: str) -> bool:
        """Whether candles of ``interval`` can be served.

        They can for a Binance interval that is a multiple of the data's timeframe (``"1M"``
        when the timeframe divides a day).

        Args:
            interval: A kline interval such as ``"1h"``.

        Returns:
            ``True`` if it is served.
        """
        return serves_interval(interval, self._step_ms, seconds=False)

    def _supplied_candles(
        self, kind: PriceKind, frames: Mapping[str, pd.DataFrame]
    ) -> dict[str, Candles]:
        supplied = {}
        for symbol, given in frames.items():
            market = self.market(symbol)
            frame = given if "volume" in given.columns else given.assign(volume=0.0)
            source = f"{market.symbol} {kind}"
            if not len(frame):
                raise DataError("the frame holds no candles", source=f"{source} candles")
            supplied[market.symbol] = candles_from_frame(frame, self._timeframe, source=source)
        return supplied

    def _built(self, market: FuturesMarket) -> _Series:
        series = self._series.get(market.symbol)
        if series is None:
            seed, tf, name = self._seed, self._timeframe, market.symbol
            last = self._supplied["last"].get(name)
            if last is None:
                last = synthetic_candles(
                    market.local_market(), tf, self._start_ms, self._end_ms, seed=seed
                )
            basis = basis_path(market, len(last), seed=seed, timeframe=tf)
            index = self._supplied["index"].get(name)
            if index is None:
                index = scaled_candles(last, 1.0 - basis, market.tick_size)
            mark = self._supplied["mark"].get(name)
            if mark is None:
                mark = scaled_candles(last, (1.0 - basis) * (1.0 + basis / 2), market.tick_size)
            frame = self._funding.get(name)
            funding = (
                synthetic_funding(market, self._start_ms, self._end_ms, mark, seed=seed)
                if frame is None
                else supplied_funding(frame, mark, source=f"{name} funding")
            )
            series = _Series(last, mark, index, funding)
            self._series[name] = series
        return series

    def candles(self, market: FuturesMarket, interval: str, kind: PriceKind = "last") -> Candles:
        """Return a market's candles of one price kind at an interval `serves` accepts.

        Args:
            market: One of `markets`.
            interval: The interval.
            kind: ``"last"`` (trades), ``"mark"`` or ``"index"``.

        Returns:
            The candles, built or aggregated on first use.
        """
        with self._lock:
            base = getattr(self._built(market), kind)
            if interval == self._timeframe:
                return base  # type: ignore[no-any-return]
            key = (market.symbol, kind, interval)
            if key not in self._aggregated:
                self._aggregated[key] = aggregate_candles(base, interval)
            return self._aggregated[key]

    def funding(self, market: FuturesMarket) -> FundingRates:
        """Return a market's funding rates over the data's range.

        Args:
            market: One of `markets`.

        Returns:
            The rates, oldest first.
        """
        with self._lock:
            return self._built(market).funding

    def premium(self, market: FuturesMarket) -> PremiumIndex:
        """Return the market's premium index as of the end of the data.

        Args:
            market: One of `markets`.

        Returns:
            Mark and index price, latest funding rate and next funding time.
        """
        with self._lock:
            series = self._built(market)
        funding = series.funding
        if len(funding):
            rate, latest = float(funding.rate[-1]), int(funding.time[-1])
        else:  # data shorter than a funding interval: nothing settled yet
            step = market.funding_interval_ms
            rate, latest = 0.0, self._start_ms // step * step
        return PremiumIndex(
            mark_price=float(series.mark.close[-1]),
            index_price=float(series.index.close[-1]),
            last_funding_rate=rate,
            next_funding_time=latest + market.funding_interval_ms,
        )
