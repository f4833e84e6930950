"""Builders for strategy tests: hand-made bar series, markets, a scripted strategy, engine runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.market import Market
from quantkit.domain.order import Order
from quantkit.engine.engine import Engine
from quantkit.engine.result import Result
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData

HOUR = 3_600_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
SYMBOL = "BTC/USDT"

Row = tuple[float, float, float, float, float]


def make_series(
    rows: Sequence[Row],
    *,
    symbol: str = SYMBOL,
    start: int = T0,
    timeframe: int = HOUR,
) -> BarSeries:
    """Bars from ``(open, high, low, close, volume)`` rows, one timeframe apart from ``start``."""
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    open_time = start + timeframe * np.arange(len(data), dtype=np.int64)
    columns = [np.ascontiguousarray(data[:, k]) for k in range(5)]
    return BarSeries(symbol, timeframe, open_time, open_time + timeframe, *columns)


def series_from_closes(
    closes: Sequence[float] | np.ndarray, *, symbol: str = SYMBOL, start: int = T0
) -> BarSeries:
    """Valid bars whose open is the previous close (the first opens at its own close)."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    volume = np.full(len(close), 1_000.0)
    rows = np.column_stack([open_, high, low, close, volume])
    return make_series([tuple(row) for row in rows.tolist()], symbol=symbol, start=start)


def make_market(
    symbol: str = SYMBOL, *, fee: float = 0.0, maker_fee: float | None = None, **fields: float
) -> Market:
    """A market with the given taker fee (and maker fee, default the same)."""
    base, _, quote = symbol.partition("/")
    maker = fee if maker_fee is None else maker_fee
    return Market(symbol, base, quote, maker_fee=maker, taker_fee=fee, **fields)


def run_engine(
    strategy: Strategy,
    series: BarSeries | Sequence[BarSeries],
    *,
    cash: float = 10_000.0,
    markets: Mapping[str, Market] | None = None,
    risk: RiskPolicy | None = None,
    **broker_options: Any,
) -> Result:
    """Run ``strategy`` over ``series`` with a BacktestBroker (fee-free markets by default)."""
    items = [series] if isinstance(series, BarSeries) else list(series)
    chosen = {s.symbol: make_market(s.symbol) for s in items}
    chosen.update(markets or {})
    broker = BacktestBroker(cash=cash, markets=chosen, **broker_options)
    return Engine(feed=SeriesFeed(items), strategy=strategy, broker=broker, risk=risk).run()


Action = Callable[["Scripted"], Any]


class Scripted(Strategy):
    """Runs scripted actions at the primary symbol's bar indices; records what it sees and gets.

    Attributes:
        returned: What each action returned, by bar index.
        seen: ``(cash, equity, position amount)`` at the start of each ``on_bar``.
        events: ``("order", client_id, status, bar)`` and
            ``("fill", client_id, price, amount, bar)`` in delivery order.
    """

    def __init__(self, script: Mapping[int, Action] | None = None) -> None:
        super().__init__()
        self.script = dict(script or {})
        self.returned: dict[int, Any] = {}
        self.seen: dict[int, tuple[float, float, float]] = {}
        self.events: list[tuple[Any, ...]] = []

    def on_bar(self, bar: SymbolData) -> None:
        if bar is not self.data:
            return
        self.seen[bar.index] = (self.cash, self.equity, self.position().amount)
        action = self.script.get(bar.index)
        if action is not None:
            self.returned[bar.index] = action(self)

    def on_order(self, order: Order) -> None:
        self.events.append(("order", order.client_id, order.status, self.data.index))

    def on_fill(self, fill: Fill) -> None:
        self.events.append(("fill", fill.client_id, fill.price, fill.amount, self.data.index))
