"""Profile: where the time of bench_risk.py's five-policy chain goes, call by call.

Two views of the same workload (the SMA-crossover benchmark with the chain of
bench_risk.py):

1. cProfile of one run, the functions with the most own time;
2. the unprofiled cost of each hot risk call on the run's final state, in ns per call
   (best of seven repeats): the chain's check on an entry and an exit, the order-only
   chain, the breaker's ``on_bar``, and the ``context.equity()`` and ``context.now`` it
   reads on every bar.

The machine may be shared and noisy: compare the per-call figures, run it twice.

Run: ``python benchmarks/bench_risk_profile.py [bars] [rows]``
"""

from __future__ import annotations

import cProfile
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


def per_call(repeat: int = 7, number: int = 20_000) -> None:
    """Print the unprofiled cost of the hot risk calls, ns per call."""
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
    for label, stmt in names.items():
        best = min(timeit.repeat(stmt, number=number, repeat=repeat, globals=scope)) / number
        print(f"{label:22s} {best * 1e9:8,.0f} ns")


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
