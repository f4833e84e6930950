"""Sizers and limits that need history are warmed from the bars the engine loads at start.

In a backtest with ``warmup`` and in a paper run (the live engine's warm-up history, as after a
restart) the first order of the run is sized, not refused for a whole window.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib

from quantkit import Engine, KellySizer, Strategy, VaRLimit, VolatilityTarget
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.order import Order
from quantkit.engine.live import LiveEngine
from quantkit.risk.policy import RiskPolicy
from quantkit.strategy.data import SymbolData
from tests.builders import make_series

WARMUP = 40
TARGET = 0.01


def walk(count: int = 60, symbol: str = "BTC/USDT") -> BarSeries:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opens = np.concatenate([[100.0], close[:-1]])
    rows = [
        (o, max(o, c) * 1.003, min(o, c) * 0.997, c, 50.0)
        for o, c in zip(opens, close, strict=True)
    ]
    return make_series(rows, symbol=symbol)


class BuyOnce(Strategy):
    """Buys 1 unit on its first bar (the sizer decides the real amount) and keeps the order."""

    def on_start(self) -> None:
        self.first: Order | None = None

    def on_bar(self, bar: SymbolData) -> None:
        if self.first is None:
            self.first = self.buy(amount=1.0)


def backtest(series: BarSeries, risk: RiskPolicy) -> Order:
    strategy = BuyOnce()
    broker = BacktestBroker(cash=10_000)
    Engine(
        feed=SeriesFeed(series), strategy=strategy, broker=broker, risk=risk, warmup=WARMUP
    ).run()
    assert strategy.first is not None
    return strategy.first


def paper(series: BarSeries, risk: RiskPolicy) -> Order:
    strategy = BuyOnce()
    LiveEngine(
        stream=ReplayStream({series.symbol: series}),
        strategy=strategy,
        broker=PaperBroker(cash=10_000),
        risk=risk,
        warmup=WARMUP,
        handle_signals=False,
        max_bars=2,
    ).run()
    assert strategy.first is not None
    return strategy.first


@pytest.mark.parametrize("run", [backtest, paper], ids=["backtest", "paper"])
def test_volatility_target_sizes_the_first_order_from_the_loaded_history(run: object) -> None:
    series = walk()
    order = run(series, VolatilityTarget(TARGET, window=14))  # type: ignore[operator]
    assert order.status.value != "rejected", order.reason
    atr = talib.ATR(series.high, series.low, series.close, timeperiod=14)[WARMUP]
    expected = TARGET * 10_000 / atr  # equity is all cash before the first order
    assert order.amount == pytest.approx(expected, rel=1e-9)


def test_kelly_from_returns_sizes_the_first_order_the_same_in_backtest_and_paper() -> None:
    series = walk(count=WARMUP + 1)  # history, then exactly one bar of the run
    orders = [
        run(series, KellySizer(source="returns", window=20, max_fraction=0.5, fallback=None))
        for run in (backtest, paper)
    ]
    for order in orders:
        assert "warming up" not in order.reason
    assert orders[0].amount == orders[1].amount
    assert orders[0].status == orders[1].status


@pytest.mark.parametrize("run", [backtest, paper], ids=["backtest", "paper"])
def test_var_limit_learns_every_symbol_up_front_from_the_history(run: object) -> None:
    limit = VaRLimit(0.5, window=30)  # no symbols listed: the run's symbols are learned
    order = run(walk(), limit)  # type: ignore[operator]
    assert "VaR warming up" not in order.reason
    assert order.status.value != "rejected", order.reason
    assert limit.tracked == ("BTC/USDT",)
    estimator = limit.estimator
    assert estimator is not None
    assert estimator.observations == 30  # a full window before the first order


def test_without_history_the_sizer_still_warms_up_as_before() -> None:
    strategy = BuyOnce()
    Engine(
        feed=SeriesFeed(walk()), strategy=strategy, risk=VolatilityTarget(TARGET, window=14)
    ).run()
    assert strategy.first is not None
    assert strategy.first.status.value == "rejected"
    assert "warming up: 0 of 14 bars" in strategy.first.reason
