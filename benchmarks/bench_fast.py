"""Benchmark: the fast path (compiled simulator) on the core benchmark's bars.

Workload: the 1,000,000 one-minute GBM bars of ``bench_backtest.py``; SMA 10/30 crossover as a
`SignalStrategy`, all cash per entry, 0.1 % fee per side, 100,000 starting cash.

1. One run through ``run_signals``: bars per second. The first call in a fresh process includes
   numba's compilation, or loading the compiled code from numba's cache (``cache=True``); a
   second process shows the cached start. Then the same for a first small sweep (its kernels
   compile on their own: they share no compiled code with ``simulate``), with its CPU time
   (less sensitive to load).
2. A 100-combination sweep (fast 5..50 step 5, slow 20..200 step 20) over the same bars, and a
   1,000-combination one (fast 4..42 step 2, slow 50..295 step 5), each in a fresh process
   (compiled code from numba's cache): seconds, combination-bars per second, the ratio to
   vectorbt's ``from_signals`` figure in PEERS, and the process's peak memory (max RSS).

Run: ``python benchmarks/bench_fast.py [bars]`` (``--sweep N`` runs one sweep of about N
combinations and prints ``seconds peak_bytes rows cpu_seconds``).
"""

from __future__ import annotations

import os
import resource
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


VECTORBT_COMBO_BARS_PER_S = 2.96e6  # PEERS: from_signals, 100 columns, naive index

GRIDS = {
    100: {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))},
    1000: {"fast": list(range(4, 44, 2)), "slow": list(range(50, 300, 5))},
}


def sweep_child(size: int) -> None:
    """Child process: one sweep of the grid of ``size`` combinations; seconds, peak, rows."""
    from quantkit import Market
    from quantkit.vector import sweep

    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    sweep(_strategy_class(), series, {"fast": [5], "slow": [20]}, market=market)  # load
    start, cpu = time.perf_counter(), time.process_time()
    table = sweep(_strategy_class(), series, GRIDS[size], market=market)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(table.columns) > 50  # the parameters, the symbol and every statistic
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{seconds:.3f} {peak} {len(table)} {cpu:.3f}")


def sweeps() -> list[str]:
    """The 100- and 1,000-combination sweeps, each in a fresh process."""
    lines = []
    for size in GRIDS:
        me = [sys.executable, __file__, str(BARS), "--sweep", str(size)]
        seconds, peak, rows, cpu = subprocess.check_output(me, text=True).split()
        speed = int(rows) * BARS / float(seconds)
        lines.append(
            f"sweep: {rows} combinations x {BARS:,} bars in {float(seconds):.2f} s = "
            f"{speed / 1e6:.1f}M combo-bars/s ({speed / VECTORBT_COMBO_BARS_PER_S:.1f}x "
            f"vectorbt's figure); CPU time {float(cpu):.2f} s (all threads); peak memory "
            f"{int(peak) / 2**30:.2f} GB"
        )
    return lines


def first_call() -> None:
    """Child process: time the first run (compile or cache load) and a second one."""
    from quantkit import Market
    from quantkit.vector import run_signals
    from quantkit.vector.strategy import SmaCrossSignals

    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    timings = []
    cpu = time.process_time()
    for _ in range(2):
        start = time.perf_counter()
        run_signals(SmaCrossSignals(fast=10, slow=30), series, market=market)
        timings.append(time.perf_counter() - start)
        if len(timings) == 1:
            cpu = time.process_time() - cpu
    print(f"{timings[0]:.3f} {timings[1]:.3f} {cpu:.3f}")


def first_sweep() -> None:
    """Child process: time a first small sweep (compiling or loading the sweep kernels)."""
    from quantkit import Market
    from quantkit.vector import sweep

    series = gbm_series(BARS)
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    start, cpu = time.perf_counter(), time.process_time()
    sweep(_strategy_class(), series, {"fast": [5, 10], "slow": [20]}, market=market)
    print(f"{time.perf_counter() - start:.3f} {time.process_time() - cpu:.3f}")


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
    from quantkit.vector import run_signals
    from quantkit.vector.strategy import SmaCrossSignals

    me = [sys.executable, __file__, str(BARS), "--first-call"]
    sweep_me = [sys.executable, __file__, str(BARS), "--first-sweep"]
    with tempfile.TemporaryDirectory() as cache:  # an empty numba cache: the first compiles
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = subprocess.check_output(me, text=True, env=env).split()
        warm = subprocess.check_output(me, text=True, env=env).split()
        cold_sweep = subprocess.check_output(sweep_me, text=True, env=env).split()
        warm_sweep = subprocess.check_output(sweep_me, text=True, env=env).split()
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
    print(f"bars: {BARS:,}; trades in the SMA 10/30 run: {result.stats['Trades']}")
    print(f"first call, empty numba cache (compiles):   {float(cold[0]):.2f} s ({cold[2]} s CPU)")
    print(f"first call, second process (cache=True):    {float(warm[0]):.2f} s ({warm[2]} s CPU)")
    print(f"second call in the same process:            {float(cold[1]):.2f} s")
    print(
        f"first sweep, sweep kernels not cached (compiles them): {float(cold_sweep[0]):.2f} s"
        f" ({float(cold_sweep[1]):.2f} s CPU); next process: {float(warm_sweep[0]):.2f} s"
        f" ({float(warm_sweep[1]):.2f} s CPU)"
    )
    print(f"single run (median of 3, signals + check + kernel + tables + stats): {run_time:.3f} s")
    print(f"  = {BARS / run_time / 1e6:.2f}M bars/s")
    print(f"  of which the compiled simulator alone: {kernel_time * 1e3:.1f} ms")
    print(f"  = {BARS / kernel_time / 1e6:.1f}M bars/s (the rest: signals, tables, stats)")
    print(
        f"single run, limit entries + stop-loss + trailing stop: {limit_time:.3f} s "
        f"({limit_result.stats['Trades']} trades)"
    )
    for line in sweeps():
        print(line)
    print(PEERS)


if __name__ == "__main__":
    if "--first-call" in sys.argv:
        first_call()
    elif "--first-sweep" in sys.argv:
        first_sweep()
    elif "--sweep" in sys.argv:
        sweep_child(int(sys.argv[sys.argv.index("--sweep") + 1]))
    else:
        main()
