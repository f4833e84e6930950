"""Builders for risk tests: a hand-driven RiskContext, requests, and engine runs on hand bars."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import Bar, BarSeries
from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.engine.engine import Engine
from quantkit.engine.result import Result
from quantkit.risk.policy import RiskAction, RiskPolicy
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData

HOUR = 3_600_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
SYMBOL = "BTC/USDT"


class FakeContext:
    """A RiskContext whose prices, markets and positions the test sets by hand."""

    def __init__(
        self,
        prices: Mapping[str, float] | None = None,
        *,
        markets: Mapping[str, Market] | None = None,
        cash: float = 10_000.0,
    ) -> None:
        self.now = T0
        self.portfolio = Portfolio("USDT", {"USDT": cash})
        self.prices = dict(prices if prices is not None else {SYMBOL: 100.0})
        self.markets = dict(markets or {})
        self.bar_times: dict[str, int] = {}
        self.recorded: list[tuple[str, RiskAction, str, str]] = []

    def bar_time(self, symbol: str) -> int:
        """The symbol's latest bar close: ``now`` unless set in ``bar_times``."""
        return self.bar_times.get(symbol, self.now)

    def timeframe(self, symbol: str) -> int:
        return HOUR

    def equity(self) -> float:
        return self.portfolio.equity()

    def last_bar(self, symbol: str) -> Bar | None:
        """A flat bar at the symbol's price, closing at ``bar_time`` (``None`` without one)."""
        price = self.prices.get(symbol)
        if price is None:
            return None
        close = self.bar_time(symbol)
        return Bar(symbol, close - HOUR, close, price, price, price, price, 1.0)

    def record(self, policy: str, action: RiskAction, reason: str, symbol: str = "") -> None:
        self.recorded.append((policy, action, reason, symbol))

    def price(self, symbol: str) -> float:
        return self.prices.get(symbol, math.nan)

    def market(self, symbol: str) -> Market:
        return self.markets.get(symbol) or Market.from_symbol(symbol)

    def hold(self, amount: float, price: float = 100.0, symbol: str = SYMBOL) -> FakeContext:
        self.portfolio.position(symbol).apply(amount, price)
        return self


def request(side: str = "buy", symbol: str = SYMBOL, **fields: Any) -> OrderRequest:
    """An order request (``amount=1`` unless ``amount`` or ``cost`` is given)."""
    if "amount" not in fields and "cost" not in fields:
        fields["amount"] = 1.0
    return OrderRequest(symbol, Side(side), **fields)


def make_series(rows: Sequence[tuple[float, float, float, float, float]]) -> BarSeries:
    """Hourly bars of SYMBOL from ``(open, high, low, close, volume)`` rows."""
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    open_time = T0 + HOUR * np.arange(len(data), dtype=np.int64)
    columns = [np.ascontiguousarray(data[:, k]) for k in range(5)]
    return BarSeries(SYMBOL, HOUR, open_time, open_time + HOUR, *columns)


class Scripted(Strategy):
    """Runs ``script[bar index](strategy)`` and keeps what it returned and the order events."""

    def __init__(self, script: Mapping[int, Callable[[Scripted], Any]]) -> None:
        super().__init__()
        self.script = dict(script)
        self.returned: dict[int, Any] = {}
        self.events: list[tuple[str, str, int]] = []

    def on_bar(self, bar: SymbolData) -> None:
        action = self.script.get(bar.index)
        if action is not None:
            self.returned[bar.index] = action(self)

    def on_order(self, order: Order) -> None:
        self.events.append((order.client_id, str(order.status), self.data.index))


def run_engine(
    strategy: Strategy, series: BarSeries, risk: RiskPolicy | None, *, cash: float = 10_000.0
) -> Result:
    """Run with a fee-free BacktestBroker."""
    market = Market(SYMBOL, "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)
    broker = BacktestBroker(cash=cash, markets={SYMBOL: market})
    return Engine(feed=SeriesFeed(series), strategy=strategy, broker=broker, risk=risk).run()
