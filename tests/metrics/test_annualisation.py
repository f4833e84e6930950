"""Annualisation on gappy data: calendar time for growth rates, the timeframe for ratios.

The case of issue 12: a buy-and-hold over two years of daily bars with a 12-month hole in the
data. Counting bars sees one year (365 daily returns) and reports the two-year gain as one
year's, CAGR 6.74 %; the elapsed calendar time is two years, CAGR 3.32 %.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.domain.bars import BarSeries
from quantkit.metrics.drawdowns import calmar_ratio
from quantkit.metrics.returns import cagr
from quantkit.metrics.stats import compute_stats, metrics_table
from tests.strategy.helpers import Scripted, run_engine

DAY = 86_400 * 10**9
T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
# Bar k closes on day DAYS[k]: days 0..182, a hole, then days 548..730 (366 bars, 365 returns;
# the hole from day 182 to day 548 is 366 days, twelve months).
DAYS = np.concatenate([np.arange(0, 183), np.arange(548, 731)])


def gappy_equity(final: float = 10_674.0) -> pd.Series:
    """Equity from 10,000 to ``final`` over the gappy daily grid, growing geometrically."""
    growth = (final / 10_000.0) ** (np.arange(DAYS.size) / (DAYS.size - 1))
    index = pd.DatetimeIndex(pd.to_datetime(T0 + DAYS * DAY, unit="ns", utc=True))
    return pd.Series(10_000.0 * growth, index=index)


def test_issue_case_cagr_uses_calendar_time() -> None:
    equity = gappy_equity()
    # by hand: 10,674 / 10,000 = 1.0674 over 730 days = 2 years -> 1.0674 ** (1/2) - 1
    expected = 100 * (math.sqrt(1.0674) - 1)
    assert round(expected, 2) == 3.32
    stats = compute_stats(equity, pd.DataFrame({"pnl": []}), periods_per_year=365.0)
    assert stats["CAGR [%]"] == pytest.approx(expected, rel=1e-12)
    assert round(stats["CAGR [%]"], 2) == 3.32
    # counting bars instead: 365 periods at 365 a year is one year -> the total return, 6.74 %
    assert round(100 * cagr(equity, periods_per_year=365.0), 2) == 6.74
    assert metrics_table(equity)["CAGR [%]"] == pytest.approx(expected, rel=1e-12)
    # Sharpe annualises by the bar (daily: 365 a year), the hole counting as one period; the
    # table infers the bar from the median spacing, which one hole does not move
    r = np.diff(equity.to_numpy()) / equity.to_numpy()[:-1]
    r[182] -= 1e-4  # the returns must vary for a Sharpe ratio
    wiggled = pd.Series(equity.iloc[0] * np.cumprod([1.0, *(1.0 + r)]), index=equity.index)
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(365.0)
    assert metrics_table(wiggled)["Sharpe ratio"] == pytest.approx(sharpe, rel=1e-9)
    table = compute_stats(wiggled, pd.DataFrame({"pnl": []}), periods_per_year=365.0)
    assert table["Sharpe ratio"] == pytest.approx(sharpe, rel=1e-9)


def test_issue_case_through_the_engine() -> None:
    # daily bars on the gappy grid; closes 100, 100, then up to 774 with ups and downs.
    # Buying 1 unit at bar 0 fills at bar 1's open (100, the previous close) with no fee, so
    # the final equity is 10,000 - 100 + 774 = 10,674, 730 days after the first close.
    trend = np.linspace(100.0, 774.0, DAYS.size - 1)[1:]
    wiggle = 20.0 * np.sin(np.arange(trend.size))
    wiggle[-1] = 0.0
    closes = np.concatenate([[100.0, 100.0], trend + wiggle])
    opens = np.concatenate([closes[:1], closes[:-1]])
    close_time = T0 + DAYS.astype(np.int64) * DAY
    series = BarSeries(
        "BTC/USDT",
        DAY,
        close_time - DAY,
        close_time,
        opens,
        np.maximum(opens, closes) * 1.001,
        np.minimum(opens, closes) * 0.999,
        closes,
        np.full(DAYS.size, 1_000.0),
    )
    result = run_engine(Scripted({0: lambda s: s.buy(amount=1.0)}), series)
    assert result.equity.iloc[-1] == pytest.approx(10_674.0, rel=1e-12)
    assert result.stats["Duration"] == pd.Timedelta(days=730)
    assert result.stats["CAGR [%]"] == pytest.approx(100 * (math.sqrt(1.0674) - 1), rel=1e-9)
    assert round(result.stats["CAGR [%]"], 2) == 3.32
    # Sharpe and volatility annualise by the timeframe: 365 daily periods a year, the return
    # across the hole counted as one period (not 365 / (bars per elapsed year) = 182.5)
    r = np.diff(result.equity.to_numpy()) / result.equity.to_numpy()[:-1]
    assert result.stats["Sharpe ratio"] == pytest.approx(
        r.mean() / r.std(ddof=1) * math.sqrt(365.0), rel=1e-9
    )
    assert result.stats["Volatility (ann.) [%]"] == pytest.approx(
        100 * r.std(ddof=1) * math.sqrt(365.0), rel=1e-9
    )
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    assert result.stats["Sortino ratio"] == pytest.approx(
        r.mean() / downside * math.sqrt(365.0), rel=1e-9
    )


def test_calmar_uses_calendar_time() -> None:
    # 100 -> 80 -> 121 over bars on days 0, 1 and 730: CAGR = 1.21 ** (1/2) - 1 = 10 %;
    # max drawdown 80/100 - 1 = -20 % -> Calmar 0.5, whatever periods_per_year says
    days = np.array([0, 1, 730])
    index = pd.DatetimeIndex(pd.to_datetime(T0 + days * DAY, unit="ns", utc=True))
    equity = pd.Series([100.0, 80.0, 121.0], index=index)
    assert calmar_ratio(equity) == pytest.approx(0.5)
    stats = compute_stats(equity, pd.DataFrame({"pnl": []}), periods_per_year=365.0)
    assert stats["CAGR [%]"] == pytest.approx(10.0)
    assert stats["Calmar ratio"] == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(
    gap_days=st.integers(min_value=0, max_value=2_000),
    ppy=st.sampled_from([365.0, 8_760.0, 52.0]),
    final=st.floats(min_value=0.2, max_value=5.0),
)
def test_a_gap_changes_cagr_only_through_elapsed_time(
    gap_days: int, ppy: float, final: float
) -> None:
    # ten bars, a hole of gap_days between bars 4 and 5: CAGR must equal the growth over the
    # elapsed calendar time, whatever periods_per_year says
    days = np.concatenate([np.arange(5), np.arange(5, 10) + gap_days]).astype(np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(T0 + days * DAY, unit="ns", utc=True))
    equity = pd.Series(np.linspace(100.0, 100.0 * final, 10), index=index)
    years = (9 + gap_days) / 365.0
    stats = compute_stats(equity, pd.DataFrame({"pnl": []}), periods_per_year=ppy)
    assert stats["CAGR [%]"] == pytest.approx(100 * (final ** (1 / years) - 1), rel=1e-9)
