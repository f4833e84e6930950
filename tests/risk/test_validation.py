"""Signal validation: PriceBand, StaleSignal, ReduceOnlyCheck and SaneOrder.

The latest price is 100 and the timeframe one hour unless a case says otherwise; expected
sizes and percentages are worked out by hand in the comments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.brokers.backtest import BacktestBroker
from quantkit.data.series_feed import SeriesFeed
from quantkit.domain.bars import BarSeries
from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.engine.engine import Engine
from quantkit.errors import ConfigError
from quantkit.risk.policy import RiskAction, RiskChain
from quantkit.risk.validation import PriceBand, ReduceOnlyCheck, SaneOrder, StaleSignal
from quantkit.strategy.data import SymbolData
from tests.strategies import order_requests

from .helpers import HOUR, SYMBOL, T0, FakeContext, Scripted, make_series, request, run_engine

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT
LIMIT, STOP, STOP_LIMIT = OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT


def corrupt(order: OrderRequest, **fields: Any) -> OrderRequest:
    """Overwrite fields of a frozen request after its checks ran (what SaneOrder defends)."""
    for name, value in fields.items():
        object.__setattr__(order, name, value)
    return order


# -- PriceBand --


@pytest.mark.parametrize(
    ("fields", "action"),
    [
        ({}, APPROVE),  # market orders carry no price of their own
        ({"type": LIMIT, "limit_price": 105.0}, APPROVE),  # |105 / 100 - 1| = 5 %: on the edge
        ({"type": LIMIT, "limit_price": 95.0}, APPROVE),
        ({"type": LIMIT, "limit_price": 105.01}, REJECT),  # 5.01 %
        ({"type": STOP, "stop_price": 94.9}, REJECT),  # 5.1 %
        ({"type": STOP_LIMIT, "stop_price": 101.0, "limit_price": 106.0}, REJECT),  # limit 6 %
        ({"type": STOP_LIMIT, "stop_price": 110.0, "limit_price": 101.0}, REJECT),  # stop 10 %
        ({"type": LIMIT, "limit_price": 100.0, "stop_loss": 50.0, "take_profit": 200.0}, APPROVE),
    ],
)
def test_price_band(fields: dict[str, Any], action: RiskAction) -> None:
    original = request("buy", **fields)
    decision = PriceBand(max_deviation=0.05).check(original, FakeContext())
    assert decision.action is action
    assert decision.policy == "PriceBand"
    assert decision.request is (original if action is APPROVE else None)


def test_price_band_reasons_name_the_price_distance_and_band() -> None:
    policy = PriceBand(max_deviation=0.05)
    limit = policy.check(request("sell", type=LIMIT, limit_price=94.0), FakeContext())
    assert limit.reason == (
        "limit price 94 is 6.00% from the last price 100 of BTC/USDT; the band is 5.00%"
    )
    stop = policy.check(request("sell", type=STOP, stop_price=120.0), FakeContext())
    assert stop.reason == (
        "stop price 120 is 20.00% from the last price 100 of BTC/USDT; the band is 5.00%"
    )


@pytest.mark.parametrize("fields", [{}, {"side": "sell", "reduce_only": True}])
def test_price_band_refuses_every_order_without_a_price(fields: dict[str, Any]) -> None:
    decision = PriceBand(max_deviation=0.05).check(request(**fields), FakeContext(prices={}))
    assert decision.action is REJECT
    assert decision.reason == ("no last price for BTC/USDT yet to check the order's price against")


@given(order=order_requests(), last=st.floats(50.0, 150.0), band=st.floats(0.001, 0.5))
def test_price_band_never_approves_a_price_outside_the_band(
    order: OrderRequest, last: float, band: float
) -> None:
    decision = PriceBand(max_deviation=band).check(order, FakeContext({SYMBOL: last}))
    prices = [p for p in (order.limit_price, order.stop_price) if p is not None]
    inside = all(abs(p / last - 1) <= band * (1 + 1e-9) for p in prices)
    assert (decision.action is APPROVE) is inside


# -- StaleSignal --


@pytest.mark.parametrize(
    ("lag_hours", "held", "order", "action"),
    [
        (0.0, 0.0, {}, APPROVE),
        (2.0, 0.0, {}, APPROVE),  # 2 bars behind, 2 allowed
        (2.5, 0.0, {}, REJECT),
        (3.0, 0.0, {"side": "sell"}, REJECT),  # a new short is an entry too
        (3.0, 2.0, {"side": "sell", "amount": 1.0}, APPROVE),  # reduces 2 -> 1
        (3.0, 2.0, {"side": "sell", "amount": 2.0}, APPROVE),  # closes
        (3.0, 2.0, {"side": "sell", "amount": 3.0}, REJECT),  # flips to -1: opens a short
        (3.0, 2.0, {"side": "sell", "cost": 150.0}, APPROVE),  # 150 / 100 = 1.5 <= 2
        (3.0, 2.0, {"side": "sell", "cost": 300.0}, REJECT),  # 3 > 2
        (3.0, 2.0, {"side": "buy", "amount": 1.0}, REJECT),  # adds
        (3.0, -2.0, {"side": "buy", "reduce_only": True}, APPROVE),
    ],
)
def test_stale_signal(
    lag_hours: float, held: float, order: dict[str, Any], action: RiskAction
) -> None:
    context = FakeContext()
    if held:
        context.hold(held)
    context.bar_times[SYMBOL] = T0 - int(lag_hours * HOUR)
    decision = StaleSignal(max_bars=2).check(request(**order), context)
    assert decision.action is action
    assert decision.policy == "StaleSignal"


def test_stale_signal_reason_says_how_far_behind() -> None:
    context = FakeContext()
    context.bar_times[SYMBOL] = T0 - 3 * HOUR
    decision = StaleSignal(max_bars=2).check(request(), context)
    assert decision.reason == (
        "latest BTC/USDT bar closed 3 bars before now (limit 2); entry refused on stale data"
    )


def test_stale_signal_refuses_entries_before_the_first_bar() -> None:
    context = FakeContext()
    context.bar_times[SYMBOL] = -1
    decision = StaleSignal(max_bars=0).check(request(), context)
    assert (decision.action, decision.reason) == (REJECT, "no bar for BTC/USDT yet; entry refused")


def test_stale_signal_with_zero_bars_wants_the_bar_closing_now() -> None:
    context = FakeContext()
    policy = StaleSignal(max_bars=0)
    assert policy.check(request(), context).action is APPROVE
    context.bar_times[SYMBOL] = T0 - 1  # one nanosecond late
    assert policy.check(request(), context).action is REJECT


class OnBtcBars(Scripted):
    """Runs the script on BTC's bars only (the engine calls on_bar once per symbol)."""

    def on_bar(self, bar: SymbolData) -> None:
        if bar.symbol == SYMBOL:
            super().on_bar(bar)


