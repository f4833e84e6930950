"""The statistics vector of one fast-path run from whole-array numpy: nothing to compile.

`numpy_stats_vector` returns the vector of `quantkit.vector.stats_table` (what
`quantkit.vector.stats_kernel.reduce_stats` computes in compiled code) with the array helpers of
`quantkit.metrics` themselves (drawdown values and spells, growth rate, ratios, moments), so
its figures are `compute_stats`'s own arithmetic without a pandas object. `run_signals` uses it:
one run needs no compiled statistics, and a cold numba cache then compiles only the simulator.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from quantkit.metrics.returns import _growth_rate, _per_period_rate, _ratio
from quantkit.vector import stats_table as _t
from quantkit.vector.stats_table import STAT_NAMES, RunArrays, run_arrays

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["numpy_stats_vector"]


def numpy_stats_vector(
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

    The arguments are those of `quantkit.vector.stats_table.run_arrays`, which checks them;
    the result equals `quantkit.vector.stats_kernel.stats_vector`'s to float rounding.

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
    out = np.full(len(STAT_NAMES), math.nan)
    e = run.equity
    start, final = float(e[0]), float(e[-1])
    out[_t._BARS], out[_t._START], out[_t._FINAL] = e.size, start, final
    out[_t._TOTAL] = 100.0 * (final / start - 1.0)
    years = int(run.close_time[-1] - run.close_time[0]) / _t._NS_PER_YEAR
    out[_t._CAGR] = 100.0 * _growth_rate(start, final, years)
    _drawdown_rows(run, years, out)
    _trade_rows(run, years, out)
    out[_t._EXPOSURE] = 100.0 * float(run.exposed.mean()) if run.exposed.size else 0.0
    out[_t._FEES] = run.fees
    net = final - start
    gross = net + run.fees
    out[_t._GROSS] = gross
    out[_t._FEES_GROSS] = 100.0 * run.fees / abs(gross) if gross else math.nan
    out[_t._FEES_NET] = 100.0 * run.fees / abs(net) if net else math.nan
    out[_t._AMBIGUOUS_FILLS] = np.count_nonzero(run.fills[:, _t._F_AMBIGUOUS])
    if run.close.size:
        out[_t._HOLD] = 100.0 * (float(run.close[-1]) / float(run.close[0]) - 1.0)
    if e.size >= 2 and float(np.min(e)) > 0:  # the returns are defined: no ruin, at least one
        r = np.divide(e[1:], e[:-1])
        r -= 1.0
        scratch = np.empty(r.size)  # one temporary, reused: page faults cost more than math
        rf = _per_period_rate(run.risk_free, run.ppy, "risk_free")
        _returns_rows(r, run.ppy, rf, scratch, out)
        if run.close.size and r.size >= 2:
            _benchmark_rows(r, run.close, run.ppy, rf, scratch, out)
        _distribution_rows(r, scratch, out)
    return out


def _drawdown_rows(run: RunArrays, years: float, out: FloatArray) -> None:
    """Max drawdown, the deepest and the longest spells, Calmar and Ulcer.

    The definitions of `quantkit.metrics.drawdowns` (a spell: bars more than one part in
    10**12 below the running peak) from one running maximum and one flag per bar.
    """
    e = run.equity
    n = e.size
    peaks = np.maximum.accumulate(e)
    depths = np.divide(e, peaks)
    depths -= 1.0
    deepest_at = int(np.argmin(depths))
    deepest = float(depths[deepest_at])
    out[_t._MAX_DD] = 100.0 * deepest
    below = e < np.multiply(peaks, 1.0 - _t._NOISE, out=peaks)
    changes = np.flatnonzero(below[1:] != below[:-1]) + 1  # bar 0 is its own peak: not below
    out[_t._ULCER] = 100.0 * math.sqrt(float(np.sum(np.multiply(depths, depths, out=depths))) / n)
    if not changes.size:
        return
    firsts, recoveries = changes[0::2], changes[1::2]  # a spell's first bar, first bar back
    ends = np.append(recoveries, n - 1) if firsts.size > recoveries.size else recoveries
    longest = int(np.argmax(run.close_time[ends] - run.close_time[firsts - 1]))
    out[_t._LONG_FROM], out[_t._LONG_TO] = firsts[longest] - 1, ends[longest]
    spell = int(np.searchsorted(firsts, deepest_at, side="right")) - 1
    out[_t._PEAK], out[_t._TROUGH] = firsts[spell] - 1, deepest_at
    out[_t._RECOVERY] = recoveries[spell] if spell < recoveries.size else -1.0
    out[_t._CALMAR] = _growth_rate(float(e[0]), float(e[-1]), years) / abs(deepest)


def _trade_rows(run: RunArrays, years: float, out: FloatArray) -> None:
    """Trade figures from the simulator's table, pnl as the fast path's trades frame has it."""
    t = run.trades
    count = t.shape[0]
    out[_t._TRADES] = count
    out[_t._AMBIGUOUS_TRADES] = np.count_nonzero(t[:, _t._T_AMBIGUOUS])
    with np.errstate(invalid="ignore", divide="ignore"):
        entry_price = t[:, _t._T_ENTRY_VALUE] / t[:, _t._T_ENTRY_AMOUNT]
        exit_price = t[:, _t._T_EXIT_VALUE] / t[:, _t._T_EXIT_AMOUNT]
        closed = np.minimum(t[:, _t._T_EXIT_AMOUNT], t[:, _t._T_ENTRY_AMOUNT])
        pnl = t[:, _t._T_DIRECTION] * (t[:, _t._T_EXIT_VALUE] - entry_price * closed)
        pnl = pnl - t[:, _t._T_FEES]
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gains, lost = float(wins.sum()), -float(losses.sum())
    if lost > 0:
        out[_t._PROFIT_FACTOR] = gains / lost
    elif gains > 0:
        out[_t._PROFIT_FACTOR] = math.inf
    if wins.size:
        out[_t._AVG_WIN] = float(np.mean(wins))
    if losses.size:
        out[_t._AVG_LOSS] = float(np.mean(losses))
    out[_t._PAYOFF] = out[_t._AVG_WIN] / abs(out[_t._AVG_LOSS])
    average = float(np.mean(run.equity))
    if years > 0 and average > 0:
        notional = float(np.sum(np.abs(t[:, _t._T_SIZE]) * (entry_price + exit_price)))
        out[_t._TURNOVER] = notional / average / years
    if not count:
        return
    out[_t._WIN_RATE] = 100.0 * wins.size / count
    out[_t._EXPECTANCY] = float(np.mean(pnl))
    out[_t._BEST], out[_t._WORST] = float(np.max(pnl)), float(np.min(pnl))
    bars = t[:, [_t._T_ENTRY_BAR, _t._T_EXIT_BAR]].astype(np.int64)
    held = run.open_time[bars[:, 1]] - run.open_time[bars[:, 0]]
    out[_t._HOLDING] = float(np.mean(held))


def _std(x: FloatArray, ddof: int, scratch: FloatArray) -> tuple[float, float]:
    """``mean(x)`` and ``std(x, ddof=ddof)``, numpy's own arithmetic, in ``scratch``."""
    mean = float(np.mean(x))
    return mean, math.sqrt(_sum_of_squares(np.subtract(x, mean, out=scratch)) / (x.size - ddof))


