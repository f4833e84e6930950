"""The trailing stop value: start, follow, hit, journal form (one rule for every mode)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.market import Market
from quantkit.domain.order import Side
from quantkit.domain.trailing import TrailingStop
from quantkit.errors import OrderError

TICK = Market("BTC/USDT", "BTC", "USDT", price_increment=0.5)


def test_a_long_stop_starts_below_the_fill_bars_high_on_the_tick() -> None:
    stop = TrailingStop.start(Side.SELL, 0.03, high=101.3, low=95.0, market=TICK)
    # 101.3 x 0.97 = 98.261 -> the nearest 0.5 tick is 98.5
    assert stop == TrailingStop(Side.SELL, 0.03, 101.3, 98.5)
    assert not stop.hit(low=98.6, high=120.0) and stop.hit(low=98.5, high=99.0)


def test_a_short_stop_starts_above_the_fill_bars_low_and_follows_lower_lows() -> None:
    stop = TrailingStop.start(Side.BUY, 0.1, high=120.0, low=90.0, market=TICK)
    assert stop.level == 99.0  # 90 x 1.1
    assert stop.follow(high=200.0, low=95.0, market=TICK) is stop  # a higher low: unchanged
    lower = stop.follow(high=200.0, low=80.0, market=TICK)
    assert (lower.extreme, lower.level) == (80.0, 88.0)
    assert lower.hit(low=10.0, high=88.0) and not lower.hit(low=10.0, high=87.5)


def test_the_journal_form_round_trips_and_refuses_non_numbers() -> None:
    stop = TrailingStop(Side.SELL, 0.05, 44_000.0, 41_800.0)
    assert TrailingStop.from_json(stop.as_json()) == stop
    with pytest.raises(OrderError, match="expected a number, got '41800'"):
        TrailingStop.from_json(stop.as_json() | {"level": "41800"})


@settings(max_examples=60)
@given(
    side=st.sampled_from([Side.SELL, Side.BUY]),
    pct=st.floats(0.001, 0.5),
    ranges=st.lists(
        st.tuples(st.floats(1.0, 1_000.0), st.floats(0.0, 100.0)), min_size=1, max_size=30
    ),
)
def test_property_the_level_never_loosens_and_tracks_the_extreme(
    side: Side, pct: float, ranges: list[tuple[float, float]]
) -> None:
    bars = [(low + width, low) for low, width in ranges]  # (high, low)
    stop = TrailingStop.start(side, pct, high=bars[0][0], low=bars[0][1], market=TICK)
    for high, low in bars[1:]:
        moved = stop.follow(high=high, low=low, market=TICK)
        if side is Side.SELL:
            assert moved.level >= stop.level and moved.extreme == max(stop.extreme, high)
        else:
            assert moved.level <= stop.level and moved.extreme == min(stop.extreme, low)
        stop = moved
    far = max(h for h, _ in bars) if side is Side.SELL else min(lo for _, lo in bars)
    sign = 1.0 if side is Side.SELL else -1.0
    assert stop.level == TICK.round_price(far * (1.0 - sign * pct))  # only the extreme counts