def test_stale_signal_in_a_two_symbol_run() -> None:
    """ETH's data stops after three bars; an entry on it later is refused, an exit is not."""
    btc = make_series([(100.0, 101.0, 99.0, 100.0, 10.0)] * 7)
    eth_times = btc.open_time[:3]
    flat = np.full(3, 10.0)
    eth = BarSeries("ETH/USDT", HOUR, eth_times, eth_times + HOUR, flat, flat, flat, flat, flat)
    markets = {s: Market.from_symbol(s, maker_fee=0.0, taker_fee=0.0) for s in (SYMBOL, "ETH/USDT")}
    strategy = OnBtcBars(
        {
            0: lambda s: s.buy(symbol="ETH/USDT", amount=1.0),  # fresh; fills at ETH bar 1
            5: lambda s: s.buy(symbol="ETH/USDT", amount=1.0),  # ETH data 3 bars old
            6: lambda s: s.sell(symbol="ETH/USDT", amount=1.0),  # an exit: passes
        }
    )
    engine = Engine(
        feed=SeriesFeed([btc, eth]),
        strategy=strategy,
        broker=BacktestBroker(cash=10_000, markets=markets),
        risk=StaleSignal(max_bars=1),
    )
    events = engine.run().risk_events
    assert events["action"].tolist() == ["approve", "reject", "approve"]
    # BTC bar 5 closes at T0 + 6h; ETH's last bar closed at T0 + 3h: 3 bars behind
    assert events.loc[1, "reason"] == (
        "latest ETH/USDT bar closed 3 bars before now (limit 1); entry refused on stale data"
    )


# -- ReduceOnlyCheck --


