"""The backtest's hot loop tests plain containers for "orders work here" (`working_parts`)."""

from __future__ import annotations

from typing import Any

from quantkit.brokers.backtest import BacktestBroker
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.engine.step import working_parts
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from tests.strategy.helpers import SYMBOL, make_market, make_series, run_engine

V = 1_000.0


class _Clock:
    now = 0


def test_a_container_without_parts_is_tested_as_it_is() -> None:
    orders: list[int] = []
    first, second = working_parts(orders)
    assert first is orders
    assert not (first or second)
    orders.append(1)
    assert first or second


def test_the_simulated_brokers_parts_follow_its_book_as_orders_come_and_go() -> None:
    broker = BacktestBroker(cash=10_000.0, markets={SYMBOL: make_market()})
    broker.prepare({SYMBOL: make_series([(100.0, 101.0, 99.0, 100.0, V)] * 3)}, _Clock())
    first, second = working_parts(broker.working(SYMBOL))
    assert not (first or second)
    request = OrderRequest(SYMBOL, Side.BUY, OrderType.LIMIT, amount=1.0, limit_price=90.0)
    order = broker.submit(request, "qk-1", 100.0)
    assert first or second  # the same containers the book updates, not a copy
    assert len(first) == 1
    broker.cancel(order)
    assert not (first or second)


class _LimitThenWatch(Strategy):
    """A limit buy at 90 placed on bar 0; notes at each bar whether it still works."""

    def on_start(self) -> None:
        self.working_at: list[bool] = []

    def on_bar(self, bar: SymbolData) -> None:
        if bar.index == 0:
            self.buy(amount=1.0, limit=90.0)
        self.working_at.append(bool(self.open_orders()))

    def on_fill(self, fill: Any) -> None:
        self.filled_at = self._primary.index
        self.fill_price = fill.price


def test_the_loop_matches_a_resting_order_on_the_bar_that_reaches_it() -> None:
    quiet = (100.0, 101.0, 99.0, 100.0, V)
    dip = (100.0, 100.0, 89.0, 95.0, V)  # bar 3 trades through 90
    strategy = _LimitThenWatch()
    run_engine(strategy, make_series([quiet, quiet, quiet, dip, quiet, quiet]))
    assert strategy.filled_at == 3
    assert strategy.fill_price == 90.0
    assert strategy.working_at == [True, True, True, False, False, False]
