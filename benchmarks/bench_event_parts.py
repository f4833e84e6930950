"""Benchmark: where the event engine's time goes on the 1M-bar SMA-crossover workload.

Three strategies on the bars of ``bench_backtest.py``, interleaved, CPU time of the process
(``time.process_time``: less disturbed than wall time on a shared machine), minimum and median
of the rounds:

- ``Noop``: ``on_bar`` does nothing: the loop itself (cursor, "orders work here" test, the call)
  plus a result without trades;
- ``ReadOnly``: ``SmaCross``'s indicators and its per-bar read ``signals[symbol][-1]``, no order;
- ``SmaCross``: the benchmark itself (19,597 round trips on 1M bars), split into the loop
  (`Engine.run_record`) and building the `Result` (`build_result`).

So ``ReadOnly - Noop`` is the per-bar cost of reading an indicator, ``SmaCross loop - ReadOnly``
roughly the cost of the orders, and ``result`` the tables and statistics.

Run: ``python benchmarks/bench_event_parts.py [bars] [rounds]``
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_backtest import gbm_series

from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross, Strategy
from quantkit.engine.result import build_result
from quantkit.strategy.data import SymbolData

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


class Noop(Strategy):
    """Does nothing on each bar."""

    def on_bar(self, bar: SymbolData) -> None:
        """Nothing."""


class ReadOnly(SmaCross):
    """SmaCross's indicators and per-bar read, without its orders."""

    def on_bar(self, bar: SymbolData) -> None:
        """Read the signal; never trade."""
        signal = self.signals[bar.symbol][-1]
        if signal > 2.0:  # never: the signal is -1, 0 or 1
            raise AssertionError(signal)


def _engine(series, strategy: Strategy) -> Engine:  # type: ignore[no-untyped-def]
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    return Engine(feed=SeriesFeed(series), strategy=strategy, broker=broker)


def _timed_run(series, strategy: Strategy) -> float:  # type: ignore[no-untyped-def]
    engine = _engine(series, strategy)
    gc.collect()
    start = time.process_time()
    engine.run()
    return time.process_time() - start


def _timed_parts(series) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    engine = _engine(series, SmaCross(fast=10, slow=30))
    gc.collect()
    start = time.process_time()
    record = engine.run_record()
    loop = time.process_time() - start
    start = time.process_time()
    build_result(record)
    return loop, time.process_time() - start


def main() -> None:
    import pandas  # noqa: F401  - users have pandas loaded; keep its import out of the timing
    import talib  # noqa: F401

    series = gbm_series(BARS)
    times: dict[str, list[float]] = {"Noop": [], "ReadOnly": [], "SmaCross loop": [], "result": []}
    for _ in range(ROUNDS):
        times["Noop"].append(_timed_run(series, Noop()))
        times["ReadOnly"].append(_timed_run(series, ReadOnly(fast=10, slow=30)))
        loop, result = _timed_parts(series)
        times["SmaCross loop"].append(loop)
        times["result"].append(result)
    print(f"bars {BARS:,}, {ROUNDS} interleaved rounds, CPU seconds (min / median)")
    for name, values in times.items():
        low, mid = min(values), statistics.median(values)
        print(f"{name:15s} {low:7.3f} / {mid:7.3f} s  ({BARS / low:>12,.0f} bars/s at the min)")
    total = [a + b for a, b in zip(times["SmaCross loop"], times["result"], strict=True)]
    print(f"{'SmaCross total':15s} {min(total):7.3f} / {statistics.median(total):7.3f} s")


if __name__ == "__main__":
    main()
