"""Every order path sends rounded amounts and prices; dust counts as flat (issue 11 item 5)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.order import OrderStatus
from tests.strategy.helpers import Scripted, make_market, run_engine, series_from_closes

# min 0.01 BTC, step 0.001 BTC, tick 0.1 USDT
MARKET = make_market(amount_increment=0.001, min_amount=0.01, price_increment=0.1)
CLOSES = [100.0] * 8


def _run(script: dict[int, object]) -> tuple[Scripted, object]:
    strategy = Scripted(script)  # type: ignore[arg-type]
    result = run_engine(strategy, series_from_closes(CLOSES), markets={"BTC/USDT": MARKET})
    return strategy, result


def test_buy_sell_and_targets_carry_rounded_requests() -> None:
    strategy, _ = _run(
        {
            0: lambda s: s.buy(amount=0.0159),
            1: lambda s: s.sell(amount=0.01009, limit=100.04),
            2: lambda s: s.order_target_amount(0.0337),
            3: lambda s: s.sell(amount=0.0099),
        }
    )
    assert strategy.returned[0].request.amount == 0.015  # 0.0159 down to the step
    assert strategy.returned[1].request.amount == 0.01  # 0.01009 down to the step
    assert strategy.returned[1].request.limit_price == 100.0  # 100.04 to the nearest tick
    # held 0.015 - 0.01 = 0.005 at bar 2; target 0.0337: delta 0.0287 rounds down to 0.028
    assert strategy.returned[2].request.amount == 0.028
    # 0.0099 rounds to 0.009, below the 0.01 minimum: refused, naming both figures
    refused = strategy.returned[3]
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == "amount 0.0099 rounds to 0.009, below the minimum 0.01 BTC"


def test_dust_is_flat_close_skips_it_and_the_strategy_trades_again() -> None:
    strategy, _ = _run(
        {
            0: lambda s: s.buy(amount=0.015),
            1: lambda s: s.sell(amount=0.01),  # leaves 0.005 BTC: below the 0.01 minimum
            3: lambda s: (s.position().amount, s.position().is_flat, s.position().is_dust),
            4: lambda s: s.close(),
            5: lambda s: s.buy(amount=0.02) if s.position().is_flat else None,
        }
    )
    amount, flat, dust = strategy.returned[3]
    assert abs(amount - 0.005) < 1e-12
    assert flat and dust
    assert strategy.returned[4] is None  # nothing the venue would accept
    entry = strategy.returned[5]
    assert entry is not None and entry.status is OrderStatus.FILLED
    assert abs(strategy.position().amount - 0.025) < 1e-12


def test_amend_is_rounded_like_a_new_order() -> None:
    strategy, _ = _run(
        {
            0: lambda s: s.buy(amount=0.02, limit=90.0),
            1: lambda s: s.amend(s.returned[0], price=90.06, amount=0.03377),
        }
    )
    amended = strategy.returned[1]
    assert amended is strategy.returned[0]  # a backtest amends in place
    assert (amended.request.amount, amended.request.limit_price) == (0.033, 90.1)


@settings(max_examples=25, deadline=None)
@given(amount=st.floats(min_value=0.001, max_value=50.0, allow_nan=False))
def test_a_backtest_fills_only_what_the_venue_accepts(amount: float) -> None:
    # The venue's LOT_SIZE: a multiple of the 0.001 step, at least 0.01 (cash is ample).
    strategy, result = _run({0: lambda s: s.buy(amount=amount)})
    order = strategy.returned[0]
    steps = Decimal(str(order.request.amount)) / Decimal("0.001")
    if order.status is OrderStatus.REJECTED:
        assert MARKET.round_amount(amount) < 0.01  # refused only below the minimum
        assert "below the minimum" in order.reason
        return
    assert steps == steps.to_integral_value()
    assert order.filled == order.request.amount >= 0.01
    assert order.request.amount <= amount + 1e-12
    assert result.fills["amount"].tolist() == [order.request.amount]
