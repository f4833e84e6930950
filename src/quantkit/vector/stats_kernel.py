"""The statistics of a fast-path run, reduced inside compiled code: for compiled callers.

`reduce_stats` turns what the simulator returns (equity at each close, the exposure flags, the
trade and fill tables) into the float vector of `quantkit.vector.stats_table` (slots named by
`STAT_NAMES`, times as bar positions), all in one numba function that a compiled sweep can call
per combination, in parallel and without the GIL; `stats_series` turns it into the table
`quantkit.metrics.compute_stats` returns for the same run. The code follows the metric functions
of `quantkit.metrics` step by step (the same formulas, thresholds and order of operations) over
plain arrays, with loops instead of whole-array temporaries. Sums that the metric functions take
in separate passes are taken together when they do not depend on each other (one pass for the
sums, one for the sums about the means), each still added in index order: the same values, with
two passes over the returns instead of a dozen. Quantiles are selected, not sorted
(`quantkit.vector.stats_select`). A sweep calls `reduce_into` with its own scratch and the
benchmark's returns computed once for all its runs.

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
from quantkit.vector.stats_select import quantile_levels, quantiles
from quantkit.vector.stats_table import STAT_NAMES, run_arrays, stats_series

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

    from quantkit.vector.stats_table import RunArrays


__all__ = [
    "STAT_NAMES",
    "benchmark_returns",
    "reduce_into",
    "reduce_run",
    "reduce_stats",
    "stats_series",
    "stats_vector",
]

_jit = register_jitable  # helpers: compiled into `reduce_stats`, one cached function
# numpy's quantiles the tail rows need, in increasing order: 5 %, the VaR's, 95 %
_LEVELS = quantile_levels(0.05, _t._VAR_Q, 0.95)


@_jit
def _mean(x: Any, shift: float) -> float:
    """``mean(x - shift)``; NaN for no values."""
    total = 0.0
    for k in range(x.size):
        total += x[k] - shift
    return total / x.size if x.size else math.nan


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
def _first_sums(equity: Any, r: Any, b: Any, rf: float) -> tuple[float, ...]:
    """Make the returns ``r`` of the equity, with the sums that need no mean, in one pass.

    The sums of ``r``, ``r - rf``, ``min(r - rf, 0) ** 2``, gains, losses and (with a
    benchmark ``b``) ``r - b``, each added in index order, as the one-sum-per-pass loops of
    `quantkit.metrics` would: independent sums in one loop give the very same values.
    """
    total = excess = shortfall = gains = losses = active = 0.0
    with_b = b.size == r.size
    for k in range(r.size):
        x = equity[k + 1] / equity[k] - 1.0
        r[k] = x
        total += x
        excess += x - rf
        shortfall += min(x - rf, 0.0) ** 2
        gains += max(x, 0.0)
        losses += max(-x, 0.0)
        if with_b:
            active += x - b[k]
    return total, excess, shortfall, gains, losses, active


@_jit
def _second_sums(r: Any, b: Any, rf: float, means: Any) -> tuple[float, ...]:
    """The sums about the means ``(mean r, mean r - rf, mean b - rf, mean r - b)``, one pass.

    The squares, cubes and fourth powers of ``r - mean`` (variance and moments), the squares of
    ``r - rf`` about its mean (the Sharpe ratio's deviation) and, with a benchmark, the
    cross-products with ``b - rf`` about its mean and the squares of ``r - b`` about its mean.
    """
    mean, mx, my, ma = means
    m2 = m3 = m4 = spread = cross = error = 0.0
    with_b = b.size == r.size
    for k in range(r.size):
        d = r[k] - mean
        m2 += d**2
        m3 += d**3
        m4 += d**4
        spread += (r[k] - rf - mx) ** 2
        if with_b:
            cross += (r[k] - rf - mx) * (b[k] - rf - my)
            error += (r[k] - b[k] - ma) ** 2
    return m2, m3, m4, spread, cross, error


@_jit
def _returns_rows(
    r: Any, sums: Any, b: Any, b_mean: float, b_spread: float, ppy: float, rf: float, out: Any
) -> None:
    """The figures of the returns: two passes over them for every one.

    Volatility, Sharpe, Sortino, Omega (`quantkit.metrics.returns`), skew and excess kurtosis
    (`quantkit.metrics.distribution`), alpha, beta and information ratio (`metrics.benchmark`).
    ``r`` holds the returns and ``sums`` their sums (`_first_sums`); ``b`` the benchmark's
    returns or nothing, ``b_mean`` and ``b_spread`` from `benchmark_returns`.
    """
    n = r.size
    total, excess, shortfall, gains, losses, active = sums
    means = (total / n, excess / n, b_mean, active / n)
    m2, m3, m4, spread, cross, error = _second_sums(r, b, rf, means)
    root = math.sqrt(ppy)
    if n >= 2:
        out[_t._VOL] = 100.0 * math.sqrt(m2 / (n - 1)) * root
        out[_t._SHARPE] = _ratio(means[1], math.sqrt(spread / (n - 1))) * root
    out[_t._SORTINO] = _ratio(means[1], math.sqrt(shortfall / n)) * root
    out[_t._OMEGA] = gains / losses if losses > 0 else math.nan
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    if math.sqrt(m2) > _t._ZERO:
        if n >= 3:
            out[_t._SKEW] = math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)
        if n >= 4:
            g2 = m4 / m2**2 - 3.0
            out[_t._KURT] = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    if b.size == n:
        if math.sqrt(b_spread / n) > _t._ZERO:
            beta = cross / b_spread
            out[_t._BETA] = beta
            out[_t._ALPHA] = 100.0 * ((1.0 + (means[1] - beta * means[2])) ** ppy - 1.0)
        out[_t._INFO] = _ratio(means[3], math.sqrt(error / (n - 1))) * math.sqrt(ppy)


@_jit
def _tail_rows(r: Any, buf: Any, out: Any) -> None:
    """VaR, CVaR and tail ratio (`quantkit.metrics.distribution`); ``buf`` is scratch."""
    values = np.empty(len(_LEVELS))
    quantiles(r, _LEVELS, buf, values)
    low, cutoff, high = values[0], values[1], values[2]  # (levels in the order of _LEVELS)
    out[_t._VAR] = 100.0 * cutoff
    tail = 0.0
    count = 0
    for k in range(r.size):
        if r[k] <= cutoff:
            tail += r[k]
            count += 1
    out[_t._CVAR] = 100.0 * tail / count
    out[_t._TAIL] = abs(high) / abs(low) if low != 0 else math.nan


@_jit
def _drawdown_rows(equity: Any, times: Any, years: float, out: Any) -> float:
    """Max drawdown, its spell, the longest spell, Calmar, Ulcer (`quantkit.metrics.drawdowns`).

    One pass over the curve: the running peak, the deepest point (the first on a tie) and each
    spell below the peak (a bar more than one part in 10**12 below it), with its duration.
    Returns the sum of the equity (in index order: for its mean).
    """
    n = equity.size
    peak = equity[0]
    deepest, deepest_at = 0.0, 0
    squares = total = 0.0
    longest = -1
    spell_from = -1  # the peak bar of the spell in progress, -1 when at a peak
    for t in range(n):
        value = equity[t]
        total += value
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
    return total


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
def benchmark_returns(close: Any, start: float, rf: float, b: Any) -> tuple[float, float]:
    """Fill ``b`` with the returns of holding the traded asset; their mean and spread.

    The benchmark's equity is the fast path's buy-and-hold, ``close_t / close_0 * start``,
    rescaled to start at 1 as `quantkit.metrics.benchmark.buy_and_hold` does (``b`` has one
    value fewer than ``close``). Returns the mean of ``b - rf`` and the sum of the squares
    about it (`metrics.benchmark` asks for both): a sweep computes them once for every run.
    """
    before = 1.0
    for k in range(b.size):
        hold = close[k + 1] / close[0] * start / start
        b[k] = hold / before - 1.0
        before = hold
    mean = _mean(b, rf)
    spread = 0.0
    for k in range(b.size):
        spread += (b[k] - rf - mean) ** 2
    return mean, spread


@_jit
def _alive(equity: Any) -> bool:
    """Whether the returns are defined: no ruin (a value <= 0), at least two values."""
    for k in range(equity.size):
        if equity[k] <= 0:
            return False
    return bool(equity.size >= 2)


@_jit
def reduce_into(
    equity: Any, exposed: Any, trades: Any, open_time: Any, close_time: Any, close: Any,
    ppy: float, fees: float, risk_free: float, bench: Any, work: Any, out: Any,
) -> None:  # fmt: skip
    """`reduce_stats` with its scratch given, and the benchmark's returns computed already.

    Args:
        equity: As `reduce_stats` (the first nine arguments are its, but for the fills:
            ``out``'s ambiguous-fill slot is left NaN for the caller).
        exposed: See `reduce_stats`.
        trades: See `reduce_stats`.
        open_time: See `reduce_stats`.
        close_time: See `reduce_stats`.
        close: See `reduce_stats`.
        ppy: See `reduce_stats`.
        fees: See `reduce_stats`.
        risk_free: See `reduce_stats`.
        bench: ``[start, rf, mean, spread, b_0, b_1, ...]``: `benchmark_returns` of ``close``
            from ``start`` and per-bar rate ``rf``; used when these are this run's (its first
            equity, its rate), else the benchmark is computed into ``work[2]``.
        work: Float64 scratch of shape ``(3, len(equity))``, overwritten.
        out: As `reduce_stats`.
    """
    for k in range(out.size):
        out[k] = math.nan
    n = equity.size
    out[_t._BARS], out[_t._START], out[_t._FINAL] = n, equity[0], equity[n - 1]
    out[_t._TOTAL] = 100.0 * (equity[n - 1] / equity[0] - 1.0)
    years = (close_time[n - 1] - close_time[0]) / _t._NS_PER_YEAR
    out[_t._CAGR] = 100.0 * _growth(equity[0], equity[n - 1], years)
    equity_sum = _drawdown_rows(equity, close_time, years, out)
    out[_t._AMBIGUOUS_TRADES] = 0.0
    _trade_rows(trades, open_time, equity_sum / n, years, out)
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
    if not _alive(equity):
        return
    r, b = work[0, : n - 1], work[2, :0]
    rf = math.expm1(math.log1p(risk_free) / ppy)
    b_mean = b_spread = math.nan
    if close.size and n - 1 >= 2 and math.isfinite(ppy):  # the benchmark rows
        if bench.size == n + 3 and bench[0] == equity[0] and bench[1] == rf:
            b, b_mean, b_spread = bench[4:], bench[2], bench[3]
        else:
            b = work[2, : n - 1]
            b_mean, b_spread = benchmark_returns(close, equity[0], rf, b)
    sums = _first_sums(equity, r, b, rf)
    _returns_rows(r, sums, b, b_mean, b_spread, ppy, rf, out)
    _tail_rows(r, work[1], out)


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
    work = np.empty((3, equity.size))
    reduce_into(equity, exposed, trades, open_time, close_time, close, ppy, fees, risk_free,
                np.empty(0), work, out)  # fmt: skip
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
