"""Rounding to the market's precision and dust (issue 11 item 5): hand-computed and properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.order import OrderRequest, OrderType, Side
from quantkit.domain.portfolio import Portfolio
from quantkit.domain.position import Position

BTC = Market(
    "BTC/USDT", "BTC", "USDT", price_increment=0.01, amount_increment=0.00001, min_amount=0.0001
)


def test_round_request_rounds_amount_down_and_prices_to_nearest_tick() -> None:
    request = OrderRequest(
        "BTC/USDT",
        Side.BUY,
        OrderType.LIMIT,
        amount=0.123456789,
        limit_price=43_210.126,
        stop_loss=42_000.004,
        take_profit=45_000.005001,
    )
    rounded = BTC.round_request(request)
    # 0.123456789 / 0.00001 = 12345.6789 steps -> 12345 steps (down, toward zero)
    assert rounded.amount == 0.12345
    assert rounded.limit_price == 43_210.13  # .126 -> nearest .13
    assert rounded.stop_loss == 42_000.0
    assert rounded.take_profit == 45_000.01
    assert BTC.amount_text(rounded.amount) == "0.12345"


def test_round_request_leaves_rounded_requests_alone() -> None:
    request = OrderRequest("BTC/USDT", Side.SELL, amount=0.5)
    assert BTC.round_request(request) is request


def test_amount_below_minimum_is_left_for_the_broker_to_refuse() -> None:
    # 0.000099 rounds to 0.00009, below the 0.0001 minimum: not silently changed.
    request = OrderRequest("BTC/USDT", Side.BUY, amount=0.000099)
    assert BTC.round_request(request).amount == 0.000099


def test_float_noise_does_not_lose_a_step() -> None:
    # 2049 / 0.00001 is 204899999.99999997 in floats: a plain floor lost one step
    assert BTC.round_amount(2049.0) == 2049.0
    assert BTC.round_amount(0.3) == 0.3


def test_amount_text_never_uses_an_exponent() -> None:
    assert BTC.amount_text(0.0003) == "0.00030"
    assert repr(0.00001) == "1e-05"  # what a plain repr would have sent
    assert BTC.amount_text(0.00001) == "0.00001"


def test_dust_counts_as_flat_and_is_reported_by_is_dust() -> None:
    portfolio = Portfolio("USDT", {"USDT": 0.0})
    portfolio.set_markets([BTC])
    position = portfolio.position("BTC/USDT")
    assert position.dust_below == 0.0001
    position.amount = 0.00009  # below the minimum: cannot be sold
    assert position.is_flat and position.is_dust
    position.amount = 0.0001
    assert not position.is_flat and not position.is_dust
    position.amount = 0.0
    assert position.is_flat and not position.is_dust


def test_a_position_without_a_market_is_flat_only_at_zero() -> None:
    position = Position("X/USDT", 1e-12)
    assert not position.is_flat


steps = st.sampled_from([1.0, 0.1, 0.01, 0.001, 0.00001, 0.00000001, 0.5, 0.25, 5.0])
amounts = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(step=steps, amount=amounts, minimum=st.sampled_from([0.0, 1e-5, 0.01, 1.0]))
def test_rounded_amount_is_a_multiple_of_step_not_above_request(
    step: float, amount: float, minimum: float
) -> None:
    market = Market("A/USDT", "A", "USDT", amount_increment=step, min_amount=minimum)
    rounded = market.round_request(OrderRequest("A/USDT", Side.BUY, amount=amount)).amount
    assert rounded is not None
    if market.round_amount(amount) < max(minimum, step):
        assert rounded == amount  # left as asked: the broker refuses it with a clear reason
        return
    assert Decimal(str(rounded)) % Decimal(str(step)) == 0  # a multiple of the step, exactly
    # never more than asked, beyond float noise: an amount within 1e-9 of a step (or ~9 ulps
    # of the step count) counts as that step
    assert rounded <= amount + step * max(1e-9, amount / step * 2e-15) * 1.01
    assert amount - rounded < step  # the largest such multiple
    assert rounded >= minimum  # never below the minimum


@settings(max_examples=150, deadline=None)
@given(
    tick=st.sampled_from([0.01, 0.1, 0.5, 1.0, 0.0001]),
    price=st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_rounded_price_is_the_nearest_tick(tick: float, price: float) -> None:
    market = Market("A/USDT", "A", "USDT", price_increment=tick)
    request = OrderRequest("A/USDT", Side.BUY, OrderType.LIMIT, amount=1.0, limit_price=price)
    rounded = market.round_request(request).limit_price
    assert rounded is not None
    assert Decimal(str(rounded)) % Decimal(str(tick)) == 0
    assert abs(rounded - price) <= tick / 2 * (1 + 1e-9)


@pytest.mark.parametrize("amount", [0.1, 0.3, 0.7, 1.1, 2.675, 0.035])
def test_rounding_is_idempotent(amount: float) -> None:
    market = Market("A/USDT", "A", "USDT", amount_increment=0.001, price_increment=0.01)
    once = market.round_request(OrderRequest("A/USDT", Side.SELL, amount=amount))
    assert market.round_request(once) is once