@pytest.mark.parametrize(
    ("held", "order", "action", "sent"),
    [
        (0.0, {"side": "sell", "amount": 1.0}, APPROVE, 1.0),  # not reduce-only: not its business
        (0.0, {"side": "sell", "amount": 1.0, "reduce_only": True}, REJECT, None),  # flat
        (-2.0, {"side": "sell", "amount": 1.0, "reduce_only": True}, REJECT, None),  # adds short
        (2.0, {"side": "buy", "amount": 1.0, "reduce_only": True}, REJECT, None),  # adds long
        (2.0, {"side": "sell", "amount": 1.0, "reduce_only": True}, APPROVE, 1.0),
        (2.0, {"side": "sell", "amount": 2.0, "reduce_only": True}, APPROVE, 2.0),
        (3.0, {"side": "sell", "amount": 5.0, "reduce_only": True}, RESIZE, 3.0),
        (-3.0, {"side": "buy", "amount": 5.0, "reduce_only": True}, RESIZE, 3.0),
        (3.0, {"side": "sell", "cost": 200.0, "reduce_only": True}, APPROVE, None),  # 2 <= 3
        (3.0, {"side": "sell", "cost": 500.0, "reduce_only": True}, RESIZE, 3.0),  # 5 > 3
    ],
)
def test_reduce_only_check(
    held: float, order: dict[str, Any], action: RiskAction, sent: float | None
) -> None:
    context = FakeContext().hold(held) if held else FakeContext()
    original = request(**order)
    decision = ReduceOnlyCheck().check(original, context)
    assert decision.action is action
    assert decision.policy == "ReduceOnlyCheck"
    if action is APPROVE:
        assert decision.request is original
    elif action is RESIZE:
        assert decision.request is not None
        assert (decision.request.amount, decision.request.cost) == (sent, None)
        assert decision.request.reduce_only
    else:
        assert decision.request is None


def test_reduce_only_reasons() -> None:
    policy = ReduceOnlyCheck()
    wrong_side = policy.check(request("sell", reduce_only=True), FakeContext())
    assert wrong_side.reason == (
        "reduce-only sell on BTC/USDT would not reduce the position (holding 0)"
    )
    too_big = policy.check(request("sell", amount=5.0, reduce_only=True), FakeContext().hold(3.0))
    assert too_big.reason == (
        "reduce-only sell of 5 on BTC/USDT is larger than the position 3; resized to 3"
    )


def test_reduce_only_resize_rounds_down_to_the_step() -> None:
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=0.1)
    context = FakeContext(markets={SYMBOL: market}).hold(-2.55)
    decision = ReduceOnlyCheck().check(request("buy", amount=4.0, reduce_only=True), context)
    assert decision.action is RESIZE
    assert decision.request is not None
    assert decision.request.amount == 2.5  # 2.55 rounded down to 0.1


def test_reduce_only_below_the_market_minimum_is_refused() -> None:
    market = Market(SYMBOL, "BTC", "USDT", min_amount=0.01)
    context = FakeContext(markets={SYMBOL: market}).hold(0.005)
    decision = ReduceOnlyCheck().check(request("sell", amount=1.0, reduce_only=True), context)
    assert decision.action is REJECT
    assert "below the market's minimum amount" in decision.reason


def test_reduce_only_cost_order_without_a_price_is_refused() -> None:
    context = FakeContext(prices={}).hold(1.0)
    decision = ReduceOnlyCheck().check(request("sell", cost=50.0, reduce_only=True), context)
    assert (decision.action, decision.reason) == (
        REJECT,
        "no price for BTC/USDT yet to size the reduce-only cost order",
    )


# -- SaneOrder --


def test_sane_orders_pass() -> None:
    original = request(amount=1.0)
    decision = SaneOrder(max_amount=10.0).check(original, FakeContext())
    assert (decision.action, decision.request, decision.policy) == (APPROVE, original, "SaneOrder")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"amount": math.nan}, "amount must be a finite number > 0, got nan"),
        ({"amount": -1.0}, "amount must be a finite number > 0, got -1.0"),
        ({"amount": "1"}, "amount must be a finite number > 0, got '1'"),
        ({"cost": math.inf, "amount": None}, "cost must be a finite number > 0, got inf"),
        ({"limit_price": 0.0}, "limit_price must be a finite number > 0, got 0.0"),
        ({"stop_loss": -5.0}, "stop_loss must be a finite number > 0, got -5.0"),
        ({"cost": 100.0}, "give exactly one of amount and cost"),
        ({"amount": None}, "give exactly one of amount and cost"),
    ],
)
def test_sane_order_refuses_corrupted_numbers(fields: dict[str, Any], reason: str) -> None:
    order = corrupt(request(amount=1.0), **fields)
    decision = SaneOrder().check(order, FakeContext())
    assert (decision.action, decision.reason) == (REJECT, f"order on BTC/USDT: {reason}")


