"""The report's readability rules: no empty heatmap year, fills aggregated beyond the limit,
the equity before fees. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.analysis import plots
from quantkit.analysis.report_charts import monthly_returns
from quantkit.engine.result import Result
from tests.analysis.test_report import result  # noqa: F401  (the module's fixture)


def curve(stamps: list[str], values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.to_datetime(stamps, utc=True))


def test_a_bar_closing_at_new_year_midnight_belongs_to_december() -> None:
    # daily bars of 30 and 31 December close at 31 Dec 00:00 and 1 Jan 00:00: both December,
    # December's return 110/100 - 1 = 10 %, and no row for the next year
    table = monthly_returns(curve(["2022-12-31", "2023-01-01"], [100.0, 110.0]))
    assert list(table.index) == [2022]
    assert table.loc[2022, 12] == pytest.approx(0.10)


def test_a_first_month_holding_only_the_start_is_left_out() -> None:
    # the first bar (31 Dec 2021) closes at 1 Jan 00:00: only the starting value is in December
    # 2021; January 2022 is 105/100 - 1 = 5 % from it
    table = monthly_returns(
        curve(["2022-01-01", "2022-01-02", "2022-01-31"], [100.0, 104.0, 105.0])
    )
    assert list(table.index) == [2022]
    assert table.loc[2022, 1] == pytest.approx(0.05)
    assert table.loc[2022, 2:].isna().all()


def test_months_across_a_year_by_hand() -> None:
    # closes 15 Nov (100), 30 Nov (120), 1 Dec 00:00 (132: the bar of 30 Nov), 31 Dec (99):
    # November 132/100 - 1 = 32 %, December 99/132 - 1 = -25 %
    table = monthly_returns(
        curve(["2021-11-15", "2021-11-30", "2021-12-01", "2021-12-31"], [100.0, 120.0, 132.0, 99.0])
    )
    assert list(table.index) == [2021]
    assert table.loc[2021, 11] == pytest.approx(0.32)
    assert table.loc[2021, 12] == pytest.approx(-0.25)


def test_aggregate_fills_by_hand() -> None:
    # ten fills at t = 0..9 ns, limit 2: edges 0, 4.5, 9 -> t 0..4 and t 5..9
    times = np.arange(10, dtype=np.int64)
    prices = np.array([10.0, 20.0, 10.0, 20.0, 10.0, 1.0, 1.0, 1.0, 1.0, 3.0])
    amounts = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0])
    at, price, amount, count = plots.aggregate_fills(times, prices, amounts, limit=2)
    assert at.tolist() == [0, 5]
    # VWAP: (10 + 20 + 10 + 20 + 10) / 5 = 14; (1 + 1 + 1 + 1 + 3 * 2) / 6 = 10/6
    assert price.tolist() == pytest.approx([14.0, 10 / 6])
    assert amount.tolist() == [5.0, 6.0] and count.tolist() == [5, 5]
    # at or below the limit, one marker per fill, unchanged
    same = plots.aggregate_fills(times, prices, amounts, limit=10)
    assert same[0].tolist() == times.tolist() and same[3].tolist() == [1] * 10


def test_aggregation_keeps_every_fill_and_the_notional() -> None:
    rng = np.random.default_rng(7)
    times = np.sort(rng.integers(0, 10**12, 5_000))
    prices, amounts = rng.uniform(50, 150, 5_000), rng.uniform(0.1, 2.0, 5_000)
    at, price, amount, count = plots.aggregate_fills(times, prices, amounts, limit=300)
    assert len(at) <= 300 and count.sum() == 5_000
    assert amount.sum() == pytest.approx(amounts.sum())
    assert (price * amount).sum() == pytest.approx((prices * amounts).sum())
    assert np.all(np.diff(at) > 0)


def test_equity_before_fees_adds_the_fees_charged_so_far(result: Result) -> None:  # noqa: F811
    gross = plots.gross_equity_series(result)
    fills = result.fills
    # by the definition: a fill's fee counts from the first bar close after its time
    closes = result.equity.index
    expected = [
        float(result.equity.iloc[k]) + float(fills.loc[fills["time"] < closes[k], "fee"].sum())
        for k in range(0, len(closes), 37)
    ]
    np.testing.assert_allclose(gross.to_numpy()[::37], expected, rtol=1e-12)
    assert gross.iloc[-1] - result.equity.iloc[-1] == pytest.approx(fills["fee"].sum())
    assert not math.isnan(gross.iloc[0])


@settings(max_examples=40, deadline=None)
@given(
    start_hour=st.integers(0, 24 * 400),
    steps=st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=60),
    spacing_hours=st.sampled_from([1, 6, 24, 24 * 7]),
)
def test_monthly_returns_compound_to_the_total_return(
    start_hour: int, steps: list[float], spacing_hours: int
) -> None:
    # whatever the start and the spacing, the months' returns compound to e_last / e_first and
    # every row is a year in which some bar (by its last instant) earned a return
    values = 100.0 * np.cumprod([1.0, *(1.0 + np.asarray(steps))])
    start = pd.Timestamp("2021-12-01", tz="UTC") + pd.Timedelta(hours=start_hour)
    index = start + pd.to_timedelta(np.arange(values.size) * spacing_hours, unit="h")
    table = monthly_returns(pd.Series(values, index=index))
    months = table.to_numpy().ravel()
    months = months[~np.isnan(months)]
    assert np.prod(1.0 + months) == pytest.approx(values[-1] / values[0], rel=1e-9)
    earning_years = {(stamp - pd.Timedelta(1, unit="ns")).year for stamp in index[1:]}
    assert set(table.index) == earning_years
