"""The table's drawdown and growth rows, computed together, equal the functions called apart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantkit.metrics import drawdowns as dd
from quantkit.metrics.returns import cagr, total_return
from quantkit.metrics.stats import compute_stats


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _curves() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    walk = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, 5_000))
    ruined = walk.copy()
    ruined[4_000:] = -5.0  # turns negative: drawdown below -1
    noise = np.array([100.0, 100.0 * (1 - 1e-13), 101.0, 99.0])  # a dip below the noise level
    return [
        walk,
        ruined,
        noise,
        np.array([100.0]),
        np.full(20, 50.0),
        np.arange(1.0, 30.0),  # never below a peak
        np.array([100.0, 80.0, 90.0, 95.0]),  # open spell at the end
    ]


@pytest.mark.parametrize("values", _curves())
def test_together_equals_apart(values: np.ndarray) -> None:
    times = pd.date_range("2024-01-01", periods=values.size, freq="1h", tz="UTC")
    equity = pd.Series(values, index=times)
    figures = dd._figures(values, times)
    assert _same(figures.max_drawdown, dd.max_drawdown(equity))
    assert _same(figures.calmar, dd.calmar_ratio(equity))
    assert figures.deepest == dd.max_drawdown_period(equity)
    assert figures.longest == dd.max_drawdown_duration(equity)
    assert _same(figures.ulcer, dd.ulcer_index(equity))
    stats = compute_stats(equity, pd.DataFrame({"pnl": []}), periods_per_year=8760.0)
    assert _same(stats["Max drawdown [%]"], 100.0 * dd.max_drawdown(equity))
    assert _same(stats["Calmar ratio"], dd.calmar_ratio(equity))
    assert stats["Total return [%]"] == 100.0 * total_return(equity)
    assert _same(stats["CAGR [%]"], 100.0 * cagr(equity))


def test_hand_computed_figures() -> None:
    values = np.array([100.0, 80.0, 90.0, 100.0, 120.0, 60.0])
    times = pd.date_range("2024-01-01", periods=values.size, freq="1D", tz="UTC")
    figures = dd._figures(values, times)
    assert figures.max_drawdown == pytest.approx(-0.5)  # 60 / 120 - 1
    assert figures.deepest is not None
    assert figures.deepest.peak == times[4] and figures.deepest.recovery is None
    assert figures.longest == pd.Timedelta(days=3)  # 100 on day 0, back on day 3
    # drawdowns 0, -20, -10, 0, 0, -50 %: sqrt((400 + 100 + 2500) / 6)
    assert figures.ulcer == pytest.approx(math.sqrt(3000.0 / 6.0))
