"""The Strategy order API, driven through a real Engine and BacktestBroker on hand-made bars.

Every expected number below is worked out by hand from ROWS: an order placed in ``on_bar`` of
bar t fills at the open of bar t+1, a fee is ``rate * price * amount``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantkit.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from quantkit.errors import OrderError
from quantkit.risk.policy import Decision, RiskContext, RiskPolicy

from .helpers import HOUR, SYMBOL, T0, Scripted, make_market, make_series, run_engine

ROWS = [
    (100.0, 101.0, 99.0, 100.0, 10.0),
    (102.0, 104.0, 101.0, 103.0, 10.0),
    (105.0, 106.0, 103.0, 104.0, 10.0),
    (104.5, 108.0, 102.0, 107.0, 10.0),
    (110.0, 112.0, 109.0, 111.0, 10.0),
    (111.0, 113.0, 110.0, 112.0, 10.0),
]
OPEN_TIME = [T0 + k * HOUR for k in range(len(ROWS))]
CLOSE_TIME = [t + HOUR for t in OPEN_TIME]


def utc(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def run(
    script: dict[int, Any], *, fee: float = 0.0, maker_fee: float | None = None, **options: Any
) -> tuple[Scripted, Any]:
    strategy = Scripted(script)
    markets = {SYMBOL: make_market(fee=fee, maker_fee=maker_fee)}
    result = run_engine(strategy, make_series(ROWS), markets=markets, **options)
    return strategy, result


# -- market orders -----------------------------------------------------------------------------


def test_buy_with_amount_fills_at_the_next_open_with_its_fee() -> None:
    strategy, result = run({1: lambda s: s.buy(amount=2)}, fee=0.001)
    order = strategy.returned[1]
    assert isinstance(order, Order)
    assert (order.side, order.request.type, order.amount) == (Side.BUY, OrderType.MARKET, 2.0)
    assert order.status is OrderStatus.FILLED
    assert order.average_price == 105.0
    assert order.fee == pytest.approx(0.21)
    assert order.created_at == CLOSE_TIME[1]

    assert len(result.fills) == 1
    fill = result.fills.iloc[0]
    assert (fill["side"], fill["price"], fill["amount"]) == ("buy", 105.0, 2.0)
    assert fill["fee"] == pytest.approx(0.21)
    assert fill["time"] == utc(OPEN_TIME[2])

    cash = 10_000.0 - 2 * 105.0 - 0.21  # 9789.79
    assert strategy.seen[1] == (10_000.0, 10_000.0, 0.0)
    assert strategy.seen[2] == pytest.approx((cash, cash + 2 * 104.0, 2.0))
    assert strategy.seen[5] == pytest.approx((cash, cash + 2 * 112.0, 2.0))
    expected_equity = [10_000.0, 10_000.0, cash + 208.0, cash + 214.0, cash + 222.0, cash + 224.0]
    np.testing.assert_allclose(result.equity.to_numpy(), expected_equity, rtol=1e-12)
    position = result.positions.loc[SYMBOL]
    assert (position["amount"], position["entry_price"]) == (2.0, 105.0)


def test_sell_with_amount_reduces_and_realises_pnl() -> None:
    strategy, result = run({0: lambda s: s.buy(amount=3), 2: lambda s: s.sell(amount=1)}, fee=0.001)
    sell = strategy.returned[2]
    assert (sell.side, sell.average_price, sell.filled) == (Side.SELL, 104.5, 1.0)
    cash = 10_000.0 - 3 * 102.0 - 0.306 + 104.5 - 0.1045  # 9797.0895
    assert strategy.seen[3] == pytest.approx((cash, cash + 2 * 107.0, 2.0))
    position = result.positions.loc[SYMBOL]
    assert position["amount"] == 2.0
    assert position["entry_price"] == 102.0
    assert position["realized_pnl"] == pytest.approx(2.5)
    assert result.fills["fee"].sum() == pytest.approx(0.306 + 0.1045)


def test_cost_sized_buy_spends_exactly_the_cost_including_the_fee() -> None:
    strategy, result = run({0: lambda s: s.buy(cost=1_000.0)}, fee=0.001)
    order = strategy.returned[0]
    amount = 1_000.0 / (102.0 * 1.001)  # filled at the open of bar 1
    assert order.request.cost == 1_000.0
    assert order.request.amount is None
    assert order.amount == pytest.approx(amount, rel=1e-12)
    assert order.filled == pytest.approx(amount, rel=1e-12)
    assert order.fee == pytest.approx(0.001 * 102.0 * amount, rel=1e-12)
    cash, equity, held = strategy.seen[1]
    assert cash == pytest.approx(9_000.0, abs=1e-9)
    assert held == pytest.approx(amount, rel=1e-12)
    assert equity == pytest.approx(9_000.0 + amount * 103.0, rel=1e-12)
    row = result.orders.iloc[0]
    assert (row["cost"], row["status"]) == (1_000.0, "filled")
    assert row["amount"] == pytest.approx(amount, rel=1e-12)


def test_cost_sized_sell_receives_the_cost_before_fees() -> None:
    strategy, _ = run({0: lambda s: s.buy(amount=5), 1: lambda s: s.sell(cost=210.0)})
    sell = strategy.returned[1]
    assert sell.filled == pytest.approx(210.0 / 105.0)
    cash = 10_000.0 - 5 * 102.0 + 210.0
    assert strategy.seen[2][0] == pytest.approx(cash)
    assert strategy.seen[2][2] == pytest.approx(5 - 2.0)


# -- order kinds -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "kind"),
    [
        ({}, OrderType.MARKET),
        ({"limit": 90.0}, OrderType.LIMIT),
        ({"stop": 120.0}, OrderType.STOP),
        ({"stop": 120.0, "limit": 121.0}, OrderType.STOP_LIMIT),
    ],
)
def test_the_order_kind_follows_from_the_prices_given(
    prices: dict[str, float], kind: OrderType
) -> None:
    strategy, result = run({0: lambda s: s.buy(amount=1, **prices)})
    order = strategy.returned[0]
    assert order.request.type is kind
    assert order.request.limit_price == prices.get("limit")
    assert order.request.stop_price == prices.get("stop")
    assert result.orders.iloc[0]["type"] == str(kind)
    if kind is not OrderType.MARKET:  # levels never reached in ROWS
        assert order.status is OrderStatus.OPEN
        assert result.fills.empty


@pytest.mark.parametrize(
    ("prices", "price", "maker", "fee"),
    [
        ({"limit": 103.5}, 103.5, True, 0.0005 * 103.5),  # rests, reached on the way down
        ({"limit": 106.0}, 104.5, False, 0.001 * 104.5),  # marketable: fills at the open
        ({"stop": 107.5}, 107.5, False, 0.001 * 107.5),  # triggers on the way up
    ],
    ids=["resting-limit", "marketable-limit", "stop"],
)
def test_limit_and_stop_fill_prices(
    prices: dict[str, float], price: float, maker: bool, fee: float
) -> None:
    strategy, result = run({2: lambda s: s.buy(amount=1, **prices)}, fee=0.001, maker_fee=0.0005)
    order = strategy.returned[2]
    assert order.status is OrderStatus.FILLED
    fill = result.fills.iloc[0]
    assert fill["price"] == pytest.approx(price)
    assert bool(fill["is_maker"]) is maker
    assert fill["fee"] == pytest.approx(fee)
    assert strategy.seen[4][0] == pytest.approx(10_000.0 - price - fee)


def test_order_options_are_passed_on() -> None:
    strategy, result = run(
        {0: lambda s: s.order("sell", amount=1, limit=150.0, tif="ioc", tag="probe")}
    )
    order = strategy.returned[0]
    assert order.side is Side.SELL
    assert order.request.time_in_force is TimeInForce.IOC
    assert order.request.tag == "probe"
    row = result.orders.iloc[0]
    assert (row["side"], row["time_in_force"], row["tag"]) == ("sell", "ioc", "probe")


# -- targets and close -------------------------------------------------------------------------


def test_order_target_amount_from_flat_and_from_a_position() -> None:
    strategy, result = run(
        {
            0: lambda s: s.order_target_amount(3.0),
            1: lambda s: s.order_target_amount(1.0),
            2: lambda s: s.order_target_amount(1.0),
            3: lambda s: s.close(),
            5: lambda s: s.close(),
        }
    )
    entry, reduce, same, close, flat = (strategy.returned[k] for k in (0, 1, 2, 3, 5))
    assert (entry.side, entry.request.amount, entry.request.reduce_only) == (Side.BUY, 3.0, False)
    assert (reduce.side, reduce.request.amount, reduce.request.reduce_only) == (
        Side.SELL,
        2.0,
        True,
    )
    assert same is None
    assert (close.side, close.request.amount, close.request.reduce_only) == (Side.SELL, 1.0, True)
    assert flat is None
    assert [strategy.seen[k][2] for k in range(6)] == [0.0, 3.0, 1.0, 1.0, 0.0, 0.0]
    assert result.fills["price"].tolist() == [102.0, 105.0, 110.0]
    assert result.orders["reduce_only"].tolist() == [False, True, True]
    assert strategy.seen[5][0] == pytest.approx(10_000.0 + 2 * 3.0 + 1 * 8.0)
    assert result.positions.loc[SYMBOL, "realized_pnl"] == pytest.approx(14.0)


def test_order_target_amount_through_zero_is_not_reduce_only() -> None:
    strategy, _ = run(
        {
            0: lambda s: s.order_target_amount(2.0),
            1: lambda s: s.order_target_amount(-1.0),
            3: lambda s: s.close(),
        },
        allow_short=True,
    )
    flip, cover = strategy.returned[1], strategy.returned[3]
    assert (flip.side, flip.request.amount, flip.request.reduce_only) == (Side.SELL, 3.0, False)
    assert (cover.side, cover.request.amount, cover.request.reduce_only) == (Side.BUY, 1.0, True)
    assert [strategy.seen[k][2] for k in range(6)] == [0.0, 2.0, -1.0, -1.0, 0.0, 0.0]
    assert strategy.seen[5][0] == pytest.approx(10_000.0 - 2 * 102.0 + 3 * 105.0 - 110.0)


def test_order_target_percent_uses_equity_over_the_last_close() -> None:
    strategy, _ = run(
        {0: lambda s: s.order_target_percent(0.5), 2: lambda s: s.order_target_percent(0.25)}
    )
    entry, trim = strategy.returned[0], strategy.returned[2]
    assert entry.request.amount == pytest.approx(0.5 * 10_000.0 / 100.0)
    assert entry.request.reduce_only is False
    equity = (10_000.0 - 50 * 102.0) + 50 * 104.0  # 10100 at the close of bar 2
    assert strategy.seen[2][1] == pytest.approx(equity)
    target = 0.25 * equity / 104.0
    assert trim.side is Side.SELL
    assert trim.request.amount == pytest.approx(50.0 - target)
    assert trim.request.reduce_only is True
    assert strategy.seen[3][2] == pytest.approx(target)


def test_close_when_flat_returns_none_and_places_nothing() -> None:
    strategy, result = run({0: lambda s: s.close(), 3: lambda s: s.order_target_percent(0.0)})
    assert strategy.returned == {0: None, 3: None}
    assert result.orders.empty


# -- malformed requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "pattern"),
    [
        (lambda s: s.buy(amount=-1), r"amount must be a finite number > 0, got -1"),
        (lambda s: s.buy(amount=0), r"amount must be a finite number > 0, got 0"),
        (lambda s: s.buy(amount=math.nan), r"amount must be a finite number > 0, got nan"),
        (lambda s: s.buy(amount=math.inf), r"amount must be a finite number > 0, got inf"),
        (lambda s: s.buy(amount="1"), r"amount must be a number, got '1'"),
        (lambda s: s.buy(amount=True), r"amount must be a number, got True"),
        (lambda s: s.buy(amount=1, cost=100), r"exactly one of amount= and cost="),
        (lambda s: s.buy(), r"exactly one of amount= and cost="),
        (lambda s: s.buy(cost=-5), r"cost must be a finite number > 0"),
        (lambda s: s.buy(amount=1, limit=0), r"limit_price must be a finite number > 0, got 0"),
        (lambda s: s.sell(amount=1, stop=-1.0), r"stop_price must be a finite number > 0"),
        (lambda s: s.buy(cost=100, limit=99.0), r"cost= is only for market orders"),
        (lambda s: s.buy(amount=1, tif="day"), r"tif must be 'gtc', 'ioc' or 'fok', got 'day'"),
        (lambda s: s.order("hold", amount=1), r"side must be 'buy' or 'sell', got 'hold'"),
        (lambda s: s.order("BUY", amount=1), r"side must be 'buy' or 'sell', got 'BUY'"),
        (lambda s: s.buy(amount=1, post_only=True), r"post_only applies to limit orders only"),
        (
            lambda s: s.buy(symbol="BTC/USD", amount=1),
            r"unknown symbol 'BTC/USD'; did you mean BTC/USDT",
        ),
        (lambda s: s.order_target_amount(math.nan), r"target must be a finite number, got nan"),
        (lambda s: s.order_target_amount(True), r"target must be a finite number, got True"),
        (lambda s: s.order_target_percent(math.inf), r"target must be a finite number, got inf"),
        (lambda s: s.order_target_amount(1.0, symbol="ETH/USDT"), r"unknown symbol 'ETH/USDT'"),
        (lambda s: s.order_target_percent(0.5, symbol="ETH/USDT"), r"ETH/USDT"),
    ],
)
def test_a_malformed_request_is_an_order_error(action: Any, pattern: str) -> None:
    with pytest.raises(OrderError, match=pattern):
        run({1: action})


def test_an_unknown_symbol_is_an_order_error_with_risk_in_place_too() -> None:
    class PassThrough(RiskPolicy):
        def check(self, request: Any, context: RiskContext) -> Decision:
            return Decision.approve(request, self.name)

    with pytest.raises(OrderError, match=r"unknown symbol 'BTC/USD'.*BTC/USDT"):
        run({1: lambda s: s.buy(symbol="BTC/USD", amount=1)}, risk=PassThrough())


def test_numpy_numbers_are_accepted_as_amounts_and_prices() -> None:
    strategy, _ = run(
        {
            0: lambda s: s.buy(amount=np.float64(2.0)),
            1: lambda s: s.sell(amount=np.float64(1.0), limit=np.float64(150.0)),
        }
    )
    assert strategy.returned[0].filled == 2.0


# -- events and timing -------------------------------------------------------------------------


def test_on_order_and_on_fill_receive_events_in_order() -> None:
    strategy, _ = run({0: lambda s: s.buy(amount=1), 2: lambda s: s.sell(amount=1)})
    assert strategy.events == [
        ("order", "qk-000001", OrderStatus.OPEN, 0),
        ("fill", "qk-000001", 102.0, 1.0, 1),
        ("order", "qk-000001", OrderStatus.FILLED, 1),
        ("order", "qk-000002", OrderStatus.OPEN, 2),
        ("fill", "qk-000002", 104.5, 1.0, 3),
        ("order", "qk-000002", OrderStatus.FILLED, 3),
    ]


def test_an_account_rejection_arrives_as_an_order_event() -> None:
    strategy, result = run({0: lambda s: s.buy(amount=1_000)})
    assert strategy.events == [
        ("order", "qk-000001", OrderStatus.OPEN, 0),
        ("order", "qk-000001", OrderStatus.REJECTED, 1),
    ]
    row = result.orders.iloc[0]
    assert row["status"] == "rejected"
    assert "insufficient USDT" in row["reason"]
    assert strategy.seen[5] == (10_000.0, 10_000.0, 0.0)


def test_open_orders_and_cancel() -> None:
    def place(s: Scripted) -> Order:
        return s.buy(amount=1, limit=90.0)

    def check_and_cancel(s: Scripted) -> list[Order]:
        working = s.open_orders()
        s.cancel(working[0])
        return working

    strategy, result = run({1: place, 3: check_and_cancel, 4: lambda s: s.open_orders()})
    placed = strategy.returned[1]
    assert strategy.returned[3] == [placed]
    assert strategy.returned[4] == []
    assert placed.status is OrderStatus.CANCELED
    assert strategy.events[-1] == ("order", placed.client_id, OrderStatus.CANCELED, 3)
    assert result.orders.iloc[0]["status"] == "canceled"


def test_orders_placed_at_bar_t_fill_at_the_open_of_bar_t_plus_1() -> None:
    every_bar = dict.fromkeys(range(len(ROWS)), lambda s: s.buy(amount=0.5))
    strategy, result = run(every_bar)
    opens = [row[0] for row in ROWS]
    assert result.fills["price"].tolist() == opens[1:]
    assert result.fills["time"].tolist() == [utc(t) for t in OPEN_TIME[1:]]
    assert result.orders["created_at"].tolist() == [utc(t) for t in CLOSE_TIME]
    fill_bars = [event[4] for event in strategy.events if event[0] == "fill"]
    assert fill_bars == [1, 2, 3, 4, 5]
    last = strategy.returned[len(ROWS) - 1]
    assert last.status is OrderStatus.OPEN  # placed on the last bar: nothing left to fill it
    assert result.orders["status"].tolist() == ["filled"] * 5 + ["open"]


def test_now_and_bar_time_are_the_close_of_the_current_bar() -> None:
    strategy, _ = run(dict.fromkeys(range(len(ROWS)), lambda s: (s.now, s.data.time)))
    assert [strategy.returned[k] for k in range(len(ROWS))] == [(t, t) for t in CLOSE_TIME]


def test_orders_on_a_second_symbol() -> None:
    eth = make_series(
        [(r[0] / 10, r[1] / 10, r[2] / 10, r[3] / 10, r[4]) for r in ROWS], symbol="ETH/USDT"
    )
    strategy = Scripted({0: lambda s: s.buy(symbol="ETH/USDT", amount=10)})
    run_engine(strategy, [make_series(ROWS), eth])
    assert strategy.symbols == (SYMBOL, "ETH/USDT")
    eth_position = strategy.position("ETH/USDT")
    assert (eth_position.amount, eth_position.entry_price) == (10.0, 10.2)
    assert strategy.position().is_flat
    assert strategy.cash == pytest.approx(10_000.0 - 102.0)


class _ApproveAll(RiskPolicy):
    def check(self, request: Any, context: RiskContext) -> Decision:
        return Decision.approve(request, self.name)


def test_unknown_symbols_get_a_suggestion_with_or_without_risk() -> None:
    for risk in (None, _ApproveAll()):
        with pytest.raises(OrderError, match=r"did you mean BTC/USDT\?"):
            run({1: lambda s: s.buy(symbol="BTC/USDC", amount=1)}, risk=risk)
    with pytest.raises(OrderError, match=r"unknown symbol 'ETH/USDT'"):
        run({1: lambda s: s.order_target_percent(0.5, symbol="ETH/USDT")})