@pytest.mark.parametrize(
    ("market", "order", "reason"),
    [
        (
            {"amount_increment": 0.001},
            {"amount": 0.0005},
            "amount 0.0005 on BTC/USDT is below the market's minimum 0.001 BTC",
        ),
        (
            {"amount_increment": 0.001, "min_amount": 0.1},
            {"amount": 0.05},
            "amount 0.05 on BTC/USDT is below the market's minimum 0.1 BTC",
        ),
        (  # 5 / 100 = 0.05 BTC
            {"min_amount": 0.1},
            {"cost": 5.0},
            "amount 0.05 on BTC/USDT is below the market's minimum 0.1 BTC",
        ),
        (  # 0.5 x 100 = 50
            {"min_notional": 100.0},
            {"amount": 0.5},
            "order value 50 on BTC/USDT is below the market's minimum 100 USDT",
        ),
        (  # valued at its limit: 1 x 90 = 90
            {"min_notional": 95.0},
            {"amount": 1.0, "type": LIMIT, "limit_price": 90.0},
            "order value 90 on BTC/USDT is below the market's minimum 95 USDT",
        ),
        (
            {"min_notional": 100.0},
            {"cost": 50.0},
            "order value 50 on BTC/USDT is below the market's minimum 100 USDT",
        ),
    ],
)
def test_sane_order_refuses_dust(
    market: dict[str, float], order: dict[str, Any], reason: str
) -> None:
    context = FakeContext(markets={SYMBOL: Market(SYMBOL, "BTC", "USDT", **market)})
    decision = SaneOrder().check(request(**order), context)
    assert (decision.action, decision.reason) == (REJECT, reason)


@pytest.mark.parametrize(
    ("order", "action"),
    [
        ({"amount": 10.0}, APPROVE),
        ({"amount": 11.0}, REJECT),
        ({"cost": 1_000.0}, APPROVE),  # 10 at 100
        ({"cost": 1_500.0}, REJECT),  # 15 at 100
    ],
)
def test_sane_order_max_amount(order: dict[str, Any], action: RiskAction) -> None:
    decision = SaneOrder(max_amount=10.0).check(request(**order), FakeContext())
    assert decision.action is action
    if action is REJECT:
        amount = order.get("amount", 15.0)
        assert decision.reason == f"amount {amount:g} on BTC/USDT is above the sanity cap 10 BTC"


def test_sane_order_cost_without_a_price() -> None:
    order = request(cost=100.0)
    assert SaneOrder().check(order, FakeContext(prices={})).action is APPROVE  # nothing to check
    capped = SaneOrder(max_amount=1.0).check(order, FakeContext(prices={}))
    assert (capped.action, capped.reason) == (
        REJECT,
        "no price for BTC/USDT yet to check the cost order's amount",
    )


# -- Settings, representation, and a run --


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (PriceBand, {"max_deviation": 0.0}),
        (PriceBand, {"max_deviation": -0.1}),
        (PriceBand, {"max_deviation": math.nan}),
        (PriceBand, {"max_deviation": math.inf}),
        (PriceBand, {"max_deviation": True}),
        (PriceBand, {"max_deviation": None}),
        (StaleSignal, {"max_bars": -1}),
        (StaleSignal, {"max_bars": 1.5}),
        (StaleSignal, {"max_bars": True}),
        (SaneOrder, {"max_amount": 0.0}),
        (SaneOrder, {"max_amount": math.nan}),
    ],
)
def test_bad_settings_are_a_config_error(factory: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=factory.__name__):
        factory(**kwargs)


def test_reprs() -> None:
    assert repr(PriceBand(max_deviation=0.05)) == "PriceBand(max_deviation=0.05)"
    assert repr(StaleSignal(max_bars=3)) == "StaleSignal(max_bars=3)"
    assert repr(ReduceOnlyCheck()) == "ReduceOnlyCheck()"
    assert repr(SaneOrder()) == "SaneOrder(max_amount=None)"


def test_validation_chain_in_a_run() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 5
    chain = RiskChain([SaneOrder(max_amount=5.0), PriceBand(max_deviation=0.05), ReduceOnlyCheck()])
    strategy = Scripted(
        {
            0: lambda s: s.buy(amount=2.0),  # approved, fills at bar 1's open
            1: lambda s: s.sell(amount=1.0, limit=50.0),  # 50 % below 100: PriceBand
            2: lambda s: s.buy(amount=50.0),  # fat finger: SaneOrder
            3: lambda s: s.sell(amount=3.0, reduce_only=True),  # holds 2: resized to 2
        }
    )
    result = run_engine(strategy, make_series(rows), chain)
    events = result.risk_events
    assert events["action"].tolist() == ["approve", "reject", "reject", "resize"]
    assert events["policy"].tolist() == ["RiskChain", "PriceBand", "SaneOrder", "ReduceOnlyCheck"]
    assert result.orders["amount"].tolist() == [2.0, 1.0, 50.0, 2.0]
    assert result.fills["amount"].tolist() == [2.0, 2.0]
    assert strategy.position().amount == 0.0
    assert result.orders["side"].iloc[-1] == Side.SELL
