"""Benchmark: a perpetual against spot, in the event engine and in the fast path (issue #14).

Workload: the 1,000,000 one-minute GBM bars of ``bench_backtest.py``; the SMA 10/30 crossover
as a `SignalStrategy` (long only, all cash per entry), 0.1 % fee per side, 100,000 cash.

- spot: ``BTC/USDT``, a cash account;
- perpetual: the same bars as ``BTC/USDT:USDT`` (a linear `PerpetualSpec`, 2x isolated), a
  mark series apart from the trade prices (the close moved by up to 0.05 %), and a funding
  history every 8 hours (00:00, 08:00, 16:00 UTC; seeded rates around 0.01 %).

Each engine runs spot and perpetual interleaved (``repeats`` rounds, compilation warmed up
first); the figures are medians and the overhead is perpetual / spot - 1 within the same round,
so the machine's load cancels out as far as it can; the same from the process's CPU time,
which other work on a shared machine disturbs less. The issue's target: below 15 %.

Run: ``python benchmarks/bench_perp.py [bars] [repeats]``.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import gbm_series

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
EIGHT_HOURS = 8 * 3_600 * 10**9
PERP = "BTC/USDT:USDT"


def workload() -> dict[str, Any]:
    from quantkit import BarSeries, FundingRates, Market, PerpetualSpec

    spot = gbm_series(BARS)
    rng = np.random.default_rng(7)
    perp = BarSeries(PERP, spot.timeframe, spot.open_time, spot.close_time, spot.open,
                     spot.high, spot.low, spot.close, spot.volume)  # fmt: skip
    skew = 1 + rng.uniform(-0.0005, 0.0005, BARS)
    mark = BarSeries(PERP, spot.timeframe, spot.open_time, spot.close_time, spot.open * skew,
                     spot.high * skew, spot.low * skew, spot.close * skew, spot.volume)  # fmt: skip
    first = -(-int(spot.open_time[0]) // EIGHT_HOURS) * EIGHT_HOURS
    times = np.arange(first, int(spot.open_time[-1]) + 1, EIGHT_HOURS)
    rates = rng.normal(0.0001, 0.0002, len(times))
    spec = PerpetualSpec("USDT")
    return {
        "spot": spot,
        "perp": perp,
        "spot_market": Market("BTC/USDT", "BTC", "USDT", maker_fee=0.001, taker_fee=0.001),
        "perp_market": Market(
            PERP, "BTC", "USDT", maker_fee=0.001, taker_fee=0.001, perpetual=spec
        ),
        "marks": {PERP: mark},
        "funding": {PERP: FundingRates.history(times.tolist(), rates.tolist())},
    }


def event_run(w: dict[str, Any], perpetual: bool) -> tuple[tuple[float, float], Any]:
    from quantkit import BacktestBroker, Engine, SeriesFeed
    from quantkit.vector.strategy import SmaCrossSignals

    if perpetual:
        broker = BacktestBroker(cash=100_000.0, markets={PERP: w["perp_market"]}, leverage=2.0,
                                margin_mode="isolated", marks=w["marks"],
                                funding=w["funding"])  # fmt: skip
        series = w["perp"]
    else:
        broker = BacktestBroker(cash=100_000.0, markets={"BTC/USDT": w["spot_market"]})
        series = w["spot"]
    engine = Engine(feed=SeriesFeed(series), strategy=SmaCrossSignals(fast=10, slow=30),
                    broker=broker)  # fmt: skip
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = engine.run()
    _ = result.stats
    return (time.perf_counter() - start, time.process_time() - cpu), result


def fast_run(w: dict[str, Any], perpetual: bool) -> tuple[tuple[float, float], Any]:
    from quantkit import run_signals
    from quantkit.vector.strategy import SmaCrossSignals

    options: dict[str, Any] = {"cash": 100_000.0, "check_causal": False}
    if perpetual:
        options.update(market=w["perp_market"], leverage=2.0, margin_mode="isolated",
                       marks=w["marks"], funding=w["funding"])  # fmt: skip
        series = w["perp"]
    else:
        options.update(market=w["spot_market"])
        series = w["spot"]
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = run_signals(SmaCrossSignals(fast=10, slow=30), series, **options)
    _ = result.stats
    return (time.perf_counter() - start, time.process_time() - cpu), result


def measure(name: str, run: Any, w: dict[str, Any]) -> None:
    run(w, False), run(w, True)  # warm up (numba compilation or its cache)
    spot, perp, ratios, cpu_ratios = [], [], [], []
    last: tuple[Any, Any] = (None, None)
    for _ in range(REPEATS):
        (s, s_cpu), spot_result = run(w, False)
        (p, p_cpu), perp_result = run(w, True)
        spot.append(s)
        perp.append(p)
        ratios.append(p / s)
        cpu_ratios.append(p_cpu / s_cpu)
        last = (spot_result, perp_result)
    spot_result, perp_result = last
    stats = perp_result.stats
    rate = BARS / statistics.median(spot) / 1e6
    print(
        f"{name:12s} spot {statistics.median(spot):6.3f} s ({rate:5.2f}M bars/s)  "
        f"perpetual {statistics.median(perp):6.3f} s  overhead "
        f"{(statistics.median(ratios) - 1) * 100:+5.1f} % (per round: "
        f"{', '.join(f'{(r - 1) * 100:+.1f}' for r in ratios)})"
    )
    print(  # CPU time of the process: less disturbed by other work on a shared machine
        f"{'':12s} CPU-time overhead {(statistics.median(cpu_ratios) - 1) * 100:+5.1f} % "
        f"(per round: {', '.join(f'{(r - 1) * 100:+.1f}' for r in cpu_ratios)})"
    )
    print(
        f"{'':12s} trades spot {int(spot_result.stats['Trades'])} perpetual "
        f"{int(stats['Trades'])}; net funding {float(stats['Net funding']):.2f}; "
        f"liquidations {stats['Liquidations']}; final equity {float(stats['Final equity']):.2f}"
    )


def main() -> None:
    w = workload()
    print(f"{BARS:,} one-minute bars, {len(w['funding'][PERP].times)} funding times, "
          f"{REPEATS} interleaved rounds; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    measure("fast path", fast_run, w)
    measure("event engine", event_run, w)


if __name__ == "__main__":
    main()
