"""Benchmark: the risk chain's overhead in instructions, which a busy machine does not change.

The workload of ``bench_risk.py`` (SMA 10/30 on seeded GBM bars, the five-policy chain with a
per-bar `DailyLossLimit`, and the chain with a fifth order check instead of the breaker) is run
under ``valgrind --tool=callgrind``, one process per variant, ``PYTHONHASHSEED=0``. A ``setup``
variant builds everything and runs nothing; its count is taken from the others, so each
figure is what ``Engine.run()`` (loop and Result) executed. Prints instructions per bar and
the overheads against the run without risk. Needs valgrind on the path; a 100k-bar variant
takes about a minute under it.

Run: ``python benchmarks/bench_risk_instructions.py [bars]``
(one variant alone, as the child: ``python benchmarks/bench_risk_instructions.py BARS VARIANT``)
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
VARIANTS = ("setup", "plain", "chain", "orders")


def child(bars: int, variant: str) -> None:
    """Build the run of ``variant`` and, unless it is ``setup``, run it."""
    import pandas  # noqa: F401  - the same imports in every variant
    import talib  # noqa: F401

    sys.argv[1:] = []  # bench_risk reads its own arguments when imported
    from bench_backtest import gbm_series
    from bench_risk import chain

    from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross

    risk = {"plain": None, "orders": chain(breaker=False)}.get(variant, chain())
    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    engine = Engine(
        feed=SeriesFeed(gbm_series(bars)),
        strategy=SmaCross(fast=10, slow=30),
        broker=broker,
        risk=risk,
    )
    gc.collect()
    if variant != "setup":
        result = engine.run()
        sys.stderr.write(f"trades {int(result.stats['Trades'])}\n")


def count(bars: int, variant: str) -> int:
    """Instructions of one child process of ``variant`` under callgrind."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            str(bars),
            variant,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Count every variant and print the figures."""
    counts = {variant: count(BARS, variant) for variant in VARIANTS}
    base = counts["setup"]
    run = {v: counts[v] - base for v in VARIANTS[1:]}
    print(f"bars                 {BARS:,} (instructions of Engine.run(), setup subtracted)")
    for variant, label in (
        ("plain", "no risk"),
        ("chain", "five-policy chain"),
        ("orders", "five order checks"),
    ):
        overhead = 100 * (run[variant] / run["plain"] - 1)
        print(f"{label:20s} {run[variant] / BARS:10,.0f} per bar  overhead {overhead:6.1f} %")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        child(int(sys.argv[1]), sys.argv[2])
    else:
        main()
