"""The 2-D sweep kernel: every combination of a sweep in one compiled call, statistics inside.

A sweep over one symbol is a block of runs that share the bars and differ in their signals and
settings (one `layout.PARAM_DTYPE` record each). `sweep_signals` takes the signals as 2-D
boolean arrays (one row per combination, for any `SignalStrategy`); `sweep_sma` takes a table
of moving averages (each distinct window once) and makes each combination's crossover signals
itself, so the built-in `SmaCrossSignals` needs no Python per combination. Both run the
combinations in parallel (numba ``prange``), each through the very bar loop of `simulate`
(`kernel.run_bars`), and reduce each run to its statistics vector inside the call: nothing the
size of the bars survives a combination, so memory does not grow with the number of
combinations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
from numba.extending import register_jitable

from quantkit.vector.kernel import run_bars
from quantkit.vector.kernel_book import state_records
from quantkit.vector.layout import FILL_COLUMNS, TRADE_COLUMNS
from quantkit.vector.stats_kernel import STAT_NAMES, benchmark_returns, reduce_into

__all__ = ["STAT_NAMES", "run_one", "sweep_signals", "sweep_sma", "threads"]

# The slot the reduction fills from the fill table, which a sweep does not keep.
_AMBIGUOUS_FILLS = STAT_NAMES.index("Ambiguous fills")


@contextmanager
def threads(count: int) -> Iterator[None]:
    """Run the sweep kernels of this thread on at most ``count`` threads.

    Combinations are handed out one at a time (chunk size 1): their costs differ (a fast
    crossover trades far more often than a slow one), so equal static shares would leave a
    thread idle while another finishes.
    """
    before, chunks = numba.get_num_threads(), numba.get_parallel_chunksize()
    limit: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(min(count, limit))
    numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
        numba.set_parallel_chunksize(chunks)


@numba.njit(cache=True, nogil=True)
def _benchmark(benchmark: np.ndarray, params: np.ndarray, ppy: float) -> np.ndarray:
    """The buy-and-hold returns every combination shares, for the first one's cash.

    ``[start, rf, mean, spread, returns...]`` as `stats_kernel.reduce_into` takes it (a run that
    starts from other equity gets its own); empty when there is no benchmark.
    """
    if benchmark.size < 3 or not math.isfinite(ppy) or len(params) == 0:
        return np.empty(0)
    bench = np.empty(benchmark.size + 3)
    start = params[0].cash
    bench[0], bench[1] = start, 0.0  # a sweep's risk-free rate is 0
    bench[2], bench[3] = benchmark_returns(benchmark, start, 0.0, bench[4:])
    return bench


@numba.njit(cache=True, nogil=True)
def run_one(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    p: Any,
    s: Any,
    times: tuple[np.ndarray, np.ndarray],
    benchmark: np.ndarray,
    bench: np.ndarray,
    ppy: float,
    out: np.ndarray,
) -> None:
    """One combination: the bar loop of `simulate`, then its statistics into ``out``.

    A compiled function of its own, called by both parallel kernels: compiled (and cached)
    once for both, and outside numba's parallel passes, which a ``parallel=True`` function
    otherwise runs over everything it calls (a cold first sweep compiled in about 25 s of CPU
    time instead of 37 s, measured on a loaded machine).

    The fill table is not kept (zero rows: the state counts the fills); the trade table, the
    equity and the statistics' scratch live only as long as this call (allocating them per
    combination measured no slower than reusing per-thread buffers: the allocator reuses them).
    """
    bars = len(close)
    equity = np.empty(bars)
    exposed = np.empty(bars, np.bool_)
    trades = np.empty((bars + 1, len(TRADE_COLUMNS)))
    fills = np.empty((0, len(FILL_COLUMNS)))  # not kept: the state counts the fills
    paths = state_records(2)  # the two intrabar paths' copies of the state
    run_bars(s, paths[0], paths[1], p, open_, high, low, close, entries, exits, short_entries,
             short_exits, fills, trades, equity, exposed)  # fmt: skip
    reduce_into(equity, exposed, trades[: s.n_trades], times[0], times[1], benchmark, ppy,
                s.fees_paid, 0.0, bench, np.empty((3, bars)), out)  # fmt: skip
    out[_AMBIGUOUS_FILLS] = s.ambiguous_fills


@numba.njit(cache=True, nogil=True, parallel=True)
def sweep_signals(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    params: np.ndarray,
    states: np.ndarray,
    open_time: np.ndarray,
    close_time: np.ndarray,
    benchmark: np.ndarray,
    ppy: float,
    stats: np.ndarray,
) -> None:
    """Run a block of combinations whose signals are given, one row each.

    Args:
        open_: Open prices (the symbol's bars; shared by every combination).
        high: High prices.
        low: Low prices.
        close: Close prices.
        entries: ``(combinations, bars)`` booleans; row ``k`` is combination ``k``'s.
        exits: Same shape.
        short_entries: Same shape.
        short_exits: Same shape.
        params: One `layout.PARAM_DTYPE` record per combination.
        states: One `layout.STATE_DTYPE` record per combination, from `layout.new_states`;
            left holding each run's end state (counts, fees, rejections).
        open_time: Bar open times (ns).
        close_time: Bar close times (ns).
        benchmark: Closes for the buy-and-hold rows; empty for none.
        ppy: Bars per year.
        stats: Output, ``(combinations, len(STAT_NAMES))``.
    """
    bench = _benchmark(benchmark, params, ppy)
    for k in numba.prange(len(params)):
        run_one(
            open_, high, low, close, entries[k], exits[k], short_entries[k], short_exits[k],
            params[k], states[k], (open_time, close_time), benchmark, bench, ppy, stats[k],
        )  # fmt: skip


@register_jitable
def _crossings(fast: np.ndarray, slow: np.ndarray, up: np.ndarray, down: np.ndarray) -> None:
    """`crossover_signal` of two averages, written into ``up`` and ``down``.

    A cross up at bar ``i`` needs ``fast <= slow`` at ``i - 1`` and ``fast > slow`` at ``i``
    (a cross down mirrors it); NaN compares false, so gives none.
    """
    up[0] = down[0] = False
    for i in range(1, len(fast)):
        before_f, before_s, now_f, now_s = fast[i - 1], slow[i - 1], fast[i], slow[i]
        up[i] = before_f <= before_s and now_f > now_s
        down[i] = before_f >= before_s and now_f < now_s


@numba.njit(cache=True, nogil=True, parallel=True)
def sweep_sma(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    averages: np.ndarray,
    fast_rows: np.ndarray,
    slow_rows: np.ndarray,
    short: np.ndarray,
    params: np.ndarray,
    states: np.ndarray,
    open_time: np.ndarray,
    close_time: np.ndarray,
    benchmark: np.ndarray,
    ppy: float,
    stats: np.ndarray,
) -> None:
    """Run a block of moving-average crossover combinations (`SmaCrossSignals`).

    Combination ``k`` crosses ``averages[fast_rows[k]]`` with ``averages[slow_rows[k]]``: a
    cross up enters long, a cross down exits; with ``short[k]`` a cross down also enters short
    and a cross up exits it. The other arguments are those of `sweep_signals`.
    """
    bars = len(close)
    bench = _benchmark(benchmark, params, ppy)
    quiet = np.zeros(bars, np.bool_)
    for k in numba.prange(len(params)):
        up = np.empty(bars, np.bool_)
        down = np.empty(bars, np.bool_)
        _crossings(averages[fast_rows[k]], averages[slow_rows[k]], up, down)
        short_entries = down if short[k] else quiet
        short_exits = up if short[k] else quiet
        run_one(
            open_, high, low, close, up, down, short_entries, short_exits, params[k], states[k],
            (open_time, close_time), benchmark, bench, ppy, stats[k],
        )  # fmt: skip