def _sum_of_squares(x: FloatArray) -> float:
    """``sum(x * x)`` with numpy's pairwise sum (as ``np.std``), squaring ``x`` in place."""
    return float(np.sum(np.multiply(x, x, out=x)))


def _returns_rows(
    r: FloatArray, ppy: float, rf: float, scratch: FloatArray, out: FloatArray
) -> None:
    """Volatility, Sharpe, Sortino and Omega of the returns (``x = r - rf``)."""
    root = math.sqrt(ppy)
    mean = float(np.mean(r))
    if r.size >= 2:
        std = _std(r, 1, scratch)[1]  # the deviations of x = r - rf are those of r
        out[_t._VOL] = 100.0 * std * root
        out[_t._SHARPE] = _ratio(mean - rf, std) * root
    np.subtract(r, rf, out=scratch)
    downside = math.sqrt(_sum_of_squares(np.minimum(scratch, 0.0, out=scratch)) / r.size)
    out[_t._SORTINO] = _ratio(mean - rf, downside) * root
    gains = float(np.sum(np.maximum(r, 0.0, out=scratch)))
    losses = -float(np.sum(np.minimum(r, 0.0, out=scratch)))
    out[_t._OMEGA] = gains / losses if losses > 0 else math.nan


def _distribution_rows(r: FloatArray, scratch: FloatArray, out: FloatArray) -> None:
    """VaR, CVaR, tail ratio (numpy's linear quantiles), skew and excess kurtosis.

    Reorders ``r`` (a partition for the quantiles), so it runs last.
    """
    n = r.size
    mean = float(np.mean(r))
    np.subtract(r, mean, out=scratch)
    squares = scratch * scratch  # one more temporary
    m2 = float(np.sum(squares)) / n
    if math.sqrt(m2) > _t._ZERO:
        m3 = float(np.sum(np.multiply(squares, scratch, out=scratch))) / n
        m4 = _sum_of_squares(squares) / n
        if n >= 3:
            out[_t._SKEW] = math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5)
        if n >= 4:
            g2 = m4 / m2**2 - 3.0
            out[_t._KURT] = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    low, high, cutoff = _quantiles(r, (0.05, 0.95, _t._VAR_Q))
    out[_t._VAR] = 100.0 * cutoff
    tail = r[r <= cutoff]
    out[_t._CVAR] = 100.0 * float(np.mean(tail, dtype=np.float64))
    out[_t._TAIL] = abs(high) / abs(low) if low != 0 else math.nan


