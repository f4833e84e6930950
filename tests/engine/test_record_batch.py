"""Fast deliveries keep the same record as the general one (one hook-free twin per strategy).

A strategy that overrides no event hook gets the step's fast delivery (`RunRecorder.take`, one
call per batch) and, since the per-order work of issue #13, the simulator's straight-line fills;
its twin below overrides ``on_fill`` and ``on_order`` with hooks that do nothing, which sends
every event through `Step.deliver` one by one. Both must leave the same record, field by field.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.fill import Fill
from quantkit.domain.order import Order
from quantkit.engine.engine import Engine
from quantkit.engine.record import RunRecord
from quantkit.sim.slippage import NoSlippage
from quantkit.strategy.base import Strategy
from quantkit.strategy.data import SymbolData
from tests.strategy.helpers import make_market, series_from_closes


class Busy(Strategy):
    """Seeded random orders of every kind on every symbol: market, cost, limit, stop, brackets."""

    seed: int = 0

    def on_start(self) -> None:
        self.rng = random.Random(self.seed)

    def on_bar(self, bar: SymbolData) -> None:
        rng, price, symbol = self.rng, bar.price, bar.symbol
        roll = rng.random()
        budget = self.cash * rng.choice((0.1, 0.3, 1.0))
        if roll < 0.25 and budget > 1.0:
            self.buy(symbol=symbol, cost=budget)
        elif roll < 0.45:
            self.close(symbol)
        elif roll < 0.55:
            self.buy(symbol=symbol, amount=0.5, limit=price * 0.995, sl_pct=0.01, tp_pct=0.01)
        elif roll < 0.62:
            self.sell(symbol=symbol, amount=0.3, stop=price * 0.99, reduce_only=True)
        elif roll < 0.68:
            self.buy(symbol=symbol, amount=0.2, trail_pct=0.02)
        elif roll < 0.72:
            self.buy(symbol=symbol, amount=1e9)  # refused: not enough cash
        elif roll < 0.80:
            for order in self.open_orders(symbol)[:1]:
                self.cancel(order)


class BusyWithHooks(Busy):
    """`Busy` with event hooks that do nothing: every event goes through `Step.deliver`."""

    def on_fill(self, fill: Fill) -> None:
        """Nothing."""

    def on_order(self, order: Order) -> None:
        """Nothing."""


class _ZeroSlippage(NoSlippage):
    """No slippage, through the general fill path: the book books straight only `NoSlippage`."""


def _record(
    kind: type[Busy], feeds: list[BarSeries], seed: int, fee: float, *, general: bool = False
) -> RunRecord:
    markets = {s.symbol: make_market(s.symbol, fee=fee) for s in feeds}
    options: dict[str, Any] = {"slippage": _ZeroSlippage()} if general else {}
    broker = BacktestBroker(cash=10_000.0, markets=markets, **options)
    engine = Engine(feed=SeriesFeed(feeds), strategy=kind(seed=seed), broker=broker)
    return engine.run_record()


def _order_state(order: Order) -> tuple[Any, ...]:
    return (
        order.client_id,
        order.request,
        order.status,
        order.filled,
        order.average_price,
        order.fee,
        order.reason,
        order.amount,
        order.updated_at,
        tuple(order.history),
    )


def _closes(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    closes = [100.0]
    for _ in range(count - 1):
        closes.append(closes[-1] * (1.0 + rng.gauss(0.0, 0.01)))
    return closes


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("symbols", [1, 2])
def test_the_hook_free_run_records_what_the_general_delivery_records(
    seed: int, symbols: int
) -> None:
    names = ["BTC/USDT", "ETH/USDT"][:symbols]
    feeds = [series_from_closes(_closes(seed + k, 300), symbol=s) for k, s in enumerate(names)]
    fast = _record(Busy, feeds, seed, 0.001)
    general = _record(BusyWithHooks, feeds, seed, 0.001)
    _assert_same_record(fast, general)


@pytest.mark.parametrize("seed", [4, 5, 6])
@pytest.mark.parametrize("symbols", [1, 2])
def test_straight_line_fills_book_what_the_general_fill_path_books(seed: int, symbols: int) -> None:
    names = ["BTC/USDT", "ETH/USDT"][:symbols]
    feeds = [series_from_closes(_closes(seed + k, 300), symbol=s) for k, s in enumerate(names)]
    straight = _record(Busy, feeds, seed, 0.002)
    general = _record(BusyWithHooks, feeds, seed, 0.002, general=True)
    _assert_same_record(straight, general)


def _assert_same_record(fast: RunRecord, general: RunRecord) -> None:
    assert len(fast.fills) > 30  # the run trades
    assert {o.status for o in fast.orders.values()} >= {"filled", "canceled", "rejected"}
    assert list(fast.orders) == list(general.orders)
    assert [_order_state(o) for o in fast.orders.values()] == [
        _order_state(o) for o in general.orders.values()
    ]
    assert fast.fills == general.fills
    assert fast.fill_steps == general.fill_steps
    assert fast.snapshot_steps == general.snapshot_steps
    assert fast.snapshot_cash == general.snapshot_cash
    assert fast.position_rows == general.position_rows
    assert fast.position_columns == general.position_columns
    assert fast.position_amounts == general.position_amounts
    assert fast.portfolio.cash == general.portfolio.cash
    assert fast.portfolio.fees_paid == general.portfolio.fees_paid
    assert fast.portfolio.last_price == general.portfolio.last_price
    assert fast.portfolio.positions == general.portfolio.positions
