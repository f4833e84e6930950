"""Sizers: entry orders resized to the computed size, reducing orders untouched.

The latest price is 100 and the cash 10 000 unless a case says otherwise. `FakeContext.hold`
adds a position without paying for it, so equity = cash + held * 100.
"""

from __future__ import annotations

import doctest
import math
from typing import Any

import numpy as np
import pytest
import talib
from hypothesis import given, settings

from quantkit.domain.bars import Bar
from quantkit.domain.market import Market
from quantkit.domain.order import OrderType
from quantkit.errors import ConfigError
from quantkit.risk import sizing as sizing_module
from quantkit.risk.kelly import KellySizer
from quantkit.risk.limits import MaxPositionSize
from quantkit.risk.policy import RiskAction, RiskChain
from quantkit.risk.sizing import (
    YEAR_NS,
    FixedAmount,
    FixedFraction,
    FixedNotional,
    Sizer,
    VolatilityTarget,
)
from tests.strategies import SizingCase, sizing_cases

from .helpers import HOUR, SYMBOL, FakeContext, Scripted, make_series, request, run_engine

APPROVE, RESIZE, REJECT = RiskAction.APPROVE, RiskAction.RESIZE, RiskAction.REJECT


class BarContext(FakeContext):
    """A FakeContext whose latest bar is set by hand (``push``) instead of a flat one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.bars: dict[str, Bar] = {}

    def push(self, high: float, low: float, close: float, symbol: str = SYMBOL) -> None:
        self.now += HOUR
        self.prices[symbol] = close
        self.bars[symbol] = Bar(symbol, self.now - HOUR, self.now, close, high, low, close, 1.0)

    def last_bar(self, symbol: str) -> Bar | None:
        return self.bars.get(symbol)


def feed(
    policy: VolatilityTarget, context: BarContext, rows: list[tuple[float, float, float]]
) -> None:
    for high, low, close in rows:
        context.push(high, low, close)
        policy.on_bar(context)


# -- FixedAmount, FixedNotional --


@pytest.mark.parametrize(
    ("held", "side", "asked", "action", "sent"),
    [
        (0.0, "buy", 1.0, RESIZE, 2.0),
        (0.0, "buy", 2.0, APPROVE, 2.0),
        (0.0, "sell", 7.0, RESIZE, 2.0),  # a new short
        (1.0, "buy", 5.0, RESIZE, 2.0),  # adds 2 to the long
        (3.0, "sell", 1.0, APPROVE, 1.0),  # reduces: unchanged
        (3.0, "sell", 3.0, APPROVE, 3.0),  # closes: unchanged
        (3.0, "sell", 4.0, RESIZE, 5.0),  # flips: cover 3, then 2 short
        (-1.5, "buy", 9.0, RESIZE, 3.5),  # flips: cover 1.5, then 2 long
    ],
)
def test_fixed_amount(
    held: float, side: str, asked: float, action: RiskAction, sent: float
) -> None:
    context = FakeContext().hold(held) if held else FakeContext()
    original = request(side, amount=asked)
    decision = FixedAmount(2.0).check(original, context)
    assert (decision.action, decision.policy) == (action, "FixedAmount")
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-12)
    assert decision.request.side == original.side
    if action is APPROVE:
        assert decision.request is original
    else:
        assert decision.reason == f"sized from {asked:g} to {sent:g} (fixed amount 2)"


def test_reduce_only_orders_pass_unchanged() -> None:
    original = request("sell", amount=50.0, reduce_only=True)
    decision = FixedAmount(2.0).check(original, FakeContext().hold(5.0))
    assert (decision.action, decision.request) == (APPROVE, original)


def test_a_cost_order_becomes_an_amount_order() -> None:
    decision = FixedAmount(2.0).check(request(cost=500.0), FakeContext())
    assert decision.action is RESIZE
    assert decision.request is not None
    assert (decision.request.amount, decision.request.cost) == (2.0, None)
    assert decision.reason == "sized from 5 to 2 (fixed amount 2)"  # 500 / 100 = 5 asked


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({}, 10.0),  # 1000 / 100
        ({"type": OrderType.LIMIT, "limit_price": 200.0}, 5.0),  # valued at its limit
        ({"type": OrderType.STOP, "stop_price": 125.0}, 8.0),  # 1000 / 125
    ],
)
def test_fixed_notional(fields: dict[str, Any], sent: float) -> None:
    decision = FixedNotional(1_000.0).check(request(amount=1.0, **fields), FakeContext())
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-12)
    assert decision.request.type == fields.get("type", OrderType.MARKET)
    price = fields.get("limit_price") or fields.get("stop_price") or 100.0
    assert decision.reason == f"sized from 1 to {sent:g} (fixed notional 1000 at {price:g})"


def test_sizes_are_rounded_down_to_the_step() -> None:
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=0.1)
    decision = FixedNotional(1_234.0).check(request(), FakeContext(markets={SYMBOL: market}))
    assert decision.request is not None
    assert decision.request.amount == 12.3  # 12.34 rounded down to 0.1


@pytest.mark.parametrize(
    "market",
    [
        Market(SYMBOL, "BTC", "USDT", min_amount=1.0),  # 0.5 < 1
        Market(SYMBOL, "BTC", "USDT", min_notional=60.0),  # 0.5 * 100 = 50 < 60
        Market(SYMBOL, "BTC", "USDT", amount_increment=1.0),  # 0.5 rounds to 0
    ],
)
def test_a_size_below_the_market_minimum_is_rejected(market: Market) -> None:
    decision = FixedNotional(50.0).check(request(), FakeContext(markets={SYMBOL: market}))
    assert decision.action is REJECT
    assert decision.reason.startswith("sized order of 0.5 BTC/USDT rounds to ")
    assert "below the market minimum" in decision.reason


def test_an_entry_without_a_price_is_rejected() -> None:
    decision = FixedAmount(1.0).check(request(), FakeContext(prices={}))
    assert (decision.action, decision.reason) == (
        REJECT,
        "no price for BTC/USDT yet to size the order",
    )


# -- FixedFraction --


@pytest.mark.parametrize(
    ("fraction", "held", "side", "action", "sent"),
    [
        (0.5, 0.0, "buy", RESIZE, 50.0),  # 0.5 * 10000 / 100
        (0.5, 20.0, "buy", RESIZE, 40.0),  # equity 12000 -> target 60, holds 20
        (0.5, 0.0, "sell", RESIZE, 50.0),  # a short of the same value
        (0.5, -10.0, "buy", RESIZE, 55.0),  # equity 9000 -> 45 long, after covering 10
        (2.0, 0.0, "buy", RESIZE, 200.0),  # leveraged: 2 * 10000 / 100
        (0.25, 50.0, "buy", REJECT, None),  # equity 15000 -> target 37.5 < 50 held
    ],
)
def test_fixed_fraction(
    fraction: float, held: float, side: str, action: RiskAction, sent: float | None
) -> None:
    context = FakeContext().hold(held) if held else FakeContext()
    asked = abs(held) + 1.0  # an entry (a flip when short)
    decision = FixedFraction(fraction).check(request(side, amount=asked), context)
    assert decision.action is action
    if sent is None:
        assert decision.reason.startswith("already at target: BTC/USDT position 50")
    else:
        assert decision.request is not None
        assert decision.request.amount == pytest.approx(sent, rel=1e-12)


def test_fixed_fraction_names_its_target() -> None:
    decision = FixedFraction(0.5).check(request(amount=1.0), FakeContext().hold(20.0))
    assert decision.reason == "sized from 1 to 40 (target 60: 0.5 of equity 12000 at 100)"


def test_fixed_fraction_with_no_equity_rejects_entries() -> None:
    context = FakeContext().hold(-200.0)  # equity 10000 - 200 * 100 = -10000
    decision = FixedFraction(0.5).check(request("buy", amount=300.0), context)
    assert (decision.action, decision.reason) == (
        REJECT,
        "equity is -10000: nothing to size against",
    )


# -- VolatilityTarget --

FLAT_RANGE = [(101.0, 99.0, 100.0)] * 5  # true range 2 on every bar after the first


def test_atr_matches_talib_exactly() -> None:
    rng = np.random.default_rng(7)
    n, window = 120, 14
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    high = np.maximum(close, np.roll(close, 1)) + rng.uniform(0, 2, n)
    low = np.minimum(close, np.roll(close, 1)) - rng.uniform(0, 2, n)
    expected = talib.ATR(high, low, close, timeperiod=window)
    policy = VolatilityTarget(0.01, window=window, symbols=[SYMBOL])
    context = BarContext()
    got = []
    for i in range(n):
        context.push(high[i], low[i], close[i])
        policy.on_bar(context)
        got.append(policy.volatility(SYMBOL, context, close[i]))
    assert np.isnan(got[:window]).all() and np.isnan(expected[:window]).all()
    np.testing.assert_allclose(got[window:], expected[window:], rtol=1e-12)


def test_stdev_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.02, 60))
    policy = VolatilityTarget(0.01, window=20, method="stdev", symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, [(c, c, c) for c in close])
    returns = close[1:] / close[:-1] - 1
    expected = np.std(returns[-20:]) * 123.0
    assert policy.volatility(SYMBOL, context, 123.0) == pytest.approx(expected, rel=1e-12)


def test_each_bar_is_measured_once() -> None:
    policy = VolatilityTarget(0.01, window=3, symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, FLAT_RANGE[:3])
    policy.on_bar(context)  # the same bar again: ignored
    decision = policy.check(request(), context)
    assert decision.reason == "warming up: 2 of 3 bars"  # 3 bars -> 2 true ranges


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({}, 50.0),  # ATR 2: 0.01 * 10000 / 2
        ({"max_fraction": 0.2}, 20.0),  # value capped at 0.2 * 10000 -> 20 units
        ({"target": 0.5, "annualize": True}, 5_000 / (2 * math.sqrt(8760))),  # 26.71
    ],
)
def test_volatility_target_sizes_by_atr(kwargs: dict[str, object], sent: float) -> None:
    settings_ = {"target": 0.01, "window": 3, "symbols": [SYMBOL], **kwargs}
    policy = VolatilityTarget(**settings_)  # type: ignore[arg-type]
    context = BarContext()
    feed(policy, context, FLAT_RANGE)
    decision = policy.check(request(amount=1.0), context)
    assert decision.action is RESIZE
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(sent, rel=1e-5)


def test_annualised_volatility_uses_a_365_day_year() -> None:
    policy = VolatilityTarget(0.5, window=3, annualize=True, symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, FLAT_RANGE)
    assert YEAR_NS // HOUR == 8760
    assert policy.volatility(SYMBOL, context, 100.0) == pytest.approx(2 * math.sqrt(8760))


def test_volatility_target_tops_up_to_the_target() -> None:
    policy = VolatilityTarget(0.01, window=3, symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, FLAT_RANGE)
    context.hold(30.0)  # equity 13000 -> 0.01 * 13000 / 2 = 65 units; 35 missing
    decision = policy.check(request(amount=1.0), context)
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(35.0)
    context.hold(35.0)  # 65 held, equity 16500 -> target 82.5 units: 17.5 missing
    decision = policy.check(request(amount=1.0), context)
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(17.5)


def test_no_measured_movement_sizes_at_the_cap() -> None:
    policy = VolatilityTarget(0.01, window=3, method="stdev", max_fraction=0.3, symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, FLAT_RANGE)  # constant closes: stdev 0
    decision = policy.check(request(amount=1.0), context)
    assert decision.request is not None
    assert decision.request.amount == pytest.approx(30.0)  # 0.3 * 10000 / 100
    assert decision.reason == "sized from 1 to 30 (target 30: capped at 0.3 of equity 10000 at 100)"


def test_a_symbol_is_measured_from_its_first_order_when_not_listed() -> None:
    policy = VolatilityTarget(0.01, window=3)
    context = BarContext()
    feed(policy, context, FLAT_RANGE)  # nobody asked about BTC/USDT yet: not measured
    assert policy.check(request(), context).reason == "warming up: 0 of 3 bars"
    feed(policy, context, FLAT_RANGE[:3])  # bar 1 gives the first close, 2 more ranges
    assert policy.check(request(), context).reason == "warming up: 2 of 3 bars"
    feed(policy, context, FLAT_RANGE[:1])
    assert policy.check(request(), context).action is RESIZE


def test_volatility_target_with_no_equity_rejects_entries() -> None:
    policy = VolatilityTarget(0.01, window=3, symbols=[SYMBOL])
    context = BarContext()
    feed(policy, context, FLAT_RANGE)
    context.hold(-200.0)
    decision = policy.check(request("buy", amount=300.0), context)
    assert decision.reason == "equity is -10000: nothing to size against"


def test_volatility_target_in_a_backtest() -> None:
    rows = [(100.0, 101.0, 99.0, 100.0, 10.0)] * 8  # true range 2 on every bar after the first

    def buy(s: Scripted) -> None:
        s.buy(amount=1.0)

    policy = VolatilityTarget(0.01, window=3, symbols=[SYMBOL])
    strategy = Scripted({1: buy, 4: buy, 6: buy})
    result = run_engine(
        strategy, make_series(rows), RiskChain([policy, MaxPositionSize(max_amount=80)])
    )
    events = result.risk_events
    # bar 1: one range measured -> warming up; bar 4: ATR 2 -> 0.01 * 10000 / 2 = 50 units,
    # filled at bar 5's open 100; bar 6: already holds the 50 units of the target.
    assert list(events["reason"]) == [
        "warming up: 1 of 3 bars",
        "sized from 1 to 50 (target 50: volatility 2 per unit, 0.01 of equity 10000)",
        "already at target: BTC/USDT position 50 in the order's direction, target 50",
    ]
    assert list(result.fills["amount"]) == [50.0]


# -- Settings --


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (FixedAmount, {"amount": 0.0}),
        (FixedAmount, {"amount": math.nan}),
        (FixedAmount, {"amount": None}),
        (FixedNotional, {"notional": -1.0}),
        (FixedNotional, {"notional": None}),
        (FixedFraction, {"fraction": 0.0}),
        (FixedFraction, {"fraction": 10.5}),
        (FixedFraction, {"fraction": True}),
        (FixedFraction, {"fraction": "0.5"}),
        (VolatilityTarget, {"target": 0.0}),
        (VolatilityTarget, {"target": 0.01, "window": 1}),
        (VolatilityTarget, {"target": 0.01, "window": 2.5}),
        (VolatilityTarget, {"target": 0.01, "method": "garch"}),
        (VolatilityTarget, {"target": 0.01, "max_fraction": 0.0}),
    ],
)
def test_bad_settings_are_a_config_error(factory: type[Sizer], kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=factory.__name__):
        factory(**kwargs)


def test_reprs() -> None:
    assert repr(FixedAmount(0.5)) == "FixedAmount(amount=0.5)"
    assert repr(FixedNotional(100.0)) == "FixedNotional(notional=100.0)"
    assert repr(FixedFraction(0.1)) == "FixedFraction(fraction=0.1)"
    assert repr(VolatilityTarget(0.02, method="stdev", annualize=True)) == (
        "VolatilityTarget(target=0.02, window=20, method='stdev', annualize=True, max_fraction=1.0)"
    )


# -- Properties --


def _case_context(case: SizingCase) -> FakeContext:
    market = Market(SYMBOL, "BTC", "USDT", amount_increment=case.increment)
    context = FakeContext({SYMBOL: case.price}, markets={SYMBOL: market}, cash=case.cash)
    return context.hold(case.held, case.price) if case.held else context


def _warmed_volatility_target() -> VolatilityTarget:
    policy = VolatilityTarget(0.01, window=3, max_fraction=2.0, symbols=[SYMBOL])
    feed(policy, BarContext(), FLAT_RANGE)  # ATR 2, whatever the price later
    return policy


SIZERS: list[Sizer] = [
    FixedFraction(0.5),
    FixedFraction(3.0),
    FixedNotional(2_500.0),
    FixedAmount(1.5),
    _warmed_volatility_target(),
    KellySizer(fallback=0.2),  # no trades yet: 20 % of equity
]


def _target(sizer: Sizer, held: float, equity: float, price: float) -> float:
    """The position (in the order's direction) the sizer aims at, worked out independently."""
    if isinstance(sizer, FixedNotional):
        return max(held, 0.0) + sizer.notional / price
    if isinstance(sizer, FixedAmount):
        return max(held, 0.0) + sizer.amount
    assert equity > 0  # equity sizers never size against zero or negative equity
    if isinstance(sizer, FixedFraction):
        return sizer.fraction * equity / price
    if isinstance(sizer, VolatilityTarget):
        return min(0.01 * equity / 2.0, 2.0 * equity / price)
    return 0.2 * equity / price


@settings(max_examples=150, deadline=None)
@given(case=sizing_cases())
def test_sized_positions_land_on_the_target_and_reductions_pass(case: SizingCase) -> None:
    context = _case_context(case)
    original = request(case.side.value, amount=case.amount, reduce_only=case.reduce_only)
    equity = context.portfolio.equity()
    step = case.increment or 1e-9
    held = case.held * original.sign  # position in the order's direction
    for sizer in SIZERS:
        decision = sizer.check(original, context)
        if case.reduce_only or (held < 0 and case.amount <= -held):
            assert (decision.action, decision.request) == (APPROVE, original)
            continue
        if decision.request is None:
            continue
        assert decision.request.amount is not None
        assert decision.request.side is original.side
        after = held + decision.request.amount  # position in the order's direction
        target = _target(sizer, held, equity, case.price)
        assert after <= target * (1 + 1e-9) + 1e-9
        assert after >= target - step * (1 + 1e-9) - 1e-9 * target


def test_docstring_examples_run() -> None:
    result = doctest.testmod(sizing_module)
    assert result.attempted >= 4
    assert result.failed == 0
