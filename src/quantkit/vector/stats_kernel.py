"""The statistics of one fast-path run, reduced inside compiled code: no pandas per run.

`reduce_stats` turns what the simulator returns (equity at each close, the exposure flags, the
trade and fill tables) into one float vector whose slots `STAT_NAMES` names; `stats_series`
turns that vector into the very table `quantkit.metrics.compute_stats` returns for the same run
(same labels, same definitions, same NaN edge cases, equal to float rounding). A sweep keeps one
vector per combination and builds its table once at the end (`stats_frame`).

Every figure is defined in ``docs/stats.md``; the code below follows the metric functions of
`quantkit.metrics` step by step (the same formulas, thresholds and order of operations), only
over plain arrays. Figures that are timestamps or durations are held as bar positions (exact:
a float holds any bar position, not a nanosecond timestamp) and turned into times by
`stats_series`:

- ``Max drawdown peak bar``, ``... trough bar``: positions of the deepest spell's peak and
  trough; ``... recovery bar``: where it regained the peak, ``-1`` when it never did; all three
  NaN when the curve never falls below a peak.
- ``Max drawdown duration start bar`` / ``... end bar``: the longest spell's peak and the bar
  it ends at (recovery, or the last bar), NaN without a spell.
- ``Average holding time [ns]``: the mean of ``exit_time - entry_time`` in nanoseconds.

Like the simulator (`quantkit.vector.kernel`), this module imports numba and is imported only
when the fast path runs. The functions are compiled once, for float64 and int64 arrays, and
kept in numba's cache (``cache=True``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from numba.extending import register_jitable

from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["STAT_NAMES", "reduce_stats", "stats_series", "stats_vector"]

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

_jit = register_jitable  # helpers: compiled into `reduce_stats`, one cached function


@_jit
def _mean(x: Any, shift: float) -> float:
    """``mean(x - shift)``; NaN for no values."""
    total = 0.0
    for k in range(x.size):
        total += x[k] - shift
    return total / x.size if x.size else math.nan


@_jit
def _std(x: Any, shift: float, ddof: int) -> float:
    """``np.std(x - shift, ddof=ddof)`` (two passes; at least ``ddof + 1`` values)."""
    mean = _mean(x, shift)
    total = 0.0
    for k in range(x.size):
        total += (x[k] - shift - mean) ** 2
    return math.sqrt(total / (x.size - ddof))


@_jit
def _ratio(numerator: float, denominator: float) -> float:
    return math.nan if denominator <= _ZERO else numerator / denominator


@_jit
def _growth(start: float, final: float, years: float) -> float:
    """`quantkit.metrics.returns._growth_rate` (a float power overflows to inf here)."""
    if years <= 0 or final < 0:
        return math.nan
    return float((final / start) ** (1.0 / years) - 1.0)


@_jit
def _select(a: Any, k: int) -> float:
    """Return the ``k``-th smallest value, moving smaller ones before it and larger after it.

    Wirth's selection (Hoare's partition with a middle pivot): linear on average, in place,
    and quick on the long runs of equal returns of a strategy that is often flat.
    """
    lo, hi = 0, a.size - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return float(a[k])


@_jit
def _quantile(a: Any, q: float) -> float:
    """The default ("linear") quantile of numpy, its ``_lerp`` to the bit; reorders ``a``."""
    position = (a.size - 1) * q
    below = math.floor(position)
    low = _select(a, below)
    high = low
    for k in range(below + 1, a.size):  # the next order statistic: the least value after it
        high = min(high, a[k]) if k > below + 1 else a[k]
    gamma = position - below
    if gamma >= 0.5:
        return float(high - (high - low) * (1.0 - gamma))
    return float(low + (high - low) * gamma)


@_jit
def _returns_rows(r: Any, ppy: float, rf: float, out: Any) -> None:
    """Volatility, Sharpe, Sortino, Omega (`quantkit.metrics.returns`); ``x = r - rf``."""
    root = math.sqrt(ppy)
    if r.size >= 2:
        out[_VOL] = 100.0 * _std(r, 0.0, 1) * root
        out[_SHARPE] = _ratio(_mean(r, rf), _std(r, rf, 1)) * root
    shortfall = gains = losses = 0.0
    for k in range(r.size):
        shortfall += min(r[k] - rf, 0.0) ** 2
        gains += max(r[k], 0.0)
        losses += max(-r[k], 0.0)
    out[_SORTINO] = _ratio(_mean(r, rf), math.sqrt(shortfall / r.size)) * root
    out[_OMEGA] = gains / losses if losses > 0 else math.nan


@_jit
def _moment_rows(r: Any, out: Any) -> None:
    """Skew and excess kurtosis (`quantkit.metrics.distribution`)."""
    n = r.size
    mean = _mean(r, 0.0)
    m2 = m3 = m4 = 0.0
    for k in range(n):
        d = r[k] - mean
        m2 += d**2
        m3 += d**3
        m4 += d**4
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    if math.sqrt(m2) > _ZERO:
        if n >= 3:
            out[_SKEW] = math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)
        if n >= 4:
            g2 = m4 / m2**2 - 3.0
            out[_KURT] = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)


@_jit
def _tail_rows(r: Any, out: Any) -> None:
    """VaR, CVaR and tail ratio (`quantkit.metrics.distribution`); reorders ``r``."""
    cutoff = _quantile(r, _VAR_Q)
    out[_VAR] = 100.0 * cutoff
    tail = 0.0
    count = 0
    for k in range(r.size):
        if r[k] <= cutoff:
            tail += r[k]
            count += 1
    out[_CVAR] = 100.0 * tail / count
    low, high = _quantile(r, 0.05), _quantile(r, 0.95)
    out[_TAIL] = abs(high) / abs(low) if low != 0 else math.nan


@_jit
def _drawdown_rows(equity: Any, times: Any, years: float, out: Any) -> None:
    """Max drawdown, its spell, the longest spell, Calmar, Ulcer (`quantkit.metrics.drawdowns`).

    One pass over the curve: the running peak, the deepest point (the first on a tie) and each
    spell below the peak (a bar more than one part in 10**12 below it), with its duration.
    """
    n = equity.size
    peak = equity[0]
    deepest, deepest_at = 0.0, 0
    squares = 0.0
    longest = -1
    spell_from = -1  # the peak bar of the spell in progress, -1 when at a peak
    for t in range(n):
        value = equity[t]
        peak = max(peak, value)
        depth = value / peak - 1.0
        squares += (100.0 * depth) ** 2
        if depth < deepest:
            deepest, deepest_at = depth, t
        below = value < peak * (1.0 - _NOISE)
        if below and spell_from < 0:
            spell_from = t - 1
        elif not below and spell_from >= 0:
            if times[t] - times[spell_from] > longest:
                longest = times[t] - times[spell_from]
                out[_LONG_FROM], out[_LONG_TO] = spell_from, t
            if spell_from < deepest_at < t:
                out[_PEAK], out[_TROUGH], out[_RECOVERY] = spell_from, deepest_at, t
            spell_from = -1
    if spell_from >= 0:  # a spell still open at the last bar
        if times[n - 1] - times[spell_from] > longest:
            out[_LONG_FROM], out[_LONG_TO] = spell_from, n - 1
        if spell_from < deepest_at:
            out[_PEAK], out[_TROUGH], out[_RECOVERY] = spell_from, deepest_at, -1.0
    out[_MAX_DD] = 100.0 * deepest
    out[_ULCER] = math.sqrt(squares / n)
    if not math.isnan(out[_LONG_FROM]):
        out[_CALMAR] = _growth(equity[0], equity[n - 1], years) / abs(deepest)


@_jit
def _trade_rows(trades: Any, open_time: Any, equity_mean: float, years: float, out: Any) -> None:
    """The trade figures (`quantkit.metrics.trades`) from the simulator's trade table.

    A trade's pnl is computed as the fast path's trades frame computes it:
    ``direction * (exit_value - entry_price * min(exit_amount, entry_amount)) - fees``.
    """
    count = trades.shape[0]
    wins = losses = 0
    gains = lost = total = held = notional = 0.0
    best, worst = -math.inf, math.inf
    for k in range(count):
        row = trades[k]
        entry_price = row[_T_ENTRY_VALUE] / row[_T_ENTRY_AMOUNT]
        exit_price = row[_T_EXIT_VALUE] / row[_T_EXIT_AMOUNT]
        closed = min(row[_T_EXIT_AMOUNT], row[_T_ENTRY_AMOUNT])
        pnl = row[_T_DIRECTION] * (row[_T_EXIT_VALUE] - entry_price * closed) - row[_T_FEES]
        total += pnl
        best, worst = max(best, pnl), min(worst, pnl)
        if pnl > 0:
            wins += 1
            gains += pnl
        elif pnl < 0:
            losses += 1
            lost += pnl
        held += open_time[int(row[_T_EXIT_BAR])] - open_time[int(row[_T_ENTRY_BAR])]
        notional += abs(row[_T_SIZE]) * (entry_price + exit_price)
        out[_AMBIGUOUS_TRADES] += row[_T_AMBIGUOUS] != 0.0
    out[_TRADES] = count
    if count:
        out[_WIN_RATE] = 100.0 * wins / count
        out[_EXPECTANCY] = total / count
        out[_BEST], out[_WORST] = best, worst
        out[_HOLDING] = held / count
    if lost < 0:
        out[_PROFIT_FACTOR] = gains / -lost
    elif gains > 0:
        out[_PROFIT_FACTOR] = math.inf
    if wins:
        out[_AVG_WIN] = gains / wins
    if losses:
        out[_AVG_LOSS] = lost / losses
    out[_PAYOFF] = out[_AVG_WIN] / abs(out[_AVG_LOSS])
    if years > 0 and equity_mean > 0:
        out[_TURNOVER] = notional / equity_mean / years


@_jit
def _benchmark_rows(r: Any, close: Any, start: float, ppy: float, rf: float, out: Any) -> None:
    """Alpha, beta and information ratio against holding the traded asset (`metrics.benchmark`).

    The benchmark's equity is the fast path's buy-and-hold, ``close_t / close_0 * start``,
    rescaled to start at 1 as `quantkit.metrics.benchmark.buy_and_hold` does.
    """
    b = np.empty(r.size)
    before = 1.0
    for k in range(r.size):
        hold = close[k + 1] / close[0] * start / start
        b[k] = hold / before - 1.0
        before = hold
    if _std(b, rf, 0) > _ZERO:
        mx, my = _mean(r, rf), _mean(b, rf)
        cross = spread = 0.0
        for k in range(b.size):
            dy = b[k] - rf - my
            cross += (r[k] - rf - mx) * dy
            spread += dy**2
        beta = cross / spread
        out[_BETA] = beta
        out[_ALPHA] = 100.0 * ((1.0 + (mx - beta * my)) ** ppy - 1.0)
    mean = error = 0.0
    for k in range(b.size):
        mean += r[k] - b[k]
    mean /= b.size
    for k in range(b.size):
        error += (r[k] - b[k] - mean) ** 2
    out[_INFO] = _ratio(mean, math.sqrt(error / (b.size - 1))) * math.sqrt(ppy)


@numba.njit(cache=True, nogil=True)
def reduce_stats(
    equity: Any,
    exposed: Any,
    trades: Any,
    fills: Any,
    open_time: Any,
    close_time: Any,
    close: Any,
    ppy: float,
    fees: float,
    risk_free: float,
    out: Any,
) -> None:
    """Write the statistics vector of one run into ``out`` (slots of `STAT_NAMES`).

    Args:
        equity: Equity at each bar close (float64, at least one bar, first value positive,
            all finite; `stats_vector` checks this).
        exposed: Whether a position was open at each close (bool).
        trades: The simulator's closed-trade table (``kernel.TRADE_COLUMNS``, float64).
        fills: The simulator's fill table (``kernel.FILL_COLUMNS``, float64).
        open_time: Bar open times in ns (int64): a trade's times are its bars' opens.
        close_time: Bar close times in ns (int64, strictly increasing): the equity's times.
        close: Close prices for the buy-and-hold benchmark; empty for no benchmark.
        ppy: Bars per year, to annualise the per-bar ratios.
        fees: Total fees paid.
        risk_free: Annual risk-free rate (a fraction above -1).
        out: Float64 vector of ``len(STAT_NAMES)``, overwritten.
    """
    for k in range(out.size):
        out[k] = math.nan
    n = equity.size
    out[_BARS], out[_START], out[_FINAL] = n, equity[0], equity[n - 1]
    out[_TOTAL] = 100.0 * (equity[n - 1] / equity[0] - 1.0)
    years = (close_time[n - 1] - close_time[0]) / _NS_PER_YEAR
    out[_CAGR] = 100.0 * _growth(equity[0], equity[n - 1], years)
    _drawdown_rows(equity, close_time, years, out)
    out[_AMBIGUOUS_TRADES] = 0.0
    _trade_rows(trades, open_time, _mean(equity, 0.0), years, out)
    exposed_bars = 0
    for k in range(exposed.size):
        exposed_bars += exposed[k]
    out[_EXPOSURE] = 100.0 * (exposed_bars / exposed.size) if exposed.size else 0.0
    out[_FEES] = fees
    net = equity[n - 1] - equity[0]
    out[_GROSS] = net + fees
    out[_FEES_GROSS] = 100.0 * fees / abs(out[_GROSS]) if out[_GROSS] else math.nan
    out[_FEES_NET] = 100.0 * fees / abs(net) if net else math.nan
    if close.size:
        out[_HOLD] = 100.0 * (close[n - 1] / close[0] * equity[0] / equity[0] - 1.0)
    alive = n >= 2
    for k in range(n):
        alive = alive and equity[k] > 0
    if alive:  # the returns are defined: no ruin, at least one
        r = np.empty(n - 1)
        for k in range(n - 1):
            r[k] = equity[k + 1] / equity[k] - 1.0
        rf = math.expm1(math.log1p(risk_free) / ppy)
        _returns_rows(r, ppy, rf, out)
        if close.size and r.size >= 2 and math.isfinite(ppy):
            _benchmark_rows(r, close, equity[0], ppy, rf, out)
        _moment_rows(r, out)
        _tail_rows(r, out)  # last: it reorders r
    ambiguous = 0
    for k in range(fills.shape[0]):
        ambiguous += fills[k, _F_AMBIGUOUS] != 0.0
    out[_AMBIGUOUS_FILLS] = ambiguous


def stats_vector(
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
) -> FloatArray:
    """Return the statistics vector of one run (slots of `STAT_NAMES`), checking its inputs.

    The arguments are those of `reduce_stats` (``close=None``: no benchmark rows; a benchmark
    is the buy-and-hold of these closes, as the fast path's `compute_stats` call uses).

    Returns:
        A float64 vector of ``len(STAT_NAMES)``; `stats_series` makes it a table.

    Raises:
        DataError: If the equity is empty, holds a value that is not a finite number, or does
            not start above zero (as `compute_stats`), or if the arrays' lengths differ.
        ConfigError: If ``periods_per_year`` or ``risk_free`` is out of range.
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
    out = np.empty(len(STAT_NAMES))
    reduce_stats(
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
        out,
    )
    return out


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
