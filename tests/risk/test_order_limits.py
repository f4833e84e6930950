"""Order limits: MaxOrderNotional, OrderRateLimit and MaxSlippage.

The latest price is 100 unless a case says otherwise; expected sizes, prices and times are
worked out by hand in the comments.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderType, TimeInForce
from quantkit.errors import ConfigError
from quantkit.risk.order_limits import MaxOrderNotional, MaxSlippage, OrderRateLimit
from quantkit.risk.policy import RiskAction
from tests.strategies import order_requests

from .helpers import SYMBOL, T0, FakeContext, Scripted, make_series, request, run_engine

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT
MARKET, LIMIT, STOP, STOP_LIMIT = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
)
SECOND = 1_000_000_000


def context_with(held: float = 0.0, price: float = 100.0, **market: float) -> FakeContext:
    """A context at ``price`` holding ``held``, with a market built from ``market``."""
    context = FakeContext(
        {SYMBOL: price}, markets={SYMBOL: Market(SYMBOL, "BTC", "USDT", **market)}
    )
    return context.hold(held, price) if held else context


# -- MaxOrderNotional (cap 1,000) --


@pytest.mark.parametrize(
    ("held", "order", "action", "sent"),
    [
        (0.0, {"amount": 5.0}, APPROVE, 5.0),  # 500
        (0.0, {"amount": 10.0}, APPROVE, 10.0),  # 1,000: on the cap
        (0.0, {"amount": 25.0}, RESIZE, 10.0),  # 2,500 -> 1,000 / 100
        (0.0, {"side": "sell", "amount": 25.0}, RESIZE, 10.0),  # a short entry too
        (0.0, {"amount": 8.0, "type": LIMIT, "limit_price": 200.0}, RESIZE, 5.0),  # 1,000 / 200
        (0.0, {"amount": 20.0, "type": STOP, "stop_price": 50.0}, APPROVE, 20.0),  # 1,000
        (20.0, {"side": "sell", "amount": 15.0}, APPROVE, 15.0),  # reduces 20 -> 5
        (20.0, {"side": "sell", "amount": 25.0}, RESIZE, 10.0),  # flips: the whole order counts
        (20.0, {"side": "sell", "amount": 50.0, "reduce_only": True}, APPROVE, 50.0),
    ],
)
def test_max_order_notional(
    held: float, order: dict[str, Any], action: RiskAction, sent: float
) -> None:
    original = request(**order)
    decision = MaxOrderNotional(max_notional=1_000.0).check(original, context_with(held))
    assert decision.action is action
    assert decision.policy == "MaxOrderNotional"
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-12)
    if action is APPROVE:
        assert decision.request is original


def test_max_order_notional_reason_and_rounding() -> None:
    # 1,000 / 100 = 10, rounded down to a step of 0.3: 33 x 0.3 = 9.9
    context = context_with(amount_increment=0.3)
    decision = MaxOrderNotional(max_notional=1_000.0).check(request(amount=25.0), context)
    assert decision.action is RESIZE
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(9.9)
    assert decision.reason == (
        "order worth 2,500.00 is above the cap 1,000.00; resized from 25 to 9.9 BTC/USDT"
    )


@pytest.mark.parametrize("market", [{"min_amount": 20.0}, {"min_notional": 1_500.0}])
def test_max_order_notional_rejects_a_resize_below_the_minimum(market: dict[str, float]) -> None:
    decision = MaxOrderNotional(max_notional=1_000.0).check(
        request(amount=25.0), context_with(**market)
    )
    assert decision.action is REJECT
    assert decision.reason == (
        "order of 25 BTC/USDT worth 2,500.00 is above the cap 1,000.00, and 10 is below the "
        "market's minimum"
    )


@pytest.mark.parametrize(
    ("held", "order", "market", "action", "cost"),
    [
        (0.0, {"cost": 500.0}, {}, APPROVE, 500.0),
        (0.0, {"cost": 2_500.0}, {}, RESIZE, 1_000.0),
        (30.0, {"side": "sell", "cost": 2_500.0}, {}, APPROVE, 2_500.0),  # 25 <= 30: reduces
        (0.0, {"cost": 2_500.0}, {"min_notional": 2_000.0}, REJECT, None),
        (0.0, {"cost": 2_500.0}, {"min_amount": 20.0}, REJECT, None),  # 1,000 buys 10 < 20
    ],
)
def test_max_order_notional_cost_orders(
    held: float,
    order: dict[str, Any],
    market: dict[str, float],
    action: RiskAction,
    cost: float | None,
) -> None:
    decision = MaxOrderNotional(max_notional=1_000.0).check(
        request(**order), context_with(held, **market)
    )
    assert decision.action is action
    if cost is None:
        assert decision.reason == (
            "order costing 2,500.00 is above the cap 1,000.00, and the cap is below the "
            "market's minimum"
        )
    else:
        assert decision.request is not None
        assert (decision.request.cost, decision.request.amount) == (cost, None)


def test_max_order_notional_without_a_price() -> None:
    policy = MaxOrderNotional(max_notional=1_000.0)
    no_price = FakeContext(prices={})
    refused = policy.check(request(amount=1.0), no_price)
    assert (refused.action, refused.reason) == (
        REJECT,
        "no price for BTC/USDT yet to value the order",
    )
    assert policy.check(request(cost=500.0), no_price).action is APPROVE  # its value is its cost
    resized = policy.check(request(cost=5_000.0), no_price)
    assert resized.action is RESIZE
    assert resized.request is not None
    assert resized.request.cost == 1_000.0


@given(order=order_requests(), price=st.floats(50.0, 150.0), cap=st.floats(10.0, 5_000.0))
def test_max_order_notional_never_lets_an_entry_past_the_cap(
    order: OrderRequest, price: float, cap: float
) -> None:
    decision = MaxOrderNotional(max_notional=cap).check(order, FakeContext({SYMBOL: price}))
    sent = decision.request
    if order.reduce_only:
        assert sent is order
    elif sent is not None:
        value_price = sent.limit_price or sent.stop_price or price
        notional = sent.cost if sent.amount is None else sent.amount * value_price
        assert notional is not None
        assert notional <= cap * (1 + 1e-9)


# -- OrderRateLimit --


def submit_at(policy: OrderRateLimit, seconds: float) -> RiskAction:
    context = FakeContext()
    context.now = T0 + round(seconds * SECOND)
    return policy.check(request(), context).action


def test_order_rate_limit_counts_a_rolling_window() -> None:
    policy = OrderRateLimit(max_orders=3, per_seconds=60.0)
    # 0, 10, 20 fill the window; at 30 the window (-30, 30] holds 3; at 60 the order at 0
    # has left the window (60 - 60 = 0), so one slot is free; at 65 the window holds 10, 20, 60.
    assert [submit_at(policy, t) for t in (0, 10, 20, 30, 60, 65, 70)] == [
        APPROVE,
        APPROVE,
        APPROVE,
        REJECT,
        APPROVE,
        REJECT,
        APPROVE,  # 10 left at 70
    ]


def test_order_rate_limit_says_when_the_next_slot_frees() -> None:
    policy = OrderRateLimit(max_orders=2, per_seconds=60.0)
    context = FakeContext()
    for seconds in (0, 15):
        context.now = T0 + seconds * SECOND
        policy.check(request(), context)
    context.now = T0 + 30 * SECOND
    decision = policy.check(request("sell", reduce_only=True), context)  # exits count too
    assert decision.action is REJECT
    assert decision.policy == "OrderRateLimit"
    # the order at 0 leaves at 60: 30 s from now
    assert decision.reason == (
        "2 orders in the last 60 s (limit 2); next slot frees in 30 s, at 2024-01-01T00:01:00+00:00"
    )


def test_order_rate_limit_reset_forgets() -> None:
    policy = OrderRateLimit(max_orders=1, per_seconds=60.0)
    assert submit_at(policy, 0) is APPROVE
    assert submit_at(policy, 1) is REJECT
    policy.reset()
    assert submit_at(policy, 2) is APPROVE


@given(
    max_orders=st.integers(1, 5),
    per_seconds=st.floats(0.5, 30.0),
    gaps=st.lists(st.integers(0, 10 * SECOND), min_size=1, max_size=60),
)
def test_order_rate_limit_never_exceeds_the_limit_in_any_window(
    max_orders: int, per_seconds: float, gaps: list[int]
) -> None:
    policy = OrderRateLimit(max_orders=max_orders, per_seconds=per_seconds)
    window = round(per_seconds * SECOND)
    context = FakeContext()
    approved: list[int] = []
    now = T0
    for gap in gaps:
        now += gap
        context.now = now
        earlier = sum(1 for t in approved if t > now - window)
        decision = policy.check(request(), context)
        # it approves exactly when the window ending now has a free slot
        assert (decision.action is APPROVE) is (earlier < max_orders)
        if decision.allowed:
            approved.append(now)
    for start in approved:  # every window [start, start + window) holds at most max_orders
        assert sum(1 for t in approved if start <= t < start + window) <= max_orders


def test_order_rate_limit_in_a_run() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 6
    strategy = Scripted({k: (lambda s: s.buy(amount=0.1)) for k in range(6)})
    result = run_engine(
        strategy, make_series(rows), OrderRateLimit(max_orders=2, per_seconds=3 * 3600)
    )
    # bar k closes at T0 + (k + 1) h; a 3 h window holds the approvals after now - 3 h:
    # 1h ok, 2h ok, 3h (1h, 2h) full, 4h (2h) ok, 5h (4h) ok, 6h (4h, 5h) full
    actions = result.risk_events["action"].tolist()
    assert actions == ["approve", "approve", "reject", "approve", "approve", "reject"]
    assert str(result.risk_events.loc[2, "reason"]).endswith(
        "next slot frees in 3600 s, at 2024-01-01T04:00:00+00:00"
    )


# -- MaxSlippage --


def test_max_slippage_turns_a_market_order_into_an_ioc_limit() -> None:
    original = request("buy", amount=2.0, stop_loss_pct=0.05, tag="entry")
    decision = MaxSlippage(max_bps=50.0).check(original, FakeContext())
    assert decision.action is RESIZE
    assert decision.policy == "MaxSlippage"
    sent = decision.request
    assert sent is not None
    # 100 x (1 + 50 / 10,000) = 100.5, above the reference for a buy
    assert (sent.type, sent.limit_price, sent.time_in_force) == (LIMIT, 100.5, TimeInForce.IOC)
    assert (sent.amount, sent.stop_loss_pct, sent.tag) == (2.0, 0.05, "entry")
    assert decision.reason == (
        "market buy of BTC/USDT protected: limit IOC at 100.5 (50 bps above the reference 100)"
    )
    sell = MaxSlippage(max_bps=50.0).check(request("sell", reduce_only=True), FakeContext())
    assert sell.request is not None
    assert (sell.request.limit_price, sell.request.reduce_only) == (99.5, True)  # 100 x 0.995
    assert sell.reason.endswith("(50 bps below the reference 100)")


@pytest.mark.parametrize(
    ("side", "bps", "bound"),
    [
        ("buy", 60.0, 100.5),  # 100.6 rounds to 100.5 (402.4 ticks of 0.25): inside the band
        ("buy", 70.0, 100.5),  # 100.7 rounds to 100.75, beyond: one tick back to 100.5
        ("sell", 70.0, 99.5),  # 99.3 rounds to 99.25, beyond: one tick back to 99.5
        ("sell", 100.0, 99.0),  # 99 is on the grid
    ],
)
def test_max_slippage_rounds_to_the_tick_never_beyond_the_band(
    side: str, bps: float, bound: float
) -> None:
    context = context_with(price_increment=0.25)
    decision = MaxSlippage(max_bps=bps).check(request(side), context)
    assert decision.request is not None
    assert decision.request.limit_price == bound


@pytest.mark.parametrize(
    ("side", "limit", "action", "sent"),
    [
        ("buy", 100.2, APPROVE, 100.2),
        ("buy", 100.5, APPROVE, 100.5),  # on the edge
        ("buy", 101.0, RESIZE, 100.5),
        ("sell", 99.0, RESIZE, 99.5),
        ("sell", 101.0, APPROVE, 101.0),
    ],
)
def test_max_slippage_pulls_limits_into_the_band(
    side: str, limit: float, action: RiskAction, sent: float
) -> None:
    original = request(side, type=LIMIT, limit_price=limit, amount=1.0)
    decision = MaxSlippage(max_bps=50.0).check(original, FakeContext())
    assert decision.action is action
    assert decision.request is not None
    assert (decision.request.limit_price, decision.request.time_in_force) == (
        sent,
        TimeInForce.GTC,
    )
    if action is RESIZE:
        word = "above" if side == "buy" else "below"
        assert decision.reason == (
            f"limit {limit:g} on a {side} of BTC/USDT is beyond the band "
            f"(50 bps {word} the reference 100); moved to {sent:g}"
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"type": STOP, "stop_price": 150.0},
        {"type": STOP_LIMIT, "stop_price": 150.0, "limit_price": 160.0},
    ],
)
def test_max_slippage_leaves_stop_orders_alone(fields: dict[str, Any]) -> None:
    original = request(**fields)
    decision = MaxSlippage(max_bps=50.0).check(original, FakeContext(prices={}))
    assert (decision.action, decision.request) == (APPROVE, original)


def test_max_slippage_needs_a_reference_price() -> None:
    decision = MaxSlippage(max_bps=50.0).check(request(), FakeContext(prices={}))
    assert (decision.action, decision.reason) == (
        REJECT,
        "no reference price for BTC/USDT yet to bound the order's price",
    )


def test_max_slippage_sizes_cost_orders() -> None:
    context = context_with(amount_increment=0.01, taker_fee=0.001)
    buy = MaxSlippage(max_bps=50.0).check(request(cost=1_000.0), context)
    assert buy.request is not None
    # 1,000 / (100.5 x 1.001) = 9.9403..., rounded down to 0.01
    assert (buy.request.amount, buy.request.cost, buy.request.type) == (9.94, None, LIMIT)
    sell = MaxSlippage(max_bps=50.0).check(request("sell", cost=1_000.0), context)
    assert sell.request is not None
    assert sell.request.amount == 10.0  # worth 1,000 at the reference 100
    tiny = MaxSlippage(max_bps=50.0).check(request(cost=1.0), context_with(min_amount=0.1))
    assert tiny.action is REJECT
    assert tiny.reason.startswith("cost 1 on BTC/USDT buys 0.00")
    assert tiny.reason.endswith("at 100.5, below the market's minimum amount")


@given(
    order=order_requests(),
    reference=st.floats(50.0, 150.0),
    bps=st.floats(0.5, 500.0),
    tick=st.sampled_from([0.0, 0.01, 0.25, 1.0]),
)
def test_max_slippage_never_lets_a_price_outside_the_band(
    order: OrderRequest, reference: float, bps: float, tick: float
) -> None:
    context = context_with(price=reference, price_increment=tick)
    decision = MaxSlippage(max_bps=bps).check(order, context)
    sent = decision.request
    if order.type in (STOP, STOP_LIMIT):
        assert sent is order
        return
    if sent is None:  # only a cost order too small to buy anything
        assert order.cost is not None
        return
    assert sent.type is LIMIT
    assert sent.limit_price is not None
    edge = reference * (1 + order.side.sign * bps / 1e4)
    assert (sent.limit_price - edge) * order.side.sign <= 1e-9 * edge
    if order.type is MARKET:
        assert sent.time_in_force is TimeInForce.IOC


def test_max_slippage_in_a_run() -> None:
    rows = [
        (100.0, 101.0, 99.0, 100.0, 10.0),
        (100.2, 101.0, 99.0, 100.0, 10.0),  # opens inside 100.5: the protected buy fills
        (102.0, 103.0, 101.0, 102.0, 10.0),  # opens at 102, above 100.5: the IOC expires
        (102.0, 103.0, 101.0, 102.0, 10.0),
    ]
    strategy = Scripted({0: lambda s: s.buy(amount=1.0), 1: lambda s: s.buy(amount=1.0)})
    result = run_engine(strategy, make_series(rows), MaxSlippage(max_bps=50.0))
    orders = result.orders
    assert orders["type"].tolist() == ["limit", "limit"]
    assert orders["limit_price"].tolist() == [100.5, 100.5]
    assert orders["time_in_force"].tolist() == ["ioc", "ioc"]
    assert orders["status"].tolist()[0] == "filled"
    assert orders["status"].tolist()[1] in {"expired", "canceled"}
    assert result.fills["price"].tolist() == [100.2]


# -- Settings and representation --


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (MaxOrderNotional, {"max_notional": 0.0}),
        (MaxOrderNotional, {"max_notional": math.inf}),
        (MaxOrderNotional, {"max_notional": None}),
        (OrderRateLimit, {"max_orders": 0, "per_seconds": 1.0}),
        (OrderRateLimit, {"max_orders": 2.0, "per_seconds": 1.0}),
        (OrderRateLimit, {"max_orders": True, "per_seconds": 1.0}),
        (OrderRateLimit, {"max_orders": 1, "per_seconds": 0.0}),
        (OrderRateLimit, {"max_orders": 1, "per_seconds": math.nan}),
        (MaxSlippage, {"max_bps": 0.0}),
        (MaxSlippage, {"max_bps": -5.0}),
        (MaxSlippage, {"max_bps": 10_000.0}),
        (MaxSlippage, {"max_bps": math.inf}),
    ],
)
def test_bad_settings_are_a_config_error(factory: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=factory.__name__):
        factory(**kwargs)


def test_reprs() -> None:
    assert repr(MaxOrderNotional(max_notional=500.0)) == "MaxOrderNotional(max_notional=500.0)"
    assert repr(OrderRateLimit(max_orders=5, per_seconds=1.5)) == (
        "OrderRateLimit(max_orders=5, per_seconds=1.5)"
    )
    assert repr(MaxSlippage(max_bps=20.0)) == "MaxSlippage(max_bps=20.0)"
