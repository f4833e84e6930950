"""Benchmark: the event engine's cost per order, on the SMA-crossover workload.

Runs `SmaCross` on the GBM bars of ``bench_backtest.py`` and, interleaved with it, a twin that
reads the same signal on every bar but never trades. The difference of the two run times,
divided by the number of orders, is what one order costs end to end: the strategy's order call,
the client id, the simulated exchange's admission, the fill at the next open with its fee and
accounting, and the recording of the order, the fill and the position snapshot.

Times are CPU time of the running thread (``time.thread_time``), which a busy machine disturbs
far less than wall-clock time; the figure printed is the median of the per-round differences.
``engine.run_record()`` is timed (the loop only, no Result tables), with full collections of the
garbage collector deferred as ``Engine.run`` does.

Run: ``python benchmarks/bench_orders.py [bars] [rounds]`` (default 200,000 bars, 5 rounds).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_backtest import gbm_series

from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross
from quantkit.domain.bars import BarSeries
from quantkit.engine.engine import _young_collections_only
from quantkit.strategy.data import SymbolData


class SignalOnly(SmaCross):
    """SmaCross's indicators and signal read on every bar, without any order."""

    def on_bar(self, bar: SymbolData) -> None:
        """Read the signal and do nothing with it."""
        signal = self.signals[bar.symbol][-1]
        if signal > 0.0 or signal < 0.0:
            return


def timed_run(series: BarSeries, kind: type[SmaCross]) -> tuple[float, int, float]:
    """Thread time of one ``run_record``, its number of orders and its final cash."""
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    engine = Engine(feed=SeriesFeed(series), strategy=kind(fast=10, slow=30), broker=broker)
    gc.collect()
    with _young_collections_only():
        start = time.thread_time()
        record = engine.run_record()
        elapsed = time.thread_time() - start
    return elapsed, len(record.orders), record.portfolio.balance


def main() -> None:
    """Print the cost per order and the bars per second of both runs."""
    bars = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    import talib  # noqa: F401 - loaded before the timing, as users have it loaded

    series = gbm_series(bars)
    timed_run(series, SmaCross)  # imports and first-call costs are not the run
    full: list[float] = []
    quiet: list[float] = []
    orders, cash = 0, 0.0
    for _ in range(rounds):
        elapsed, orders, cash = timed_run(series, SmaCross)
        full.append(elapsed)
        quiet.append(timed_run(series, SignalOnly)[0])
    per_order = statistics.median(f - q for f, q in zip(full, quiet, strict=True)) / orders
    run, loop = statistics.median(full), statistics.median(quiet)
    import quantkit

    print(f"quantkit             {Path(quantkit.__file__).parent}")
    print(f"bars                 {bars:,}")
    print(f"orders               {orders:,} (final cash {cash:.6g})")
    print(f"SmaCross run         {run:.3f} s CPU  ->  {bars / run:,.0f} bars/s ({rounds} rounds)")
    print(f"signal-only run      {loop:.3f} s CPU  ->  {bars / loop:,.0f} bars/s")
    print(f"cost per order       {per_order * 1e6:.1f} us (median of the per-round differences)")


if __name__ == "__main__":
    main()
