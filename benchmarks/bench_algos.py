"""Benchmark: the overhead of a TWAP of 100 slices in an event backtest (issue #15).

Workload: ``bars`` one-minute GBM bars of ``bench_backtest.py`` (default 10,000), no fees.
Three strategies, each buying 1.0 BTC from bar 100 on:

- ``one order``: a single market order at bar 100 (the run's floor);
- ``100 orders``: 100 market orders of 0.01, one per bar from bar 100 (the children by hand);
- ``twap``: ``self.twap("buy", 1.0, horizon="100m", slices=100)`` at bar 100, which places
  the same 100 children through the parent-order book.

The three run interleaved (``repeats`` rounds, one warm-up round first); the figures are
medians of CPU time. The TWAP's overhead per slice is (twap - 100 orders) / 100: what the
parent machinery adds to placing the same children directly; the check that both runs made the
same fills runs before any timing.

Run: ``python benchmarks/bench_algos.py [bars] [repeats]``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import gbm_series

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
START = 100
SLICES = 100


def strategies() -> dict[str, Any]:
    from quantkit import Strategy

    class OneOrder(Strategy):
        def on_bar(self, bar: Any) -> None:
            if bar.index == START:
                self.buy(amount=1.0)

    class ManyOrders(Strategy):
        def on_bar(self, bar: Any) -> None:
            if START <= bar.index < START + SLICES:
                self.buy(amount=1.0 / SLICES)

    class Twap(Strategy):
        def on_bar(self, bar: Any) -> None:
            if bar.index == START:
                self.twap("buy", 1.0, horizon=f"{SLICES}m", slices=SLICES)

    return {"one order": OneOrder, "100 orders": ManyOrders, "twap": Twap}


def run(kind: Any, series: Any) -> tuple[float, Any]:
    from quantkit import BacktestBroker, Engine, Market, SeriesFeed

    market = Market("BTC/USDT", "BTC", "USDT", maker_fee=0.0, taker_fee=0.0)
    engine = Engine(
        feed=SeriesFeed(series),
        strategy=kind(),
        broker=BacktestBroker(cash=10_000_000, markets={"BTC/USDT": market}),
    )
    gc.collect()
    start = time.process_time()
    result = engine.run()
    return time.process_time() - start, result


def main() -> None:
    series = gbm_series(BARS)
    kinds = strategies()
    _, by_hand = run(kinds["100 orders"], series)
    _, twap = run(kinds["twap"], series)
    hand_fills = by_hand.fills[["time", "price", "amount"]].to_numpy().tolist()
    twap_fills = twap.fills[["time", "price", "amount"]].to_numpy().tolist()
    if len(twap_fills) != SLICES or [r[:2] for r in hand_fills] != [r[:2] for r in twap_fills]:
        raise SystemExit("the TWAP did not make the hand-placed orders' fills")
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(REPEATS):
        for name, kind in kinds.items():
            times[name].append(run(kind, series)[0])
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{BARS:,} bars, {REPEATS} interleaved rounds, median CPU seconds")
    for name, value in medians.items():
        print(f"  {name:<11} {value * 1e3:9.2f} ms")
    per_slice = (medians["twap"] - medians["100 orders"]) / SLICES
    per_order = (medians["100 orders"] - medians["one order"]) / (SLICES - 1)
    print(f"  twap overhead per slice over placing it by hand: {per_slice * 1e6:8.1f} us")
    print(f"  cost of one more order placed by hand:            {per_order * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
