"""R19: amending a working order in the simulator (backtest and paper, one implementation)."""

from __future__ import annotations

import dataclasses

import pytest

from quantkit import Engine, SeriesFeed, Strategy, SymbolData
from quantkit.brokers.backtest import BacktestBroker
from quantkit.brokers.paper import PaperBroker
from quantkit.data.replay import ReplayStream
from quantkit.domain.order import Order, OrderRequest, OrderStatus, OrderType, Side
from quantkit.engine.live import LiveEngine
from quantkit.errors import OrderError
from quantkit.sim.exchange import SimulatedExchange
from quantkit.sim.rules import FillRules
from tests.builders import make_exchange, make_series

SYM = "BTC/USDT"


def limit(side: Side, price: float, amount: float = 1.0, **kw: object) -> OrderRequest:
    return OrderRequest(SYM, side, OrderType.LIMIT, amount=amount, limit_price=price, **kw)  # type: ignore[arg-type]


class _Bars:
    def __init__(self, ex: SimulatedExchange) -> None:
        self.ex, self.t = ex, 0

    def __call__(self, o: float, h: float, low: float, c: float, v: float = 1e6) -> None:
        self.t += 1
        self.ex.process_bar(SYM, self.t, o, h, low, c, v)


def test_r19_lowered_buy_limit_fills_at_the_new_price_from_the_next_bar() -> None:
    ex = make_exchange()
    bar = _Bars(ex)
    order = ex.submit(limit(Side.BUY, 95.0), 0, 100.0)
    bar(100.0, 101.0, 96.0, 99.0)  # never reaches 95
    assert order.status is OrderStatus.OPEN
    amended = ex.amend(order.client_id, limit(Side.BUY, 97.0), 1, 99.0)
    assert amended is order and order.request.limit_price == 97.0
    assert ex.events[-1] is order and not ex.fills  # an event, nothing fills on the amend
    bar(99.0, 100.0, 96.0, 98.0)  # low 96 <= 97: fills at the new limit, as a maker
    (fill,) = ex.fills
    assert (fill.price, fill.amount, fill.is_maker) == (97.0, 1.0, True)
    assert order.status is OrderStatus.FILLED


def test_r19_amend_after_a_partial_fill_keeps_the_fills_and_sets_the_new_total() -> None:
    ex = make_exchange(rules=FillRules(participation=0.5))
    bar = _Bars(ex)
    order = ex.submit(limit(Side.BUY, 100.0, amount=3.0), 0, 100.0)
    bar(101.0, 101.0, 99.0, 100.0, v=2.0)  # half the volume: 1.0 fills
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled == 1.0
    amended = ex.amend(order.client_id, limit(Side.BUY, 100.0, amount=2.0), 1, 100.0)
    assert amended is order and order.amount == 2.0 and order.remaining == 1.0
    assert order.status is OrderStatus.PARTIALLY_FILLED
    bar(101.0, 101.0, 99.0, 100.0, v=10.0)
    assert order.status is OrderStatus.FILLED and order.filled == 2.0


def test_r19_amount_not_above_the_filled_amount_is_refused_and_the_order_unchanged() -> None:
    ex = make_exchange(rules=FillRules(participation=0.5))
    bar = _Bars(ex)
    order = ex.submit(limit(Side.BUY, 100.0, amount=3.0), 0, 100.0)
    bar(101.0, 101.0, 99.0, 100.0, v=2.0)
    refused = ex.amend(order.client_id, limit(Side.BUY, 99.0, amount=1.0), 1, 100.0)
    assert refused is not order and refused.status is OrderStatus.REJECTED
    assert "not above the 1 already filled" in refused.reason
    assert ex.events[-1] is refused
    assert order.amount == 3.0 and order.request.limit_price == 100.0  # unchanged


@pytest.mark.parametrize("end", ["fill", "cancel"])
def test_r19_amend_of_an_ended_order_is_refused_with_a_reason(end: str) -> None:
    ex = make_exchange()
    bar = _Bars(ex)
    order = ex.submit(limit(Side.BUY, 100.0), 0, 100.0)
    if end == "fill":
        bar(99.0, 100.0, 98.0, 99.0)
    else:
        ex.cancel(order.client_id, 0)
    refused = ex.amend(order.client_id, limit(Side.BUY, 90.0), 1, 100.0, refusal_id="qk-x")
    assert refused.client_id == "qk-x" and refused.status is OrderStatus.REJECTED
    assert f"the order is {order.status}" in refused.reason
    assert order.request.limit_price == 100.0


def test_r19_amend_is_checked_like_a_new_order_rounding_and_minimums() -> None:
    ex = make_exchange(price_increment=0.5, amount_increment=0.1, min_amount=0.5)
    order = ex.submit(limit(Side.SELL, 110.0, amount=1.0), 0, 100.0)
    ex.portfolio.cash["USDT"] = 10_000  # (a cash account sells only what it holds at the fill)
    refused = ex.amend(order.client_id, limit(Side.SELL, 110.0, amount=0.44), 1, 100.0)
    assert refused.status is OrderStatus.REJECTED and "below the minimum" in refused.reason
    amended = ex.amend(order.client_id, limit(Side.SELL, 104.26, amount=0.77), 1, 100.0)
    assert amended is order and order.amount == pytest.approx(0.7)
    working = ex.books[SYM].working[0]
    assert working.limit == 104.5


