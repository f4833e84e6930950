"""SmaCross: its signal, its trades on a known series, and no decision depends on later bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from quantkit.strategy.library.sma_cross import SmaCross, crossover_signal
from tests.strategies import WalkBars, bar_series, sma_periods

from .helpers import SYMBOL, make_market, make_series, run_engine, series_from_closes

DECISION_COLUMNS = [
    "client_id", "symbol", "side", "type", "cost", "limit_price", "stop_price", "time_in_force",
    "reduce_only", "tag", "created_at",
]  # fmt: skip


def rolling_mean(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[period - 1 :] = sliding_window_view(values, period).mean(axis=1)
    return out


@pytest.mark.parametrize(
    ("fast", "slow", "expected"),
    [
        ([1.0, 3.0, 1.0], [2.0, 2.0, 2.0], [0.0, 1.0, -1.0]),
        ([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [0.0, 0.0, 1.0]),  # touching is not crossing yet
        ([3.0, 2.0, 1.0], [2.0, 2.0, 2.0], [0.0, 0.0, -1.0]),
        ([3.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]),
        ([np.nan, 1.0, 3.0], [2.0, 2.0, 2.0], [0.0, 0.0, 1.0]),
        ([1.0, 3.0, 1.0], [np.nan, 2.0, 2.0], [0.0, 0.0, -1.0]),
    ],
)
def test_crossover_signal(fast: list[float], slow: list[float], expected: list[float]) -> None:
    assert crossover_signal(np.array(fast), np.array(slow)).tolist() == expected


def expected_decisions(close: np.ndarray, fast: int, slow: int) -> list[tuple[int, str]]:
    """WalkBars at which SmaCross must buy or sell, from numpy averages and its rules."""
    f, s = rolling_mean(close, fast), rolling_mean(close, slow)
    decisions: list[tuple[int, str]] = []
    holding = False
    for i in range(1, len(close)):
        up = f[i - 1] <= s[i - 1] and f[i] > s[i]
        down = f[i - 1] >= s[i - 1] and f[i] < s[i]
        if up and not holding:
            decisions.append((i, "buy"))
            holding = True
        elif down and holding:
            decisions.append((i, "sell"))
            holding = False
    return decisions


def test_sma_cross_trades_a_sine_wave_where_the_averages_cross() -> None:
    bars = np.arange(120)
    close = 100.0 + 10.0 * np.sin(2 * np.pi * bars / 40) + 0.01 * bars
    series = series_from_closes(close)
    fee = 0.001
    result = run_engine(
        SmaCross(fast=3, slow=8),
        series,
        markets={SYMBOL: make_market(fee=fee)},
    )
    decisions = expected_decisions(close, 3, 8)
    assert len(decisions) >= 4
    orders = result.orders
    assert orders["side"].tolist() == [side for _, side in decisions]
    assert orders["created_at"].tolist() == [
        pd.Timestamp(int(series.close_time[i]), unit="ns", tz="UTC") for i, _ in decisions
    ]
    assert orders["reduce_only"].tolist() == [side == "sell" for _, side in decisions]
    assert (orders["status"] == "filled").all()

    # Cash accounting by hand: an entry spends all cash (fee included) at the next open,
    # an exit sells everything at the next open and pays the fee from the proceeds.
    opens = series.open
    cash = 10_000.0
    for (bar, side), (_, row) in zip(decisions, orders.iterrows(), strict=True):
        price = opens[bar + 1]
        assert row["average_price"] == pytest.approx(price)
        if side == "buy":
            assert row["cost"] == pytest.approx(cash, rel=1e-12)
            held = cash / (price * (1 + fee))
            assert row["filled"] == pytest.approx(held, rel=1e-9)
            cash = 0.0
        else:
            assert row["amount"] == pytest.approx(held, rel=1e-9)
            cash = held * price * (1 - fee)
    final = result.equity.iloc[-1]
    expected_final = cash if decisions[-1][1] == "sell" else held * close[-1]
    assert final == pytest.approx(expected_final, rel=1e-9)


def test_sma_cross_declares_its_indicators() -> None:
    close = 100.0 + np.cumsum(np.random.default_rng(3).normal(0, 1, 80))
    result = run_engine(SmaCross(fast=4, slow=9), series_from_closes(close))
    indicators = result.indicators
    np.testing.assert_allclose(
        indicators["SMA(timeperiod=4)"].to_numpy(), rolling_mean(close, 4), equal_nan=True
    )
    np.testing.assert_allclose(
        indicators["SMA(timeperiod=9)"].to_numpy(), rolling_mean(close, 9), equal_nan=True
    )
    f, s = rolling_mean(close, 4), rolling_mean(close, 9)
    assert indicators["cross"].to_numpy().tolist() == crossover_signal(f, s).tolist()


def orders_until(result: object, time: pd.Timestamp) -> pd.DataFrame:
    orders = result.orders  # type: ignore[attr-defined]
    return orders[orders["created_at"] <= time].reset_index(drop=True)


@settings(max_examples=30, deadline=None)
@given(
    periods=sma_periods(max_slow=30),
    bars=bar_series(),
    other=bar_series(min_size=200, max_size=200),
    cut=st.floats(0.5, 1.0),
)
def test_decisions_up_to_a_bar_never_depend_on_later_bars(
    periods: tuple[int, int], bars: WalkBars, other: WalkBars, cut: float
) -> None:
    fast, slow = periods
    t = min(int(cut * (len(bars) - 1)), len(bars) - 2)  # at least one bar after t changes
    changed = bars.splice(t + 1, other.scaled(1.5))  # never equal to the original tail
    assert len(changed) == len(bars)
    assert not np.array_equal(changed.close[t + 1 :], bars.close[t + 1 :])
    np.testing.assert_array_equal(changed.close[: t + 1], bars.close[: t + 1])

    original = make_series(bars.rows())
    altered = make_series(changed.rows())
    first = run_engine(SmaCross(fast=fast, slow=slow), original)
    second = run_engine(SmaCross(fast=fast, slow=slow), altered)

    time_t = pd.Timestamp(int(original.close_time[t]), unit="ns", tz="UTC")
    mine, theirs = orders_until(first, time_t), orders_until(second, time_t)
    assert len(mine) == len(theirs)
    event("orders up to bar t: " + ("none" if mine.empty else "some"))
    if len(mine):
        # Orders of bar t are filled (and sized) on bar t+1, which differs: compare requests.
        pd.testing.assert_frame_equal(mine[DECISION_COLUMNS], theirs[DECISION_COLUMNS])
        # Orders before bar t were filled on bars up to t: everything about them is the same.
        earlier = mine["created_at"] < time_t
        pd.testing.assert_frame_equal(mine[earlier], theirs[earlier])
    np.testing.assert_array_equal(
        first.equity.to_numpy()[: t + 1], second.equity.to_numpy()[: t + 1]
    )
