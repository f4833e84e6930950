"""The statistics vector of a fast-path run: its slots, its checks, and its table.

A run's statistics are reduced to one float vector whose slots `STAT_NAMES` names, by compiled
code (`quantkit.vector.stats_kernel.reduce_stats`, for compiled callers such as a sweep) or by
whole-array numpy (`quantkit.vector.stats_numpy`, for one run: nothing to compile). Both follow
the metric functions of `quantkit.metrics` (the same formulas, thresholds and edge cases; see
``docs/stats.md``), and `stats_series` turns either vector into the very table
`quantkit.metrics.compute_stats` returns for the same run, equal to float rounding.

Figures that are timestamps or durations are held as bar positions (exact: a float holds any
bar position, not a nanosecond timestamp):

- ``Max drawdown peak bar``, ``... trough bar``: positions of the deepest spell's peak and
  trough; ``... recovery bar``: where it regained the peak, ``-1`` when it never did; all three
  NaN when the curve never falls below a peak.
- ``Max drawdown duration start bar`` / ``... end bar``: the longest spell's peak and the bar
  it ends at (recovery, or the last bar), NaN without a spell.
- ``Average holding time [ns]``: the mean of ``exit_time - entry_time`` in nanoseconds.

No numba here, and pandas only inside `stats_series`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["STAT_NAMES", "RunArrays", "run_arrays", "stats_series"]

STAT_NAMES = (
    "Bars", "Start equity", "Final equity", "Total return [%]", "CAGR [%]",
    "Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio", "Calmar ratio", "Omega ratio",
    "Max drawdown [%]", "Max drawdown duration start bar", "Max drawdown duration end bar",
    "Max drawdown peak bar", "Max drawdown trough bar", "Max drawdown recovery bar",
    "Ulcer index", "VaR 95% [%]", "CVaR 95% [%]", "Skew", "Kurtosis (excess)", "Tail ratio",
    "Trades", "Win rate [%]", "Profit factor", "Expectancy", "Average win", "Average loss",
    "Payoff ratio", "Best trade", "Worst trade", "Average holding time [ns]", "Turnover (ann.)",
    "Exposure time [%]", "Fees paid", "Gross P&L", "Fees [% of gross P&L]",
    "Fees [% of net P&L]", "Buy & hold return [%]", "Alpha (ann.) [%]", "Beta",
    "Information ratio", "Ambiguous fills", "Ambiguous trades",
)  # fmt: skip
"""The slots of a statistics vector, in order (see the module docstring for the bar slots)."""

(
    _BARS, _START, _FINAL, _TOTAL, _CAGR, _VOL, _SHARPE, _SORTINO, _CALMAR, _OMEGA, _MAX_DD,
    _LONG_FROM, _LONG_TO, _PEAK, _TROUGH, _RECOVERY, _ULCER, _VAR, _CVAR, _SKEW, _KURT, _TAIL,
    _TRADES, _WIN_RATE, _PROFIT_FACTOR, _EXPECTANCY, _AVG_WIN, _AVG_LOSS, _PAYOFF, _BEST,
    _WORST, _HOLDING, _TURNOVER, _EXPOSURE, _FEES, _GROSS, _FEES_GROSS, _FEES_NET, _HOLD,
    _ALPHA, _BETA, _INFO, _AMBIGUOUS_FILLS, _AMBIGUOUS_TRADES,
) = range(len(STAT_NAMES))  # fmt: skip

_ZERO = 1e-12  # quantkit.metrics.returns._ZERO_DENOMINATOR: a deviation this small is zero
_NOISE = 1e-12  # quantkit.metrics.drawdowns._NOISE: a smaller dip is no drawdown spell
_NS_PER_YEAR = 365.0 * 86_400e9
_VAR_Q = 1.0 - 0.95  # value_at_risk(confidence=0.95) asks numpy for this quantile
# the kernel's trade table (quantkit.vector.kernel.TRADE_COLUMNS) and fill table columns
_T_ENTRY_BAR, _T_EXIT_BAR, _T_DIRECTION, _T_SIZE = 0, 1, 2, 3
_T_ENTRY_VALUE, _T_ENTRY_AMOUNT, _T_EXIT_VALUE, _T_EXIT_AMOUNT, _T_FEES, _T_AMBIGUOUS = range(4, 10)
_F_AMBIGUOUS = 7


@dataclass(frozen=True, slots=True)
class RunArrays:
    """A run's arrays, checked and in the dtypes the reductions take (see `run_arrays`)."""

    equity: FloatArray
    exposed: npt.NDArray[np.bool_]
    trades: FloatArray
    fills: FloatArray
    open_time: IntArray
    close_time: IntArray
    close: FloatArray
    ppy: float
    fees: float
    risk_free: float