def _quantiles(r: FloatArray, qs: tuple[float, ...]) -> list[float]:
    """Return numpy's linear quantiles (its ``_lerp``), from one in-place partition of ``r``."""
    size = r.size
    positions = [(size - 1) * q for q in qs]
    ranks = sorted({min(math.floor(p) + k, size - 1) for p in positions for k in (0, 1)})
    r.partition(ranks)
    values = []
    for position in positions:
        below = math.floor(position)
        a, b = float(r[below]), float(r[min(below + 1, size - 1)])
        gamma = position - below
        values.append(b - (b - a) * (1.0 - gamma) if gamma >= 0.5 else a + (b - a) * gamma)
    return values


def _benchmark_rows(
    r: FloatArray, close: FloatArray, ppy: float, rf: float, scratch: FloatArray, out: FloatArray
) -> None:
    """Alpha, beta and information ratio against holding the asset from the first close.

    ``beta = cov(x, y) / var(y)`` of the excess returns ``x = r - rf``, ``y = b - rf`` is
    computed on deviations from the means, where ``rf`` cancels.
    """
    hold = close / close[0]  # buy_and_hold: the benchmark's equity from 1
    b = np.divide(hold[1:], hold[:-1], out=hold[1:])
    b -= 1.0
    mean_r, mean_b = float(np.mean(r)), float(np.mean(b))
    np.subtract(b, mean_b, out=b)  # b now holds its deviations
    spread = float(np.sum(np.multiply(b, b, out=scratch)))
    if math.sqrt(spread / b.size) > _t._ZERO:
        np.subtract(r, mean_r, out=scratch)
        beta = float(np.sum(np.multiply(scratch, b, out=scratch))) / spread
        intercept = (mean_r - rf) - beta * (mean_b - rf)
        out[_t._BETA] = beta
        try:
            out[_t._ALPHA] = 100.0 * ((1.0 + intercept) ** ppy - 1.0)
        except OverflowError:
            out[_t._ALPHA] = math.inf
    b += mean_b  # the benchmark's returns again
    np.subtract(r, b, out=b)  # the active returns
    out[_t._INFO] = _ratio(*_std(b, 1, scratch)) * math.sqrt(ppy)