def test_r19_market_orders_and_foreign_changes() -> None:
    ex = make_exchange()
    market = ex.submit(OrderRequest(SYM, Side.BUY, amount=1.0), 0, 100.0)
    refused = ex.amend(market.client_id, OrderRequest(SYM, Side.BUY, amount=2.0), 0, 100.0)
    assert "only limit and stop orders" in refused.reason
    order = ex.submit(limit(Side.BUY, 90.0), 0, 100.0)
    with pytest.raises(OrderError, match="only the price and amount"):
        ex.amend(order.client_id, limit(Side.SELL, 90.0), 0, 100.0)
    with pytest.raises(OrderError, match="no order"):
        ex.amend("nope", limit(Side.BUY, 90.0), 0, 100.0)


def test_r19_post_only_amended_across_the_price_expires_at_the_next_open() -> None:
    ex = make_exchange()
    bar = _Bars(ex)
    order = ex.submit(limit(Side.BUY, 90.0, post_only=True), 0, 100.0)
    bar(100.0, 101.0, 95.0, 100.0)
    ex.amend(order.client_id, limit(Side.BUY, 102.0, post_only=True), 1, 100.0)
    bar(100.0, 101.0, 99.0, 100.0)  # 100 <= 102 at the open: it would take liquidity
    assert order.status is OrderStatus.EXPIRED and not ex.fills


def test_r19_a_stop_order_amend_moves_its_stop_price() -> None:
    ex = make_exchange(cash=100_000)
    bar = _Bars(ex)
    stop = OrderRequest(SYM, Side.BUY, OrderType.STOP, amount=1.0, stop_price=120.0)
    order = ex.submit(stop, 0, 100.0)
    ex.amend(order.client_id, dataclasses.replace(stop, stop_price=105.0), 0, 100.0)
    bar(100.0, 106.0, 99.0, 104.0)
    assert ex.fills[0].price == 105.0


# -- through the Engine, and paper == backtest -------------------------------------------------

ROWS = [
    (100.0, 101.0, 99.0, 100.0, 1e6),
    (100.0, 101.0, 98.0, 99.0, 1e6),
    (99.0, 100.0, 97.0, 98.0, 1e6),
    (98.0, 99.0, 96.5, 97.0, 1e6),
    (97.0, 98.0, 95.5, 96.0, 1e6),
    (96.0, 97.0, 95.0, 96.0, 1e6),
]


class Chaser(Strategy):
    """Rests a buy far below, then raises it one step a bar until it fills."""

    def on_start(self) -> None:
        self.handle: Order | None = None
        self.log: list[tuple[int, str, str, float]] = []

    def on_bar(self, bar: SymbolData) -> None:
        if self.handle is None:
            self.handle = self.buy(amount=1.0, limit=90.0)
        elif self.handle.is_active:
            price = (self.handle.request.limit_price or 0.0) + 2.0
            self.handle = self.amend(self.handle, price=price)

    def on_order(self, order: Order) -> None:
        number = order.client_id.rsplit("-", 1)[-1]  # paper ids carry the run's prefix
        self.log.append((self.now, number, str(order.status), order.request.limit_price or 0))


def test_r19_engine_run_with_a_strategy_that_amends() -> None:
    strategy = Chaser()
    result = Engine(feed=SeriesFeed(make_series(ROWS)), strategy=strategy).run()
    assert strategy.handle is not None and strategy.handle.status is OrderStatus.FILLED
    assert strategy.handle.client_id.endswith("000001")  # the same handle, amended in place
    assert len(result.orders) == 1  # amends in place add no orders
    assert strategy.handle.average_price == 96.0  # 90 -> 92 -> 94 -> 96, low 95.5 reaches 96


@pytest.mark.anyio
async def test_r19_paper_amends_like_the_backtest() -> None:
    backtest, paper = Chaser(), Chaser()
    Engine(
        feed=SeriesFeed(make_series(ROWS)), strategy=backtest, broker=BacktestBroker(), warmup=1
    ).run()
    await LiveEngine(
        stream=ReplayStream(SeriesFeed(make_series(ROWS))),
        strategy=paper,
        broker=PaperBroker(),
        warmup=1,
        handle_signals=False,
    ).arun()
    assert len(backtest.log) == 5 and paper.log == backtest.log


class Misuse(Strategy):
    """Amends the wrong way, then while trading is halted."""

    def on_start(self) -> None:
        self.errors: list[str] = []
        self.results: list[Order] = []

    def on_bar(self, bar: SymbolData) -> None:
        if self.open_orders():
            return
        market = self.buy(amount=1.0)
        resting = self.buy(amount=1.0, limit=50.0)
        for kwargs in ({}, {"price": 1.0}):
            target = market if kwargs else resting
            try:
                self.amend(target, **kwargs)
            except OrderError as exc:
                self.errors.append(str(exc))
        self.results.append(self.amend(resting, amount=2.0))
        self._ctx.halted = "manual stop"  # type: ignore[attr-defined]
        self.results.append(self.amend(resting, price=51.0))


def test_r19_strategy_amend_input_errors_and_a_halted_run() -> None:
    strategy = Misuse()
    Engine(feed=SeriesFeed(make_series(ROWS[:2])), strategy=strategy).run()
    assert strategy.errors[0].endswith("give price= and/or amount=")
    assert strategy.errors[1].endswith("a market order has no price")
    grown, halted = strategy.results[:2]
    assert grown.amount == 2.0 and grown.status is OrderStatus.OPEN
    assert halted.status is OrderStatus.REJECTED and "trading halted" in halted.reason