def run_arrays(
    equity: FloatArray,
    exposed: npt.NDArray[np.bool_],
    trades: FloatArray,
    fills: FloatArray,
    open_time: IntArray,
    close_time: IntArray,
    *,
    close: FloatArray | None,
    periods_per_year: float,
    fees: float,
    risk_free: float = 0.0,
) -> RunArrays:
    """Check a run's arrays as `compute_stats` checks its inputs, and return them prepared.

    Args:
        equity: Equity at each bar close.
        exposed: Whether a position was open at each close.
        trades: The simulator's closed-trade table (``kernel.TRADE_COLUMNS``).
        fills: The simulator's fill table (``kernel.FILL_COLUMNS``).
        open_time: Bar open times in ns: a trade's times are its bars' opens.
        close_time: Bar close times in ns (strictly increasing): the equity's times.
        close: Close prices: the benchmark is holding the asset from the first close (none
            when ``None``, empty or the first close is not positive, as in the fast path).
        periods_per_year: Bars per year, to annualise the per-bar ratios.
        fees: Total fees paid.
        risk_free: Annual risk-free rate.

    Returns:
        The arrays as contiguous float64 / bool / int64 (no copy when they already are).

    Raises:
        DataError: If the equity is empty, holds a value that is not a finite number, does
            not start above zero (as `compute_stats`), or has not one value per bar time.
        ConfigError: If ``periods_per_year``, ``fees`` or ``risk_free`` is out of range.
    """
    from quantkit.metrics.stats import _check_arguments  # noqa: PLC0415

    _check_arguments(
        ppy=periods_per_year,
        exposure=None,
        fees=fees,
        ambiguous_fills=0,
        ambiguous_trades=0,
        risk_free=risk_free,
    )
    values = np.ascontiguousarray(equity, np.float64)
    _check_equity(values, len(close_time))
    benchmark = np.empty(0)
    if close is not None and len(close) and close[0] > 0:
        benchmark = np.ascontiguousarray(close, np.float64)
    return RunArrays(
        values,
        np.ascontiguousarray(exposed, np.bool_),
        np.ascontiguousarray(trades, np.float64).reshape(-1, 10),
        np.ascontiguousarray(fills, np.float64).reshape(-1, 8),
        np.ascontiguousarray(open_time, np.int64),
        np.ascontiguousarray(close_time, np.int64),
        benchmark,
        float(periods_per_year),
        float(fees),
        float(risk_free),
    )


def _check_equity(values: FloatArray, times: int) -> None:
    """Raise `DataError` as `compute_stats` does for an unusable equity curve."""
    if not values.size:
        raise DataError("is empty; statistics need at least one bar", source="equity")
    if values.size != times:
        raise DataError(
            f"has {values.size} values for {times} bar times; they must match", source="equity"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"value {values[row]} is not a finite number", source="equity", row=row)
    if values[0] <= 0:
        raise DataError(f"start equity must be positive, got {values[0]}", source="equity", row=0)


def _bar_time(times: IntArray, position: float) -> Any:
    """The timestamp at a bar position (``NaT`` for NaN)."""
    import pandas as pd  # noqa: PLC0415

    if math.isnan(position):
        return pd.NaT
    return pd.Timestamp(int(times[int(position)]), unit="ns", tz="UTC")


def stats_series(vector: FloatArray, close_time: IntArray) -> pd.Series:
    """Return a statistics vector as the table `compute_stats` returns for the same run.

    Args:
        vector: A vector from `stats_vector` or `reduce_stats`.
        close_time: The run's bar close times in ns (the equity's timestamps).

    Returns:
        An object-dtype Series named ``"stats"``, with the labels, value types and NaN/NaT
        cases of `quantkit.metrics.compute_stats`.
    """
    import pandas as pd  # noqa: PLC0415

    from quantkit.metrics.stats import _LABELS  # noqa: PLC0415

    v = dict(zip(STAT_NAMES, (float(x) for x in vector), strict=True))
    times = np.asarray(close_time, np.int64)
    last = int(v["Bars"]) - 1
    rows: dict[str, Any] = {
        label: v[label] for label in STAT_NAMES if label in _LABELS and label != "Bars"
    }
    rows["Start"], rows["End"] = _bar_time(times, 0), _bar_time(times, last)
    rows["Duration"] = pd.Timedelta(int(times[last] - times[0]), unit="ns")
    for label in ("Bars", "Trades", "Ambiguous fills", "Ambiguous trades"):
        rows[label] = int(v[label])
    rows.update(_drawdown_times(v, times, last))
    holding = v["Average holding time [ns]"]
    rows["Average holding time"] = (
        pd.NaT if math.isnan(holding) else pd.Timedelta(round(holding), unit="ns")
    )
    return pd.Series({label: rows[label] for label in _LABELS}, dtype=object, name="stats")


def _drawdown_times(v: dict[str, float], times: IntArray, last: int) -> dict[str, Any]:
    """The drawdown rows that are times, from their bar positions."""
    import pandas as pd  # noqa: PLC0415

    from quantkit.metrics.stats import _NOT_RECOVERED  # noqa: PLC0415

    peak, recovery = v["Max drawdown peak bar"], v["Max drawdown recovery bar"]
    longest = pd.Timedelta(0)
    if not math.isnan(v["Max drawdown duration start bar"]):
        start, end = (
            int(v["Max drawdown duration start bar"]),
            int(v["Max drawdown duration end bar"]),
        )
        longest = pd.Timedelta(int(times[end] - times[start]), unit="ns")
    length = pd.Timedelta(0)
    if not math.isnan(peak):
        end = last if recovery == -1.0 else int(recovery)
        length = pd.Timedelta(int(times[end] - times[int(peak)]), unit="ns")
    return {
        "Max drawdown duration": longest,
        "Max drawdown peak": _bar_time(times, peak),
        "Max drawdown trough": _bar_time(times, v["Max drawdown trough bar"]),
        "Max drawdown recovery": _NOT_RECOVERED if recovery == -1.0 else _bar_time(times, recovery),
        "Max drawdown length": length,
    }
