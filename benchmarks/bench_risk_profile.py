"""Profile: where the time of bench_risk.py's five-policy chain goes, call by call.

Two views of the same workload (the SMA-crossover benchmark with the chain of
bench_risk.py):

1. cProfile of one run, the functions with the most own time;
2. the unprofiled cost of each hot risk call on the run's final state, in ns per call
   (the best of 200 short batches, the calls taking turns): the chain's check on an entry
   and an exit, the order-only chain, the breaker's ``on_bar``, and the
   ``context.equity()`` and ``context.now`` it reads on every bar.

The machine may be shared and noisy: compare the per-call figures, run it twice.

Run: ``python benchmarks/bench_risk_profile.py [bars] [rows]``
"""

from __future__ import annotations

import cProfile
import math
import pstats
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import gbm_series
from bench_risk import chain

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
ROWS = int(sys.argv[2]) if len(sys.argv) > 2 else 25


def build(series: Any, risk: Any) -> Any:
    """An engine over ``series`` with the benchmark's market, strategy and ``risk``."""
    from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross

    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    return Engine(
        feed=SeriesFeed(series), strategy=SmaCross(fast=10, slow=30), broker=broker, risk=risk
    )


def per_call(rounds: int = 200, number: int = 300) -> None:
    """Print the unprofiled cost of the hot risk calls, ns per call.

    Each call is timed in ``rounds`` short batches of ``number`` calls, the calls taking turns;
    the best batch counts. Short batches are rarely interrupted on a busy machine, so the best
    one is close to the cost on an idle one.
    """
    from quantkit.domain.order import OrderRequest, Side

    risk = chain()
    engine = build(gbm_series(5_000), risk)
    engine.run()
    names = {
        "chain.check(entry)": "risk.check(entry, context)",
        "chain.check(exit)": "risk.check(exit, context)",
        "orders.check(entry)": "orders.check(entry, context)",
        "breaker.on_bar": "breaker.on_bar(context)",
        "context.equity()": "context.equity()",
        "context.now": "context.now",
    }
    scope = {
        "risk": risk,
        "orders": chain(breaker=False),
        "breaker": risk.policies[-1],
        "context": engine._context,
        "entry": OrderRequest("BTC/USDT", Side.BUY, cost=50_000.0),
        "exit": OrderRequest("BTC/USDT", Side.SELL, amount=0.5),
    }
    best = dict.fromkeys(names, math.inf)
    for _ in range(rounds):
        for label, stmt in names.items():
            batch = timeit.timeit(stmt, number=number, globals=scope) / number
            best[label] = min(best[label], batch)
    for label, seconds in best.items():
        print(f"{label:22s} {seconds * 1e9:8,.0f} ns")


def main() -> None:
    """Profile one run, then time the hot calls one by one."""
    import pandas  # noqa: F401  - keep its import out of the profile
    import talib  # noqa: F401

    engine = build(gbm_series(BARS), chain())
    profile = cProfile.Profile()
    profile.runcall(engine.run)
    pstats.Stats(profile).sort_stats("tottime").print_stats(ROWS)
    per_call()


if __name__ == "__main__":
    main()
