"""Benchmark: the SMA-crossover backtest on 1,000,000 one-minute GBM bars.

Workload (issue #2): fast 10 / slow 30 SMA on the close; a cross up buys with all available cash
at the next bar's open (an order sized in quote currency), a cross down closes at the next open;
0.1 % fee per side; fractional amounts; 100,000 starting cash. Prints bars per second (median of
three runs), the time to build the Result tables, peak memory and ``import quantkit`` time.

Run: ``python benchmarks/bench_backtest.py [bars]``
"""

from __future__ import annotations

import gc
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

BARS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
MINUTE = 60 * 10**9


def gbm_series(n: int, seed: int = 42):  # type: ignore[no-untyped-def]
    """Seeded geometric Brownian motion, one-minute bars with UTC timestamps."""
    from quantkit import BarSeries

    rng = np.random.default_rng(seed)
    sigma = 0.6 / np.sqrt(365 * 24 * 60)  # 60 % annualised volatility per minute
    log_returns = rng.normal(-0.5 * sigma**2, sigma, n)
    close = 30_000.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wiggle = np.abs(rng.normal(0.0, sigma, (2, n)))
    high = np.maximum(open_, close) * (1 + wiggle[0])
    low = np.minimum(open_, close) * (1 - wiggle[1])
    volume = rng.lognormal(1.0, 0.5, n)
    start = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
    open_time = start + MINUTE * np.arange(n, dtype=np.int64)
    return BarSeries(
        "BTC/USDT", MINUTE, open_time, open_time + MINUTE, open_, high, low, close, volume
    )


def one_run(series) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    from quantkit import BacktestBroker, Engine, Market, SeriesFeed, SmaCross

    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001)
    broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": market})
    engine = Engine(feed=SeriesFeed(series), strategy=SmaCross(fast=10, slow=30), broker=broker)
    gc.collect()
    start = time.perf_counter()
    result = engine.run()
    run_time = time.perf_counter() - start
    start = time.perf_counter()
    _ = (result.orders, result.fills, result.trades, result.stats)
    table_time = time.perf_counter() - start
    return run_time, table_time, result


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import quantkit; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(5)]
    return statistics.median(runs)


def main() -> None:
    import pandas  # noqa: F401  - users have pandas loaded; keep its import out of the timing
    import talib  # noqa: F401

    series = gbm_series(BARS)
    times: list[tuple[float, float]] = []
    result = None
    for _ in range(3):
        result = None  # keep one result alive at a time: peak memory is one run's
        run_time, table_time, result = one_run(series)
        times.append((run_time, table_time))
    run_time = statistics.median(t[0] for t in times)
    table_time = statistics.median(t[1] for t in times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"bars                 {BARS:,}")
    print(f"trades               {int(result.stats['Trades']):,}")  # type: ignore[attr-defined]
    print(f"engine.run()         {run_time:.3f} s  ->  {BARS / run_time:,.0f} bars/s (median of 3)")
    print(f"result tables        {table_time:.3f} s (already built by run(); accessing them)")
    print(f"peak memory (RSS)    {peak_mb:,.0f} MB (whole process, data included)")
    print(f"import quantkit      {import_time():.3f} s (median of 5 fresh processes)")


if __name__ == "__main__":
    main()
