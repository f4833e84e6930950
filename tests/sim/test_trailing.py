"""Trailing stops in backtest (and paper, the same simulator): ``buy(..., trail_pct=)``.

Rule (the vector path's): at each close while in the position, starting with the close of the
entry's fill bar, the stop is ``trail_pct`` below the highest high (longs) or above the lowest
low (shorts) since that bar; it works from the next bar and never loosens. Figures by hand.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.domain.order import Order, OrderRequest, OrderStatus, Side
from quantkit.errors import OrderError
from tests.strategies import WalkBars, gbm_bars
from tests.strategy.helpers import Scripted, make_market, make_series, run_engine

V = 1_000.0
QUIET = (100.0, 101.0, 99.0, 100.0, V)
# bar 1 fills the entry at 100 and reaches 110 (stop 99 from its close on) but also dips to 95:
# the stop computed from bar 1's high must not act inside bar 1 itself.
RISE_THEN_FALL = [
    QUIET,
    (100.0, 110.0, 95.0, 108.0, V),
    (108.0, 120.0, 100.0, 115.0, V),  # stop 99 works, low 100 misses it; new extreme 120 -> 108
    (115.0, 118.0, 109.0, 110.0, V),  # stop 108 works, low 109 misses it; 118 < 120: stays 108
    (110.0, 112.0, 100.0, 101.0, V),  # falls through 108: sells at 108
    QUIET,
]


class Recorder(Scripted):
    """Keeps every order handle the strategy is told about."""

    def __init__(self, script: dict[int, Any]) -> None:
        super().__init__(script)
        self.handles: dict[str, Order] = {}

    def on_order(self, order: Order) -> None:
        super().on_order(order)
        self.handles[order.client_id] = order

    def trail_orders(self) -> list[Order]:
        return [o for cid, o in self.handles.items() if "-trail-" in cid]


def fills(strategy: Scripted) -> list[tuple[Any, ...]]:
    return [event[2:] for event in strategy.events if event[0] == "fill"]


def run(rows: list[tuple[float, ...]], script: dict[int, Any], **options: Any) -> Recorder:
    strategy = Recorder(script)
    market = make_market(price_increment=0.01, amount_increment=0.001)
    run_engine(strategy, make_series(rows), markets={market.symbol: market}, **options)
    return strategy


def test_a_long_trailing_stop_follows_the_highest_high_and_sells_where_it_stands() -> None:
    strategy = run(RISE_THEN_FALL, {0: lambda s: s.buy(amount=1.0, trail_pct=0.1)})
    # (price, amount, bar delivered): bought at bar 1's open, sold at the 108 stop in bar 4.
    assert fills(strategy) == [(100.0, 1.0, 1), (108.0, 1.0, 4)]
    first, second = strategy.trail_orders()
    assert (first.request.stop_price, first.status) == (99.0, OrderStatus.CANCELED)
    assert first.reason == "trailing stop moved"
    assert (second.request.stop_price, second.status) == (108.0, OrderStatus.FILLED)
    assert second.request.reduce_only and second.request.side is Side.SELL
    assert strategy.position().is_flat and strategy.cash == pytest.approx(10_008.0)


def test_a_stop_the_open_gaps_through_fills_at_the_open() -> None:
    rows = [*RISE_THEN_FALL[:4], (105.0, 106.0, 100.0, 101.0, V), QUIET]
    strategy = run(rows, {0: lambda s: s.buy(amount=1.0, trail_pct=0.1)})
    assert fills(strategy) == [(100.0, 1.0, 1), (105.0, 1.0, 4)]


def test_a_short_trailing_stop_follows_the_lowest_low() -> None:
    rows = [
        QUIET,
        (100.0, 105.0, 90.0, 92.0, V),  # sold at 100; low 90 -> buy stop 99 (105 > 99 ignored)
        (92.0, 98.0, 85.0, 88.0, V),  # 98 misses 99; new low 85 -> 93.5
        (88.0, 95.0, 86.0, 94.0, V),  # rises through 93.5: bought back there
        QUIET,
    ]
    strategy = run(rows, {0: lambda s: s.sell(amount=1.0, trail_pct=0.1)}, allow_short=True)
    assert fills(strategy) == [(100.0, 1.0, 1), (93.5, 1.0, 3)]
    assert [o.request.stop_price for o in strategy.trail_orders()] == [99.0, 93.5]
    assert strategy.trail_orders()[-1].request.side is Side.BUY


def test_take_profit_first_cancels_the_trailing_stop() -> None:
    script = {0: lambda s: s.buy(amount=1.0, trail_pct=0.1, tp_pct=0.15)}
    strategy = run(RISE_THEN_FALL, script)
    assert fills(strategy) == [(100.0, 1.0, 1), (115.0, 1.0, 2)]  # tp 115 inside bar 2
    (trail,) = strategy.trail_orders()
    assert (trail.status, trail.reason) == (OrderStatus.CANCELED, "position closed")


def test_a_trailing_stop_beside_a_stop_loss_fills_when_it_is_the_tighter() -> None:
    rows = [QUIET, (100.0, 110.0, 99.5, 108.0, V), *RISE_THEN_FALL[2:]]
    script = {0: lambda s: s.buy(amount=1.0, trail_pct=0.1, sl_pct=0.02)}
    strategy = run(rows, script)
    assert fills(strategy) == [(100.0, 1.0, 1), (108.0, 1.0, 4)]
    stop_loss = next(o for cid, o in strategy.handles.items() if cid.endswith("-sl"))
    assert stop_loss.request.stop_price == 98.0 and stop_loss.status is OrderStatus.CANCELED


def test_a_canceled_trailing_stop_stays_canceled() -> None:
    def cancel_trail(s: Recorder) -> None:
        s.cancel(s.trail_orders()[-1])

    script = {0: lambda s: s.buy(amount=1.0, trail_pct=0.1), 2: cancel_trail}
    strategy = run(RISE_THEN_FALL, script)
    assert fills(strategy) == [(100.0, 1.0, 1)]  # nothing sold at 108 in bar 4
    assert [o.status for o in strategy.trail_orders()] == [
        OrderStatus.CANCELED,
        OrderStatus.CANCELED,
    ]
    assert strategy.position().amount == 1.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.0, "trail_pct must be a finite number > 0, got 0.0"),
        (-0.1, "trail_pct must be a finite number > 0, got -0.1"),
        (math.nan, "trail_pct must be a finite number > 0, got nan"),
        (1.0, "trail_pct must be below 1, got 1.0"),
        ("5%", "trail_pct must be a number, got '5%'"),
        (True, "trail_pct must be a number, got True"),
    ],
)
def test_a_bad_trail_pct_is_one_clear_order_error(value: Any, message: str) -> None:
    with pytest.raises(OrderError) as caught:
        OrderRequest("BTC/USDT", Side.BUY, amount=1.0, trail_pct=value)
    assert str(caught.value) == f"order on BTC/USDT: {message}"


def test_a_reduce_only_order_cannot_carry_a_trailing_stop() -> None:
    with pytest.raises(OrderError, match="a reduce_only order cannot carry a bracket"):
        OrderRequest("BTC/USDT", Side.SELL, amount=1.0, reduce_only=True, trail_pct=0.05)


def test_strategy_order_passes_trail_pct_and_its_error() -> None:
    good = run([QUIET, QUIET], {0: lambda s: s.buy(amount=1.0, trail_pct=0.05)})
    assert good.returned[0].request.trail_pct == 0.05
    with pytest.raises(OrderError, match="trail_pct must be below 1"):
        run([QUIET, QUIET], {0: lambda s: s.buy(amount=1.0, trail_pct=2.0)})


# -- property: an independent oracle of the rule on random walks --


def expected_exit(bars: WalkBars, fill_bar: int, pct: float) -> tuple[float, int] | None:
    """(price, bar) of the trailing exit by the rule, each level from earlier bars only."""
    market = make_market(price_increment=0.01)
    extreme = -math.inf
    for j in range(fill_bar + 1, len(bars)):
        extreme = max(extreme, float(bars.high[j - 1]))
        level = market.round_price(extreme * (1.0 - pct))
        if bars.open[j] <= level:
            return float(bars.open[j]), j
        if bars.low[j] <= level:
            return level, j
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(8, 60),
    sigma=st.floats(0.002, 0.05),
    pct=st.floats(0.005, 0.2),
    entry=st.integers(0, 4),
)
def test_property_the_trailing_exit_follows_the_rule_inside_the_bar_and_never_loosens(
    seed: int, count: int, sigma: float, pct: float, entry: int
) -> None:
    bars = gbm_bars(count, seed, start=100.0, sigma=sigma, drift=0.0)
    strategy = run(bars.rows(), {entry: lambda s: s.buy(amount=1.0, trail_pct=pct)})
    made = fills(strategy)
    assert made[0][1:] == (1.0, entry + 1)
    exit_ = expected_exit(bars, entry + 1, pct)
    if exit_ is None:
        assert len(made) == 1
    else:
        price, bar = made[1][0], made[1][2]
        assert (price, bar) == pytest.approx(exit_)
        assert bars.low[bar] <= price <= bars.high[bar]  # inside the bar's range
    levels = [o.request.stop_price for o in strategy.trail_orders()]
    assert levels == sorted(levels)  # the stop never loosens
