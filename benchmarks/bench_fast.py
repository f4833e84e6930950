"""Benchmark: the fast path (compiled simulator) on the core benchmark's bars.

Workload: the 1,000,000 one-minute GBM bars of ``bench_backtest.py``; SMA 10/30 crossover as a
`SignalStrategy`, all cash per entry, 0.1 % fee per side, 100,000 starting cash.

1. One run through ``run_signals``: bars per second. The first call in a fresh process includes
   numba's compilation, or loading the compiled code from numba's cache (``cache=True``); a
   second process shows the cached start.
2. A 100-combination sweep (fast 5..50 step 5, slow 20..200 step 20) over the same bars:
   combination-bars per second.

Run: ``python benchmarks/bench_fast.py [bars]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotated_types import Ge
from bench_backtest import gbm_series

BARS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000

PEERS = """\
Peer figures (same workload, measured for issue #6):
  vectorbt Portfolio.from_signals, 100 columns: 2.96M combo-bars/s (naive index), 2.11M (UTC)
  vectorbt single run: 4.8M bars/s; first call 5.3 s (numba compilation)
  backtesting.py optimize on 2 processes: 0.32M combo-bars/s"""


def _strategy_class():  # type: ignore[no-untyped-def]
    from quantkit.vector.strategy import SmaCrossSignals

    class AnyCross(SmaCrossSignals):
        """The crossover without the fast < slow rule: the grid has fast >= slow columns too."""

        fast: Annotated[int, Ge(2)] = 10
        slow: Annotated[int, Ge(2)] = 30

        def validate_params(self) -> None:
            """Accept every pair, as the peers' grids do."""

    return AnyCross


def first_call() -> None:
    """Child process: time the first run (compile or cache load) and a second one."""
    from quantkit import Market
    from quantkit.vector import run_signals
    from quantkit.vector.strategy import SmaCrossSignals

    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        run_signals(SmaCrossSignals(fast=10, slow=30), series, market=market)
        timings.append(time.perf_counter() - start)
    print(f"{timings[0]:.3f} {timings[1]:.3f}")


def _kernel_only(series, result, market) -> float:  # type: ignore[no-untyped-def]
    """Median time of the compiled simulator alone on the run's signals."""
    import numpy as np

    from quantkit.vector import FastSettings, kernel

    signals = result.signals
    params = FastSettings(market=market).params(series.symbol, signals)
    bars = len(series)
    timings = []
    for _ in range(5):
        fills = np.empty((3 * bars + 3, len(kernel.FILL_COLUMNS)))
        trades = np.zeros((bars + 1, len(kernel.TRADE_COLUMNS)))
        equity, exposed = np.empty(bars), np.empty(bars, np.bool_)
        start = time.perf_counter()
        kernel.simulate(
            series.open, series.high, series.low, series.close, signals.entries,
            signals.exits, signals.short_entries, signals.short_exits, params, fills, trades,
            equity, exposed,
        )  # fmt: skip
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    import pandas  # noqa: F401 - users have pandas loaded; keep its import out of the timing
    import talib  # noqa: F401

    from quantkit import Market
    from quantkit.vector import run_signals, sweep
    from quantkit.vector.strategy import SmaCrossSignals

    me = [sys.executable, __file__, str(BARS), "--first-call"]
    with tempfile.TemporaryDirectory() as cache:  # an empty numba cache: the first compiles
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = subprocess.check_output(me, text=True, env=env).split()
        warm = subprocess.check_output(me, text=True, env=env).split()
    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    runs = []
    result = None
    for _ in range(3):
        start = time.perf_counter()
        result = run_signals(SmaCrossSignals(fast=10, slow=30), series, market=market)
        runs.append(time.perf_counter() - start)
    run_time = statistics.median(runs)
    assert result is not None
    kernel_time = _kernel_only(series, result, market)
    # the same crossover with limit entries, a stop-loss and a trailing stop
    orders = SmaCrossSignals(
        fast=10, slow=30, entry_type="limit", entry_offset=0.001, entry_valid_bars=5,
        sl_pct=0.02, trail_pct=0.01,
    )  # fmt: skip
    limit_runs = []
    for _ in range(3):
        start = time.perf_counter()
        limit_result = run_signals(orders, series, market=market)
        limit_runs.append(time.perf_counter() - start)
    limit_time = statistics.median(limit_runs)
    grid = {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))}
    start = time.perf_counter()
    table = sweep(_strategy_class(), series, grid, market=market)
    sweep_time = time.perf_counter() - start
    start = time.perf_counter()
    sweep(_strategy_class(), series, grid, market=market, check_causal=False)
    unchecked_time = time.perf_counter() - start
    combos = len(table)
    print(f"bars: {BARS:,}; trades in the SMA 10/30 run: {result.stats['Trades']}")
    print(f"first call, empty numba cache (compiles):   {float(cold[0]):.2f} s")
    print(f"first call, second process (cache=True):    {float(warm[0]):.2f} s")
    print(f"second call in the same process:            {float(cold[1]):.2f} s")
    print(f"single run (median of 3, signals + check + kernel + tables + stats): {run_time:.3f} s")
    print(f"  = {BARS / run_time / 1e6:.2f}M bars/s")
    print(f"  of which the compiled simulator alone: {kernel_time * 1e3:.1f} ms")
    print(f"  = {BARS / kernel_time / 1e6:.1f}M bars/s (the rest: signals, tables, stats)")
    print(
        f"single run, limit entries + stop-loss + trailing stop: {limit_time:.3f} s "
        f"({limit_result.stats['Trades']} trades)"
    )
    print(f"sweep: {combos} combinations x {BARS:,} bars in {sweep_time:.2f} s")
    print(f"  = {combos * BARS / sweep_time / 1e6:.2f}M combo-bars/s (look-ahead check on)")
    print(f"  = {combos * BARS / unchecked_time / 1e6:.2f}M combo-bars/s (check_causal=False)")
    print(PEERS)


if __name__ == "__main__":
    if "--first-call" in sys.argv:
        first_call()
    else:
        main()
