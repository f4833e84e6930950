"""Quiet bands: exact bounds, and the breakers that hand them out."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from quantkit.domain.order import OrderRequest
from quantkit.risk.breakers import ConsecutiveLosses, DailyLossLimit, MaxDrawdownBreaker
from quantkit.risk.policy import RiskContext
from quantkit.risk.quiet import NEVER, QuietBand, lowest_within
from tests.risk.test_fast_paths import DAY, HOUR, EquityContext

T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC

_money = st.floats(-1e12, 1e12, allow_nan=False)
_allowed = st.floats(0.0, 1e13, allow_nan=False)


@given(reference=_money, allowed=_allowed)
def test_every_equity_from_the_bound_up_passes_the_comparison(
    reference: float, allowed: float
) -> None:
    low = lowest_within(reference, allowed)
    assert reference - low <= allowed
    above = math.nextafter(low, math.inf)
    assert reference - above <= allowed
    # and the bound is tight to a few units in the last place of the figures involved
    scale = max(abs(reference), abs(allowed), abs(low))
    assert low - (reference - allowed) <= 8 * math.ulp(scale)


def test_the_bound_moves_up_where_rounding_would_let_a_loss_through() -> None:
    # 762.28 - 0.21 rounds to 762.0699999999999, and 762.28 minus that is 0.21000000000003638
    assert 762.28 - (762.28 - 0.21) > 0.21
    low = lowest_within(762.28, 0.21)
    assert low > 762.28 - 0.21 and 762.28 - low <= 0.21


def test_a_bound_that_cannot_exist_is_nan() -> None:
    assert math.isnan(lowest_within(math.nan, 1.0))
    assert math.isnan(lowest_within(1.0, math.nan))
    assert lowest_within(5.0, math.inf) == -math.inf


def drive(breaker: DailyLossLimit | MaxDrawdownBreaker, equities: Sequence[float]) -> EquityContext:
    """Call ``on_bar`` on hourly bars from 2024-01-01 00:00 with the given equities."""
    context = EquityContext()
    for k, equity in enumerate(equities):
        context.value = equity
        context.now = T0 + (k + 1) * HOUR
        assert breaker.on_bar(context) == ()
    return context


def test_a_daily_loss_limit_is_quiet_from_its_floor_until_the_day_ends() -> None:
    breaker = DailyLossLimit(0.05)
    drive(breaker, [1_000.0, 990.0])
    band = breaker.quiet_band()
    # the day started at 1,000 (the first bar's equity); 5 % of it may be lost
    assert band == QuietBand(950.0, math.inf, T0 + DAY)
    assert breaker.quiet is band


def test_a_daily_loss_limit_has_no_band_on_a_new_day_or_while_halted() -> None:
    breaker = DailyLossLimit(0.05)
    drive(breaker, [1_000.0])
    assert breaker.quiet_band() is None  # the bar after a day's first goes the general way
    drive(breaker, [1_000.0, 990.0])
    assert breaker.quiet_band() is not None
    context = EquityContext()
    context.value, context.now = 900.0, T0 + 4 * HOUR
    breaker.on_bar(context)
    assert breaker.halted and breaker.quiet is None and breaker.quiet_band() is None


def test_anything_that_changes_a_band_withdraws_it() -> None:
    breaker = DailyLossLimit(0.05)
    drive(breaker, [1_000.0, 990.0])
    breaker.quiet_band()
    breaker.max_loss = 0.02
    assert breaker.quiet is None
    breaker.quiet_band()
    breaker.relative = True
    assert breaker.quiet is None
    breaker.quiet_band()
    breaker.reset()
    assert breaker.quiet is None
    drawdown = MaxDrawdownBreaker(0.1)
    drive(drawdown, [1_000.0, 950.0])
    assert drawdown.quiet_band() == QuietBand(900.0, 1_000.0, NEVER)
    drawdown.max_drawdown = 0.2
    assert drawdown.quiet is None
    assert drawdown.quiet_band() == QuietBand(800.0, 1_000.0, NEVER)
    context = EquityContext()
    context.value, context.now = 1_100.0, T0 + 9 * HOUR
    drawdown.on_bar(context)  # a new peak
    assert drawdown.quiet is None
    assert drawdown.quiet_band() == QuietBand(880.0, 1_100.0, NEVER)


class LoudDaily(DailyLossLimit):
    """Changes on_bar: its bars cannot be skipped on the base class's word."""

    def on_bar(self, context: RiskContext) -> Sequence[OrderRequest]:
        return super().on_bar(context)


def test_classes_that_change_the_per_bar_test_get_no_band() -> None:
    assert DailyLossLimit.gates_its_bars() and MaxDrawdownBreaker.gates_its_bars()
    assert not LoudDaily.gates_its_bars() and not ConsecutiveLosses.gates_its_bars()
    breaker = LoudDaily(0.05)
    drive(breaker, [1_000.0, 990.0])
    assert breaker.quiet_band() is None
