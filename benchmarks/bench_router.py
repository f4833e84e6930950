"""Benchmark: the Router's decision time per order (issue #15; target < 100 us).

Two figures:

- ``route()``: the pure decision (rank, balance, health, split, reasons) on 2, 3 and 5 venue
  quotes, 20,000 decisions a round; the figure is the median round's time per decision.
- ``Router.order`` in a backtest: two venues of ``bars`` one-minute bars (default 5,000), a
  strategy placing one 0.001 BTC buy per bar through the Router, against the same strategy
  placing the same orders on the venue the Router would pick (checked equal first); the
  overhead per order is (routed - direct) / orders: quotes read from the run, the decision,
  its record. Rounds interleaved, medians of CPU time.

Run: ``python benchmarks/bench_router.py [bars] [repeats]``.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backtest import gbm_series

BARS = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
DECISIONS = 20_000


def bench_route(venues: int) -> float:
    """Median time of one `route` decision over ``venues`` quotes, us."""
    from quantkit import VenueQuote, route

    quotes = [
        VenueQuote(f"v{k}", price=100.0 + 0.01 * k, fee=0.001 * (1 + k % 3), available=5e3)
        for k in range(venues)
    ]
    rounds = []
    for _ in range(REPEATS):
        start = time.process_time()
        for _ in range(DECISIONS):
            route("buy", 80.0, quotes)  # splits over the first venues' balances
        rounds.append((time.process_time() - start) / DECISIONS * 1e6)
    return statistics.median(rounds)


def run(routed: bool, series: Any) -> tuple[float, list[tuple[str, float]]]:
    from quantkit import BacktestBroker, Engine, Router, SeriesFeed, Strategy, Venues

    venues = Venues({"a": BacktestBroker(cash=1e9), "b": BacktestBroker(cash=1e9)})
    router = Router(venues)

    class Buyer(Strategy):
        def on_bar(self, bar: Any) -> None:
            if bar.symbol != "b:BTC/USDT":
                return
            if routed:
                router.order(self, "buy", "BTC/USDT", 0.001)
            else:
                self.buy(symbol="BTC/USDT", venue="a", amount=0.001)

    feed = SeriesFeed(
        [
            dataclasses.replace(series, symbol="a:BTC/USDT"),
            dataclasses.replace(  # b quotes 0.1 % higher: the Router picks a
                series,
                symbol="b:BTC/USDT",
                open=series.open * 1.001,
                high=series.high * 1.001,
                low=series.low * 1.001,
                close=series.close * 1.001,
            ),
        ]
    )
    gc.collect()
    start = time.process_time()
    result = Engine(feed=feed, strategy=Buyer(), broker=venues).run()
    elapsed = time.process_time() - start
    fills = list(zip(result.fills["symbol"], result.fills["amount"], strict=True))
    return elapsed, fills


def main() -> None:
    for venues in (2, 3, 5):
        print(f"route() over {venues} venues: {bench_route(venues):.1f} us per decision")
    series = gbm_series(BARS)
    _, direct = run(False, series)
    _, routed = run(True, series)
    if direct != routed:
        raise SystemExit("the routed run made other fills than the direct one")
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(REPEATS):
        for kind in (False, True):
            times[kind].append(run(kind, series)[0])
    direct_s, routed_s = statistics.median(times[False]), statistics.median(times[True])
    orders = len(direct)
    per_order = (routed_s - direct_s) / orders * 1e6
    print(
        f"{BARS} bars x 2 venues, {orders} orders: direct {direct_s:.3f} s, routed {routed_s:.3f} s"
    )
    print(f"Router.order overhead: {per_order:.1f} us per order")


if __name__ == "__main__":
    main()
