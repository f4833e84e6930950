"""Benchmark: what a chain of five risk policies adds to the core SMA-crossover backtest.

Workload (issue #5): the core benchmark (1,000,000 one-minute GBM bars, SMA 10/30, cost-sized
entries, 0.1 % fee per side; see bench_backtest.py) run without risk and with a chain of five
policies set so that they approve the benchmark's orders (the measure is their cost, not what
they refuse): `SaneOrder`, `MaxOrderNotional`, `MaxGrossExposure`, `MaxPositionSize` and a
`DailyLossLimit` (the breaker also reads the account on every bar). Prints the median of
``repeats`` (default three) runs of each, interleaved so that a shared machine's changing
load hits the three alike, and the overheads, by wall time and by the process's CPU time
(steadier on a busy machine). Target: no more than about 20 %.

Run: ``python benchmarks/bench_risk.py [bars] [repeats]``
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import gbm_series

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def chain(breaker: bool = True):  # type: ignore[no-untyped-def]
    from quantkit import MaxPositionSize, RiskChain
    from quantkit.risk.breakers import DailyLossLimit
    from quantkit.risk.exposure import MaxGrossExposure
    from quantkit.risk.order_limits import MaxOrderNotional
    from quantkit.risk.validation import SaneOrder

    policies = [
        SaneOrder(),
        MaxOrderNotional(max_notional=1e12),
        MaxGrossExposure(max_multiple=5.0),
        MaxPositionSize(max_notional=1e12),
    ]
    if breaker:
        # Watches equity every bar; never trips here (the benchmark's fees grind equity to
        # almost nothing over 19,600 round trips, so a drawdown breaker would stop it).
        policies.append(DailyLossLimit(max_loss=1e18, relative=False))
    else:
        policies.append(MaxPositionSize(max_amount=1e12))
    return RiskChain(policies)


def one_run(series, risk) -> tuple[float, int, float]:  # type: ignore[no-untyped-def]
    from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross

    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    engine = Engine(
        feed=SeriesFeed(series), strategy=SmaCross(fast=10, slow=30), broker=broker, risk=risk
    )
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = engine.run()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, int(result.stats["Trades"]), cpu


def main() -> None:
    import pandas  # noqa: F401  - keep its import out of the timing
    import talib  # noqa: F401

    series = gbm_series(BARS)
    plain, risky, orders_only = [], [], []
    for _ in range(REPEATS):  # interleaved: load changes on a shared machine hit all three alike
        plain.append(one_run(series, None))
        risky.append(one_run(series, chain()))
        orders_only.append(one_run(series, chain(breaker=False)))
    base = statistics.median(t for t, _, _ in plain)
    with_risk = statistics.median(t for t, _, _ in risky)
    checks = statistics.median(t for t, _, _ in orders_only)
    print(f"bars                 {BARS:,}")
    print(f"trades               {plain[0][1]:,} without risk, {risky[0][1]:,} with the chain")
    print(f"no risk              {base:.3f} s  ->  {BARS / base:,.0f} bars/s (median of {REPEATS})")
    print(f"five-policy chain    {with_risk:.3f} s  ->  {BARS / with_risk:,.0f} bars/s")
    print(f"overhead             {100 * (with_risk / base - 1):.1f} % (target: about 20 % or less)")
    paired = statistics.median(r / p for (r, _, _), (p, _, _) in zip(risky, plain, strict=True))
    print(f"overhead, paired     {100 * (paired - 1):.1f} % (median of each round's ratio)")
    # CPU time of this process: what a busy machine's time-slicing adds to wall time is left out
    cpu_base = statistics.median(c for _, _, c in plain)
    cpu_risk = statistics.median(c for _, _, c in risky)
    cpu_checks = statistics.median(c for _, _, c in orders_only)
    print(
        f"overhead, CPU time   {100 * (cpu_risk / cpu_base - 1):.1f} % "
        f"({cpu_base:.3f} s -> {cpu_risk:.3f} s; order checks only "
        f"{100 * (cpu_checks / cpu_base - 1):.1f} %)"
    )
    print(
        f"five order checks    {checks:.3f} s  ->  overhead {100 * (checks / base - 1):.1f} % "
        "(no per-bar hook: the breaker replaced by a fifth order check)"
    )


if __name__ == "__main__":
    main()
