"""Both reductions of a run's statistics (compiled, numpy) equal `compute_stats`, row by row."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantkit.domain.bars import BarSeries
from quantkit.errors import ConfigError, DataError
from quantkit.metrics.stats import compute_stats
from quantkit.vector.run import _trades_frame
from quantkit.vector.stats_kernel import (
    STAT_NAMES,
    reduce_run,
    reduce_stats,
    stats_series,
    stats_vector,
)
from quantkit.vector.stats_numpy import numpy_stats_vector
from quantkit.vector.stats_table import run_arrays

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
START = 1_700_000_000 * 10**9


def _series(close: np.ndarray, close_time: np.ndarray, timeframe: int) -> BarSeries:
    open_time = close_time - timeframe
    return BarSeries(
        "BTC/USDT", timeframe, open_time, close_time, close, close, close, close, close
    )


def _trade(entry: int, exit_: int, pnl: float, *, direction: float = 1.0) -> list[float]:
    """A trade of one unit bought at 100 whose pnl (fees 0) is ``pnl``."""
    return [entry, exit_, direction, 1.0, 100.0, 1.0, 100.0 + direction * pnl, 1.0, 0.0, 0.0]


def _reference(
    equity: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    exposed: np.ndarray,
    series: BarSeries,
    fees: float,
    ppy: float,
) -> pd.Series:
    """`compute_stats` called as the fast path called it before the compiled statistics."""
    index = pd.DatetimeIndex(series.close_time.view("datetime64[ns]")).tz_localize("UTC")
    curve = pd.Series(equity, index=index)
    close = series.close
    benchmark = None
    if close[0] > 0:
        benchmark = pd.Series(close / close[0] * equity[0], index=index)
    return compute_stats(
        curve,
        _trades_frame(trades, series),
        benchmark=benchmark,
        periods_per_year=ppy,
        exposure=float(exposed.mean()) if len(exposed) else 0.0,
        fees=fees,
        ambiguous_fills=int(np.count_nonzero(fills[:, 7])),
        ambiguous_trades=int(np.count_nonzero(trades[:, 9])),
    )


def _compiled(
    equity: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    exposed: np.ndarray,
    series: BarSeries,
    fees: float,
    ppy: float,
    reduce: Any = stats_vector,
) -> pd.Series:
    vector = reduce(
        equity,
        exposed,
        trades,
        fills,
        series.open_time,
        series.close_time,
        close=series.close,
        periods_per_year=ppy,
        fees=fees,
    )
    assert vector.shape == (len(STAT_NAMES),)
    return stats_series(vector, series.close_time)


def _same(label: str, got: Any, want: Any) -> bool:
    if isinstance(want, float) and not isinstance(want, bool):
        if not isinstance(got, float):
            return False
        if math.isnan(want) or math.isinf(want):
            return (math.isnan(got) and math.isnan(want)) or got == want
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    if label == "Average holding time" and want is not pd.NaT:  # a float mean, rounded to ns
        return bool(abs(got - want) <= pd.Timedelta(1, unit="ns"))
    if want is pd.NaT:
        return got is pd.NaT
    return bool(type(got) is type(want) and got == want)


def _assert_same(got: pd.Series, want: pd.Series) -> None:
    assert list(got.index) == list(want.index)
    assert got.name == want.name == "stats"
    wrong = {k: (got[k], want[k]) for k in want.index if not _same(k, got[k], want[k])}
    assert not wrong


def plain_stats_vector(
    equity: np.ndarray,
    exposed: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    open_time: np.ndarray,
    close_time: np.ndarray,
    *,
    close: np.ndarray | None,
    periods_per_year: float,
    fees: float,
    risk_free: float = 0.0,
) -> np.ndarray:
    """`stats_vector` with `reduce_stats` run uncompiled: the compiled code equals its source."""
    run = run_arrays(
        equity, exposed, trades, fills, open_time, close_time, close=close,
        periods_per_year=periods_per_year, fees=fees, risk_free=risk_free,
    )  # fmt: skip
    # compiled, a float power overflows to inf silently; numpy scalars also warn about it
    with np.errstate(over="ignore"):
        return reduce_run(run, reduce_stats.py_func)


REDUCTIONS = pytest.mark.parametrize(
    "reduce", [stats_vector, numpy_stats_vector, plain_stats_vector]
)


def _run(equity: list[float], trades: list[list[float]], reduce: Any) -> tuple[Any, Any]:
    spacing = DAY
    values = np.array(equity, np.float64)
    times = START + spacing * np.arange(1, len(values) + 1, dtype=np.int64)
    series = _series(np.linspace(50.0, 60.0, len(values)), times, spacing)
    table = np.array(trades, np.float64).reshape(-1, 10)
    fills = np.zeros((0, 8))
    exposed = np.zeros(len(values), np.bool_)
    args = (values, table, fills, exposed, series, 0.0, 365.0)
    return _compiled(*args, reduce), _reference(*args)


@REDUCTIONS
def test_a_hand_computed_run(reduce: Any) -> None:
    trades = [_trade(0, 1, 10.0), _trade(1, 2, -11.0), _trade(2, 3, 22.0)]
    got, want = _run([100.0, 110.0, 99.0, 121.0], trades, reduce)
    _assert_same(got, want)
    assert got["Total return [%]"] == pytest.approx(21.0)
    assert got["CAGR [%]"] == pytest.approx(100.0 * (1.21 ** (365.0 / 3.0) - 1.0))
    assert got["Max drawdown [%]"] == pytest.approx(-10.0)
    assert got["Max drawdown peak"] == pd.Timestamp(START + 2 * DAY, tz="UTC")
    assert got["Max drawdown trough"] == pd.Timestamp(START + 3 * DAY, tz="UTC")
    assert got["Max drawdown recovery"] == pd.Timestamp(START + 4 * DAY, tz="UTC")
    assert got["Max drawdown length"] == pd.Timedelta(days=2)
    assert got["Duration"] == pd.Timedelta(days=3)
    assert got["Profit factor"] == pytest.approx(32.0 / 11.0)
    assert got["Win rate [%]"] == pytest.approx(200.0 / 3.0)
    assert got["Expectancy"] == pytest.approx(7.0)
    assert got["Payoff ratio"] == pytest.approx(16.0 / 11.0)
    assert got["Average holding time"] == pd.Timedelta(days=1)
    returns = np.array([0.1, -0.1, 22.0 / 99.0])
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(365.0)
    assert got["Sharpe ratio"] == pytest.approx(sharpe)
    assert got["Trades"] == 3


@REDUCTIONS
def test_no_trades_and_flat_equity(reduce: Any) -> None:
    got, want = _run([100.0] * 5, [], reduce)
    _assert_same(got, want)
    assert got["Trades"] == 0
    assert math.isnan(got["Win rate [%]"]) and math.isnan(got["Profit factor"])
    assert math.isnan(got["Sharpe ratio"]) and math.isnan(got["Sortino ratio"])
    assert got["Max drawdown [%]"] == 0.0 and got["Max drawdown duration"] == pd.Timedelta(0)
    assert got["Max drawdown peak"] is pd.NaT and got["Max drawdown recovery"] is pd.NaT
    assert got["Turnover (ann.)"] == 0.0
    assert got["Average holding time"] is pd.NaT


@REDUCTIONS
def test_one_bar(reduce: Any) -> None:
    got, want = _run([100.0], [], reduce)
    _assert_same(got, want)
    assert got["Bars"] == 1 and got["Duration"] == pd.Timedelta(0)
    assert math.isnan(got["CAGR [%]"]) and math.isnan(got["Volatility (ann.) [%]"])


@REDUCTIONS
def test_a_drawdown_still_open_and_a_ruin(reduce: Any) -> None:
    got, want = _run([100.0, 120.0, 90.0, 95.0], [_trade(0, 3, -5.0)], reduce)
    _assert_same(got, want)
    assert got["Max drawdown recovery"] == "not recovered"
    assert got["Max drawdown length"] == pd.Timedelta(days=2)
    got, want = _run([100.0, 50.0, 0.0, -10.0], [_trade(0, 3, -110.0)], reduce)
    _assert_same(got, want)
    assert math.isnan(got["Sharpe ratio"]) and math.isnan(got["VaR 95% [%]"])
    assert got["Max drawdown [%]"] == pytest.approx(-110.0)


@REDUCTIONS
def test_many_equal_returns_give_numpy_quantiles(reduce: Any) -> None:
    rng = np.random.default_rng(7)
    steps = np.where(rng.random(400) < 0.8, 0.0, rng.normal(0.0, 0.01, 400))
    got, want = _run(list(100.0 * np.cumprod(1.0 + steps)), [], reduce)
    _assert_same(got, want)


@REDUCTIONS
@pytest.mark.parametrize("pattern", ["ties", "sample-misleading"])
def test_long_curves_give_numpy_quantiles(reduce: Any, pattern: str) -> None:
    """Past 32,768 returns the compiled quantiles narrow the search with a strided sample."""
    rng = np.random.default_rng(11)
    count = 40_000
    if pattern == "ties":  # mostly flat, as a strategy out of the market
        steps = np.where(rng.random(count) < 0.8, 0.0, rng.normal(0.0, 0.01, count))
    else:  # every 9th return (the sampled ones) is a rise: the sample misjudges the tails
        steps = -rng.uniform(0.0, 1e-4, count)
        steps[:: count // 4096] = 0.05
    equity = 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + steps)])
    got, want = _run(list(equity), [], reduce)
    _assert_same(got, want)
    returns = equity[1:] / equity[:-1] - 1.0
    assert got["VaR 95% [%]"] == pytest.approx(100.0 * np.quantile(returns, 0.05), rel=1e-12)


@REDUCTIONS
def test_bad_equity_is_one_clear_error(reduce: Any) -> None:
    times = START + HOUR * np.arange(1, 4, dtype=np.int64)
    empty = np.zeros((0, 10)), np.zeros((0, 8))
    for values, row in (([100.0, math.nan, 1.0], 1), ([0.0, 1.0, 2.0], 0)):
        with pytest.raises(DataError) as error:
            reduce(np.array(values), np.zeros(3, np.bool_), *empty, times - HOUR, times,
                         close=None, periods_per_year=8760.0, fees=0.0)  # fmt: skip
        assert error.value.row == row
    with pytest.raises(DataError, match="empty"):
        reduce(np.zeros(0), np.zeros(0, np.bool_), *empty, times[:0], times[:0],
                     close=None, periods_per_year=8760.0, fees=0.0)  # fmt: skip
    with pytest.raises(ConfigError, match="periods_per_year"):
        reduce(np.ones(3), np.zeros(3, np.bool_), *empty, times - HOUR, times,
                     close=None, periods_per_year=0.0, fees=0.0)  # fmt: skip


@st.composite
def runs(draw: st.DrawFn) -> tuple[Any, ...]:
    """A random run: irregular bar times, an equity walk with ties and ruins, trades, fills."""
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(1, 30), min_size=n, max_size=n))
    close_time = START + HOUR * np.cumsum(np.array(gaps, np.int64))
    step = st.one_of(st.just(0.0), st.floats(-0.3, 0.3), st.just(-1.2))
    steps = draw(st.lists(step, min_size=n - 1, max_size=n - 1))
    if steps and draw(st.booleans()):  # end on a new peak: every spell recovered
        steps[-1] = 100.0
    equity = draw(st.floats(1.0, 1e6)) * np.concatenate([[1.0], np.cumprod(1.0 + np.array(steps))])
    close = np.array(draw(st.lists(st.floats(1.0, 1e4), min_size=n, max_size=n)))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        entry = draw(st.integers(0, n - 1))
        exit_ = draw(st.integers(entry, n - 1))
        amount = draw(st.floats(0.01, 10.0))
        closed = amount * draw(st.sampled_from([1.0, 0.5]))
        entry_value = amount * draw(st.floats(1.0, 1e4))
        exit_value = closed * draw(st.floats(1.0, 1e4))
        fees = draw(st.sampled_from([0.0, 1.5, -0.2]))
        direction, ambiguous = draw(st.sampled_from([1.0, -1.0])), draw(st.sampled_from([0.0, 1.0]))
        size = draw(st.floats(-5.0, 5.0))
        rows.append([entry, exit_, direction, size, entry_value, amount, exit_value, closed,
                     fees, ambiguous])  # fmt: skip
    trades = np.array(rows, np.float64).reshape(-1, 10)
    fills = np.zeros((draw(st.integers(0, 5)), 8))
    fills[:, 7] = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(fills),
                                max_size=len(fills)))  # fmt: skip
    exposed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.bool_)
    fees = draw(st.sampled_from([0.0, 12.5, -3.0]))
    ppy = draw(st.sampled_from([8760.0, 365.0, 525_600.0]))
    series = _series(close, close_time, HOUR)
    return equity, trades, fills, exposed, series, fees, ppy


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_every_reduction_equals_compute_stats(run: tuple[Any, ...]) -> None:
    want = _reference(*run)
    _assert_same(_compiled(*run), want)
    _assert_same(_compiled(*run, numpy_stats_vector), want)
    _assert_same(_compiled(*run, plain_stats_vector), want)


def test_a_shared_benchmark_gives_the_run_s_own_figures() -> None:
    """`reduce_into` with the benchmark a sweep computes once equals `reduce_stats` exactly.

    A shared benchmark made for another start or rate is not used: the run's own is made.
    """
    import numba

    from quantkit.vector.stats_kernel import benchmark_returns, reduce_into

    @numba.njit
    def compiled(e: Any, x: Any, t: Any, o: Any, c: Any, p: Any, b: Any, w: Any, out: Any) -> None:
        reduce_into(e, x, t, o, c, p, 8760.0, 1.5, 0.0, b, w, out)

    rng = np.random.default_rng(5)
    n = 300
    equity = 1_000.0 * np.cumprod(1.0 + rng.normal(0.0, 0.01, n))
    close = 50.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, n))
    times = START + HOUR * np.arange(1, n + 1, dtype=np.int64)
    exposed = rng.random(n) < 0.5
    trades, fills = np.array([_trade(3, 40, 2.5)]), np.zeros((0, 8))
    args = (equity, exposed, trades, fills, times - HOUR, times, close, 8760.0, 1.5, 0.0)
    want = np.empty(len(STAT_NAMES))
    reduce_stats(*args, want)
    for start, rate in ((equity[0], 0.0), (equity[0] * 1.5, 0.0), (equity[0], 1e-6)):
        bench = np.empty(n + 3)
        bench[0], bench[1] = start, rate
        bench[2], bench[3] = benchmark_returns(close, start, rate, bench[4:])  # (plain Python)
        got = np.empty(len(STAT_NAMES))
        compiled(equity, exposed, trades, times - HOUR, times, close, bench, np.empty((3, n)), got)
        got[-2] = want[-2]  # (the ambiguous fills: the caller's slot)
        assert np.array_equal(got, want, equal_nan=True), (start, rate)
    assert math.isfinite(want[STAT_NAMES.index("Beta")])
