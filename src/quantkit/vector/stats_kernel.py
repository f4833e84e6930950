"""The statistics of a fast-path run, reduced inside compiled code: for compiled callers.

`reduce_stats` turns what the simulator returns (equity at each close, the exposure flags, the
trade and fill tables) into the float vector of `quantkit.vector.stats_table` (slots named by
`STAT_NAMES`, times as bar positions), all in one numba function that a compiled sweep can call
per combination, in parallel and without the GIL; `stats_series` turns it into the table
`quantkit.metrics.compute_stats` returns for the same run. The code follows the metric functions
of `quantkit.metrics` step by step (the same formulas, thresholds and order of operations) over
plain arrays, with loops instead of whole-array temporaries.

One run uses `quantkit.vector.stats_numpy` instead: the same vector from whole-array numpy,
with nothing to compile (compiling this module costs seconds on a cold numba cache).

Like the simulator (`quantkit.vector.kernel`), this module imports numba and is imported only
when it is used; it is compiled once, for float64, bool and int64 arrays, and kept in numba's
cache (``cache=True``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from numba.extending import register_jitable

from quantkit.vector import stats_table as _t
from quantkit.vector.stats_table import STAT_NAMES, run_arrays, stats_series

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

    from quantkit.vector.stats_table import RunArrays


__all__ = ["STAT_NAMES", "reduce_run", "reduce_stats", "stats_series", "stats_vector"]

_jit = register_jitable  # helpers: compiled into `reduce_stats`, one cached function
_SAMPLE = 4096  # values sampled to narrow a quantile's search (see `_order_pair`)


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
    return math.nan if denominator <= _t._ZERO else numerator / denominator


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
def _pair(a: Any, k: int, k1: int) -> tuple[float, float]:
    """The ``k``-th and ``k1``-th (``k`` or ``k + 1``) smallest values; reorders ``a``."""
    low = _select(a, k)
    high = low
    if k1 > k:  # the least value after the k-th: the next order statistic
        high = a[k1]
        for i in range(k1 + 1, a.size):
            high = min(high, a[i])
    return low, float(high)


@_jit
def _order_pair(a: Any, k: int, k1: int, buf: Any) -> tuple[float, float]:
    """The ``k``-th and ``k1``-th smallest values of ``a`` (untouched), ``buf`` as scratch.

    A long array is first narrowed with a strided sample (as Floyd and Rivest's selection
    does): order statistics of the sample, a few standard deviations of rank either side of
    ``k``, bound the values worth keeping; one pass counts the values below the lower bound
    and copies those between the bounds, and only these are selected from. When the bounds
    miss (an unlucky sample), every value is selected from instead: the result is exact either
    way.
    """
    n = a.size
    if n > 8 * _SAMPLE:
        step = n // _SAMPLE
        size = 0
        for i in range(0, n, step):
            buf[size] = a[i]
            size += 1
        share = k / n
        margin = 4 * int(math.sqrt(size * share * (1.0 - share))) + 8
        centre = int(share * size)
        lower = _select(buf[:size], max(centre - margin, 0))
        upper = _select(buf[:size], min(centre + margin, size - 1))
        below = kept = 0
        for i in range(n):
            if a[i] < lower:
                below += 1
            elif a[i] <= upper:
                buf[kept] = a[i]
                kept += 1
        if below <= k and k1 < below + kept:
            return _pair(buf[:kept], k - below, k1 - below)
    for i in range(n):
        buf[i] = a[i]
    return _pair(buf[:n], k, k1)


@_jit
def _quantile(a: Any, q: float, buf: Any) -> float:
    """The default ("linear") quantile of numpy, its ``_lerp`` to the bit (``a`` untouched)."""
    position = (a.size - 1) * q
    below = math.floor(position)
    low, high = _order_pair(a, below, min(below + 1, a.size - 1), buf)
    gamma = position - below
    if gamma >= 0.5:
        return float(high - (high - low) * (1.0 - gamma))
    return float(low + (high - low) * gamma)


@_jit
def _returns_rows(r: Any, ppy: float, rf: float, out: Any) -> None:
    """Volatility, Sharpe, Sortino, Omega (`quantkit.metrics.returns`); ``x = r - rf``."""
    root = math.sqrt(ppy)
    if r.size >= 2:
        out[_t._VOL] = 100.0 * _std(r, 0.0, 1) * root
        out[_t._SHARPE] = _ratio(_mean(r, rf), _std(r, rf, 1)) * root
    shortfall = gains = losses = 0.0
    for k in range(r.size):
        shortfall += min(r[k] - rf, 0.0) ** 2
        gains += max(r[k], 0.0)
        losses += max(-r[k], 0.0)
    out[_t._SORTINO] = _ratio(_mean(r, rf), math.sqrt(shortfall / r.size)) * root
    out[_t._OMEGA] = gains / losses if losses > 0 else math.nan


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
    if math.sqrt(m2) > _t._ZERO:
        if n >= 3:
            out[_t._SKEW] = math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)
        if n >= 4:
            g2 = m4 / m2**2 - 3.0
            out[_t._KURT] = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)


@_jit
def _tail_rows(r: Any, out: Any) -> None:
    """VaR, CVaR and tail ratio (`quantkit.metrics.distribution`)."""
    buf = np.empty(r.size)
    cutoff = _quantile(r, _t._VAR_Q, buf)
    out[_t._VAR] = 100.0 * cutoff
    tail = 0.0
    count = 0
    for k in range(r.size):
        if r[k] <= cutoff:
            tail += r[k]
            count += 1
    out[_t._CVAR] = 100.0 * tail / count
    low, high = _quantile(r, 0.05, buf), _quantile(r, 0.95, buf)
    out[_t._TAIL] = abs(high) / abs(low) if low != 0 else math.nan


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
        below = value < peak * (1.0 - _t._NOISE)
        if below and spell_from < 0:
            spell_from = t - 1
        elif not below and spell_from >= 0:
            if times[t] - times[spell_from] > longest:
                longest = times[t] - times[spell_from]
                out[_t._LONG_FROM], out[_t._LONG_TO] = spell_from, t
            if spell_from < deepest_at < t:
                out[_t._PEAK], out[_t._TROUGH], out[_t._RECOVERY] = spell_from, deepest_at, t
            spell_from = -1
    if spell_from >= 0:  # a spell still open at the last bar
        if times[n - 1] - times[spell_from] > longest:
            out[_t._LONG_FROM], out[_t._LONG_TO] = spell_from, n - 1
        if spell_from < deepest_at:
            out[_t._PEAK], out[_t._TROUGH], out[_t._RECOVERY] = spell_from, deepest_at, -1.0
    out[_t._MAX_DD] = 100.0 * deepest
    out[_t._ULCER] = math.sqrt(squares / n)
    if not math.isnan(out[_t._LONG_FROM]):
        out[_t._CALMAR] = _growth(equity[0], equity[n - 1], years) / abs(deepest)


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
        entry_price = row[_t._T_ENTRY_VALUE] / row[_t._T_ENTRY_AMOUNT]
        exit_price = row[_t._T_EXIT_VALUE] / row[_t._T_EXIT_AMOUNT]
        closed = min(row[_t._T_EXIT_AMOUNT], row[_t._T_ENTRY_AMOUNT])
        pnl = (
            row[_t._T_DIRECTION] * (row[_t._T_EXIT_VALUE] - entry_price * closed) - row[_t._T_FEES]
        )
        total += pnl
        best, worst = max(best, pnl), min(worst, pnl)
        if pnl > 0:
            wins += 1
            gains += pnl
        elif pnl < 0:
            losses += 1
            lost += pnl
        held += open_time[int(row[_t._T_EXIT_BAR])] - open_time[int(row[_t._T_ENTRY_BAR])]
        notional += abs(row[_t._T_SIZE]) * (entry_price + exit_price)
        out[_t._AMBIGUOUS_TRADES] += row[_t._T_AMBIGUOUS] != 0.0
    out[_t._TRADES] = count
    if count:
        out[_t._WIN_RATE] = 100.0 * wins / count
        out[_t._EXPECTANCY] = total / count
        out[_t._BEST], out[_t._WORST] = best, worst
        out[_t._HOLDING] = held / count
    if lost < 0:
        out[_t._PROFIT_FACTOR] = gains / -lost
    elif gains > 0:
        out[_t._PROFIT_FACTOR] = math.inf
    if wins:
        out[_t._AVG_WIN] = gains / wins
    if losses:
        out[_t._AVG_LOSS] = lost / losses
    out[_t._PAYOFF] = out[_t._AVG_WIN] / abs(out[_t._AVG_LOSS])
    if years > 0 and equity_mean > 0:
        out[_t._TURNOVER] = notional / equity_mean / years


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
    if _std(b, rf, 0) > _t._ZERO:
        mx, my = _mean(r, rf), _mean(b, rf)
        cross = spread = 0.0
        for k in range(b.size):
            dy = b[k] - rf - my
            cross += (r[k] - rf - mx) * dy
            spread += dy**2
        beta = cross / spread
        out[_t._BETA] = beta
        out[_t._ALPHA] = 100.0 * ((1.0 + (mx - beta * my)) ** ppy - 1.0)
    mean = error = 0.0
    for k in range(b.size):
        mean += r[k] - b[k]
    mean /= b.size
    for k in range(b.size):
        error += (r[k] - b[k] - mean) ** 2
    out[_t._INFO] = _ratio(mean, math.sqrt(error / (b.size - 1))) * math.sqrt(ppy)


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
    out[_t._BARS], out[_t._START], out[_t._FINAL] = n, equity[0], equity[n - 1]
    out[_t._TOTAL] = 100.0 * (equity[n - 1] / equity[0] - 1.0)
    years = (close_time[n - 1] - close_time[0]) / _t._NS_PER_YEAR
    out[_t._CAGR] = 100.0 * _growth(equity[0], equity[n - 1], years)
    _drawdown_rows(equity, close_time, years, out)
    out[_t._AMBIGUOUS_TRADES] = 0.0
    _trade_rows(trades, open_time, _mean(equity, 0.0), years, out)
    exposed_bars = 0
    for k in range(exposed.size):
        exposed_bars += exposed[k]
    out[_t._EXPOSURE] = 100.0 * (exposed_bars / exposed.size) if exposed.size else 0.0
    out[_t._FEES] = fees
    net = equity[n - 1] - equity[0]
    out[_t._GROSS] = net + fees
    out[_t._FEES_GROSS] = 100.0 * fees / abs(out[_t._GROSS]) if out[_t._GROSS] else math.nan
    out[_t._FEES_NET] = 100.0 * fees / abs(net) if net else math.nan
    if close.size:
        out[_t._HOLD] = 100.0 * (close[n - 1] / close[0] * equity[0] / equity[0] - 1.0)
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
        _tail_rows(r, out)
    ambiguous = 0
    for k in range(fills.shape[0]):
        ambiguous += fills[k, _t._F_AMBIGUOUS] != 0.0
    out[_t._AMBIGUOUS_FILLS] = ambiguous


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

    The arguments are those of `quantkit.vector.stats_table.run_arrays`, which checks them.

    Returns:
        A float64 vector of ``len(STAT_NAMES)``; `stats_series` makes it a table.

    Raises:
        DataError: If the equity is unusable (see `run_arrays`).
        ConfigError: If ``periods_per_year``, ``fees`` or ``risk_free`` is out of range.
    """
    run = run_arrays(
        equity,
        exposed,
        trades,
        fills,
        open_time,
        close_time,
        close=close,
        periods_per_year=periods_per_year,
        fees=fees,
        risk_free=risk_free,
    )
    return reduce_run(run)


def reduce_run(run: RunArrays, reduce: Any = reduce_stats) -> FloatArray:
    """Return the statistics vector of checked arrays through ``reduce`` (`reduce_stats`).

    Args:
        run: The run's arrays, from `run_arrays`.
        reduce: `reduce_stats`, or its uncompiled source ``reduce_stats.py_func``.

    Returns:
        A float64 vector of ``len(STAT_NAMES)``.
    """
    out = np.empty(len(STAT_NAMES))
    reduce(
        run.equity,
        run.exposed,
        run.trades,
        run.fills,
        run.open_time,
        run.close_time,
        run.close,
        run.ppy,
        run.fees,
        run.risk_free,
        out,
    )
    return out
