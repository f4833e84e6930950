"""Benchmark: rolling VaR per bar, 50 assets, a window of 250 returns.

Workload (issue #5): each bar one ``RollingVaR.update(returns)`` of 50 correlated Gaussian
returns, then one VaR estimate of a fixed long/short portfolio. Timed per bar over 5,000 bars
(after the window has filled), for each method; prints the median and the 99th percentile per
bar in microseconds. Target: update + parametric ``var()`` under 1 ms per bar.

Run: ``python benchmarks/bench_var.py [bars] [assets] [window]``
"""

from __future__ import annotations

import sys
import time

import numpy as np

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
ASSETS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
WINDOW = int(sys.argv[3]) if len(sys.argv) > 3 else 250
METHODS = ("parametric", "historical", "cornish_fisher", "monte_carlo")


def returns_stream(bars: int, assets: int, seed: int = 42) -> np.ndarray:
    """Correlated Gaussian returns: one market factor plus noise, about 2 % a bar."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.015, (bars, 1))
    beta = rng.uniform(0.5, 1.5, assets)
    return market * beta + rng.normal(0.0003, 0.01, (bars, assets))


def per_bar(method: str, stream: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Seconds spent on update + var() at each bar after the window filled."""
    from quantkit.risk.var import RollingVaR

    paths = 2_000 if method == "monte_carlo" else 10_000
    estimator = RollingVaR(ASSETS, window=WINDOW, paths=paths, seed=1)
    for row in stream[:WINDOW]:
        estimator.update(row)
    timings = np.empty(len(stream) - WINDOW)
    update, var = estimator.update, estimator.var
    clock = time.perf_counter
    for k, row in enumerate(stream[WINDOW:]):
        start = clock()
        update(row)
        var(values, alpha=0.99, method=method)  # type: ignore[arg-type]
        timings[k] = clock() - start
    return timings


def main() -> None:
    stream = returns_stream(BARS + WINDOW, ASSETS)
    values = np.random.default_rng(7).normal(10_000.0, 20_000.0, ASSETS)
    print(f"RollingVaR: {ASSETS} assets, window {WINDOW}, {BARS:,} bars (update + var per bar)")
    for method in METHODS:
        bars = BARS if method != "monte_carlo" else min(BARS, 1_000)
        micros = per_bar(method, stream[: bars + WINDOW], values) * 1e6
        note = " (2,000 paths)" if method == "monte_carlo" else ""
        print(
            f"  {method + note:<30} median {np.median(micros):8.1f} us   "
            f"p99 {np.percentile(micros, 99):8.1f} us"
        )


if __name__ == "__main__":
    main()
