"""Builders of bars and exchanges for tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quantkit.domain.bars import BarSeries
from quantkit.domain.market import Market
from quantkit.domain.portfolio import MarginConfig, Portfolio
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.rules import FillRules

HOUR = 3_600_000_000_000
T0 = 1_700_000_000_000_000_000 - (1_700_000_000_000_000_000 % HOUR)


def make_series(
    rows: Sequence[tuple[float, float, float, float, float]],
    symbol: str = "BTC/USDT",
    timeframe: int = HOUR,
    start: int = T0,
) -> BarSeries:
    """Bars from ``(open, high, low, close, volume)`` rows, one timeframe apart from ``start``."""
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    open_time = start + timeframe * np.arange(len(data), dtype=np.int64)
    return BarSeries(
        symbol,
        timeframe,
        open_time,
        open_time + timeframe,
        np.ascontiguousarray(data[:, 0]),
        np.ascontiguousarray(data[:, 1]),
        np.ascontiguousarray(data[:, 2]),
        np.ascontiguousarray(data[:, 3]),
        np.ascontiguousarray(data[:, 4]),
    )


def make_exchange(
    *,
    cash: float = 10_000.0,
    rules: FillRules | None = None,
    allow_short: bool = False,
    leverage: float = 1.0,
    **market_fields: float,
) -> SimulatedExchange:
    """A one-market exchange (BTC/USDT) with no fees unless given."""
    fields: dict[str, float] = {"maker_fee": 0.0, "taker_fee": 0.0}
    fields.update(market_fields)
    market = Market("BTC/USDT", "BTC", "USDT", **fields)
    portfolio = Portfolio("USDT", {"USDT": cash}, MarginConfig(allow_short, leverage))
    return SimulatedExchange({"BTC/USDT": market}, portfolio, rules)
