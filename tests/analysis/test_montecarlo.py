"""monte_carlo: bootstraps of a real (tiny) backtest's trades and returns."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from quantkit.analysis.montecarlo import PERCENTILES, MonteCarloReport, monte_carlo
from quantkit.engine.result import Result
from quantkit.errors import ConfigError, DataError
from tests.risk.helpers import Scripted, make_series, run_engine


def closes_to_rows(closes: list[float]) -> list[tuple[float, float, float, float, float]]:
    """Bars that open at the previous close (orders fill at the next bar's open)."""
    opens = [closes[0], *closes[:-1]]
    return [(o, max(o, c), min(o, c), c, 1.0) for o, c in zip(opens, closes, strict=True)]


CLOSES = [100.0, 101.0, 104.0, 103.0, 99.0, 100.0, 106.0, 105.0, 101.0, 103.0, 108.0, 110.0]


@pytest.fixture(scope="module")
def result() -> Result:
    """Four round trips of 10 BTC, fee-free: buy at bar k, close at bar k + 2."""

    def buy(s: Scripted) -> None:
        s.buy(amount=10.0)

    def close(s: Scripted) -> None:
        s.close()

    script = {0: buy, 2: close, 3: buy, 5: close, 6: buy, 8: close, 9: buy}
    return run_engine(Scripted(script), make_series(closes_to_rows(CLOSES)), None)


def test_the_fixture_has_the_trades_worked_out_by_hand(result: Result) -> None:
    # fills at the next open = the previous close: 100 -> 104, 103 -> 100, 106 -> 101
    assert result.trades["pnl"].tolist() == [40.0, -30.0, -50.0]


def test_trade_bootstrap_mean_final_equity(result: Result) -> None:
    report = monte_carlo(result, simulations=20_000, seed=1)
    pnl = result.trades["pnl"].to_numpy()
    expected = 10_000.0 + pnl.size * pnl.mean()  # 10,000 + 3 * (-40 / 3) = 9,960
    # standard error of the mean: sqrt(3) * std(pnl) / sqrt(20,000) = 0.48
    assert report.final_equity.mean() == pytest.approx(expected, abs=2.0)
    assert report.actual["Final equity"] == pytest.approx(9_960.0)
    # actual trade-by-trade curve 10,000, 10,040, 10,010, 9,960: worst dip 9,960 / 10,040 - 1
    assert report.actual["Max drawdown [%]"] == pytest.approx((9_960 / 10_040 - 1) * 100)
    # every simulation is 10,000 plus three of the trades, drawn with replacement
    sums = {10_000 + a + b + c for a in pnl for b in pnl for c in pnl}
    assert set(np.unique(report.final_equity).tolist()) == sums


def test_a_seed_makes_the_report_reproducible(result: Result) -> None:
    first = monte_carlo(result, method="returns", simulations=300, seed=5, block=2)
    again = monte_carlo(result, method="returns", simulations=300, seed=5, block=2)
    other = monte_carlo(result, method="returns", simulations=300, seed=6, block=2)
    np.testing.assert_array_equal(first.final_equity, again.final_equity)
    np.testing.assert_array_equal(first.sharpe, again.sharpe)
    assert not np.array_equal(first.final_equity, other.final_equity)
    assert first.block == 2 and first.simulations == 300


@pytest.mark.parametrize("method", ["trades", "returns"])
def test_percentiles_are_ordered(result: Result, method: str) -> None:
    table = monte_carlo(result, method=method, simulations=500, seed=2).percentiles  # type: ignore[arg-type]
    assert list(table.index) == list(PERCENTILES)
    assert list(table.columns) == ["Final equity", "Max drawdown [%]", "Sharpe ratio"]
    for column in table.columns:
        assert table[column].is_monotonic_increasing
    assert (table["Max drawdown [%]"] <= 0).all()


def test_one_block_as_long_as_the_run_replays_it_with_the_stats_definitions(
    result: Result,
) -> None:
    bars = len(result.equity) - 1
    report = monte_carlo(result, method="returns", simulations=3, seed=0, block=bars)
    stats = result.stats
    np.testing.assert_allclose(report.final_equity, stats["Final equity"], rtol=1e-12)
    np.testing.assert_allclose(report.max_drawdown, stats["Max drawdown [%]"], rtol=1e-9)
    np.testing.assert_allclose(report.sharpe, stats["Sharpe ratio"], rtol=1e-9)
    assert report.actual == {
        "Final equity": stats["Final equity"],
        "Max drawdown [%]": stats["Max drawdown [%]"],
        "Sharpe ratio": stats["Sharpe ratio"],
    }


def test_moving_blocks_keep_consecutive_returns(result: Result) -> None:
    equity = result.equity.to_numpy()
    growth = equity[1:] / equity[:-1]  # 11 returns
    report = monte_carlo(result, method="returns", simulations=400, seed=4, block=10)
    # Blocks of 10 consecutive returns start at bar 0 or 1; two blocks cover the 11 returns:
    # a whole block, then the first return of a second. Four outcomes only.
    outcomes = {
        equity[0] * np.prod(growth[first : first + 10]) * growth[second]
        for first in (0, 1)
        for second in (0, 1)
    }
    got = np.unique(np.round(report.final_equity, 6))  # products in another order: rounding
    assert len(got) == 4
    assert sorted(got.tolist()) == pytest.approx(sorted(outcomes), rel=1e-9)


def test_the_figure_has_three_histograms_and_the_actual_values_marked(result: Result) -> None:
    report = monte_carlo(result, simulations=200, seed=3)
    figure = report.plot()
    histograms = [trace for trace in figure.data if trace.type == "histogram"]
    assert [h.name for h in histograms] == ["Final equity", "Max drawdown [%]", "Sharpe ratio"]
    assert len(histograms[0].x) == 200
    lines = [shape.x0 for shape in figure.layout.shapes]
    assert lines == pytest.approx([report.actual[k] for k in report.actual])


def test_text_and_html_views(result: Result) -> None:
    report = monte_carlo(result, simulations=50, seed=3)
    assert repr(report).startswith("MonteCarloReport: 50 simulations of trades\n")
    page = report._repr_html_()
    assert "<table" in page and "Actual: Final equity 9,960" in page


def test_ruined_runs_have_no_sharpe_and_a_nan_column_has_nan_percentiles() -> None:
    def buy(s: Scripted) -> None:
        s.buy(amount=90.0)

    def close(s: Scripted) -> None:
        s.close()

    closes = [100.0, 100.0, 100.0, 10.0, 10.0, 10.0]  # a 90 % crash while holding 90 BTC
    result = run_engine(Scripted({0: buy, 3: close}), make_series(closes_to_rows(closes)), None)
    assert result.trades["pnl"].tolist() == [-8_100.0]
    report = monte_carlo(result, simulations=10, seed=0)
    assert np.isnan(report.sharpe).all()  # one trade: a single return, no deviation
    assert report.percentiles["Sharpe ratio"].isna().all()
    assert isinstance(report, MonteCarloReport)
    doubled = _with_trades(result, [-8_100.0, -8_100.0])
    ruined = monte_carlo(doubled, simulations=5, seed=0)
    assert (ruined.final_equity < 0).all() and np.isnan(ruined.sharpe).all()
    figure = ruined.plot()
    assert len(figure.layout.shapes) == 2  # the actual Sharpe is NaN: not marked


def _with_trades(result: Result, pnl: list[float]) -> Result:
    trades = pd.DataFrame({"pnl": pnl})
    return replace(result, trades=trades)


def test_bad_arguments_and_empty_runs(result: Result) -> None:
    with pytest.raises(ConfigError, match="simulations must be an integer >= 1"):
        monte_carlo(result, simulations=0)
    with pytest.raises(ConfigError, match="method must be 'trades' or 'returns'"):
        monte_carlo(result, method="bars")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="block applies to method='returns' only"):
        monte_carlo(result, block=3)
    with pytest.raises(ConfigError, match="block must be an integer >= 1"):
        monte_carlo(result, method="returns", block=0)
    with pytest.raises(ConfigError, match="block 50 is longer than the 11 returns"):
        monte_carlo(result, method="returns", block=50)
    with pytest.raises(DataError, match="closed no trade"):
        monte_carlo(_with_trades(result, []))
    single = run_engine(Scripted({}), make_series(closes_to_rows([100.0])), None)
    with pytest.raises(DataError, match="a single bar has no return"):
        monte_carlo(single, method="returns")
    assert math.isnan(monte_carlo(_one_instant(single), simulations=5).sharpe[0])


def _one_instant(result: Result) -> Result:
    """A one-bar run with two trades: no time passes, so there is no trades-per-year rate."""
    return _with_trades(result, [10.0, -5.0])
