"""Benchmark: latency from a closed bar reaching the live engine to the order leaving the broker.

Workload (issue #4): 10,000 one-minute bars handed to `LiveEngine` one at a time; the strategy
(an SMA crossover's indicators plus an order on EVERY bar, alternating buy and sell, so every
bar is measured) runs through a risk chain into the broker. The latency of a bar is
``LiveEngine.latencies_ns``: from the bar's arrival in `LiveEngine.step` to the return of the
broker's ``submit`` for the bar's order: appending the bar, updating the indicators, the
strategy, risk, the broker's local checks, and (live) the journal write, flushed and fsynced,
and queueing the order for the sender task. The network round trip is not in it: the sender
places the order through ccxt afterwards, concurrently.

Two setups are measured:

* ``live``: `LiveBroker` with the real ccxt client against the local exchange (in a thread of
  its own, as a remote venue would be), the journal on the temporary directory's disk;
* ``paper``: `PaperBroker`, for the cost of the engine and strategy alone.

Bars come from `ReplayStream` paced at ``--pace`` seconds so that the venue keeps up (the
latency is measured per bar either way). The journal's fsync is timed on its own as well, since
it dominates the live figure and depends on the disk.

Target: p99 under 1 ms of quantkit's own time.

Run: ``python benchmarks/bench_live.py [--bars N] [--pace SECONDS]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import talib

import quantkit as qk
from quantkit.testing import LOCAL_CCXT_OPTIONS, LocalExchange

WARMUP = 100
KEY, SECRET = "bench-key", "bench-secret"


class EveryBar(qk.Strategy):
    """Two SMAs (so indicators update each bar) and an order on every bar."""

    amount: float = 0.001

    def on_start(self) -> None:
        self.fast = self.I(talib.SMA, self.data.close, timeperiod=10)
        self.slow = self.I(talib.SMA, self.data.close, timeperiod=30)
        self.flip = False

    def on_bar(self, bar: qk.SymbolData) -> None:
        self.flip = not self.flip
        _ = self.fast[-1] > self.slow[-1]
        if self.flip:
            self.buy(amount=self.amount)
        else:
            self.sell(amount=self.amount)


def risk_chain() -> qk.RiskChain:
    return qk.RiskChain([qk.MaxPositionSize(max_amount=1.0), qk.MaxPositionSize(max_notional=1e6)])


def bars(count: int, start: datetime) -> qk.BarSeries:
    rng = np.random.default_rng(11)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0005, count)))
    opens = np.concatenate([[40_000.0], close[:-1]])
    times = (
        int(start.timestamp()) * 10**9 + 60 * 10**9 * np.arange(count, dtype=np.int64)
    )
    return qk.BarSeries(
        "BTC/USDT",
        60 * 10**9,
        times,
        times + 60 * 10**9,
        opens,
        np.maximum(opens, close) * 1.0005,
        np.minimum(opens, close) * 0.9995,
        close,
        np.full(count, 5.0),
    )


def summarise(name: str, latencies_ns: list[int]) -> None:
    values = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    print(
        f"{name:>6}: {len(values):>6} bars with an order   p50 {p50:.3f} ms   p90 {p90:.3f} ms   "
        f"p99 {p99:.3f} ms   max {values.max():.3f} ms"
    )


def fsync_cost(folder: Path, count: int = 2_000) -> list[float]:
    path = folder / "fsync.bin"
    line = b"x" * 400 + b"\n"
    times = []
    with path.open("ab") as handle:
        for _ in range(count):
            start = time.perf_counter_ns()
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
            times.append((time.perf_counter_ns() - start) / 1e6)
    return times


def run_paper(series: qk.BarSeries) -> list[int]:
    engine = qk.LiveEngine(
        stream=qk.ReplayStream({"BTC/USDT": series}),
        strategy=EveryBar(),
        broker=qk.PaperBroker(cash=1e9),
        risk=risk_chain(),
        warmup=WARMUP,
        handle_signals=False,
    )
    engine.run()
    return engine.latencies_ns


def run_live(series: qk.BarSeries, pace: float, folder: Path) -> list[int]:
    start = datetime.fromtimestamp(int(series.open_time[0]) // 10**9, UTC)
    with LocalExchange(
        live=True,
        warmup=WARMUP,
        start=start,
        end=start + timedelta(minutes=WARMUP + 10),
        accounts={KEY: (SECRET, {"USDT": 1e9, "BTC": 1_000})},
    ) as exchange:
        venue = qk.CcxtExchange(
            "binance",
            credentials=qk.Credentials(exchange="binance", api_key=KEY, secret=SECRET),
            api_url=exchange.url,
            options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        )
        engine = qk.LiveEngine(
            stream=qk.ReplayStream({"BTC/USDT": series}, pace=pace),
            strategy=EveryBar(),
            broker=qk.LiveBroker(
                venue,
                journal=folder / "journal.jsonl",
                run_id="bench",
                confirm_live=True,
                poll_interval=0.5,
            ),
            risk=risk_chain(),
            warmup=WARMUP,
            run_id="bench",
            handle_signals=False,
        )

        async def trade() -> None:
            async with venue:
                print(await engine.arun())

        import anyio

        anyio.run(trade)
    return engine.latencies_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--pace", type=float, default=0.02)
    args = parser.parse_args()
    qk.configure_logging(level="warning")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=WARMUP)
    series = bars(args.bars + WARMUP, start)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        fsyncs = fsync_cost(folder)
        print(
            f"journal fsync alone on this disk: median {statistics.median(fsyncs):.3f} ms, "
            f"p99 {np.percentile(fsyncs, 99):.3f} ms"
        )
        summarise("paper", run_paper(series))
        summarise("live", run_live(series, args.pace, folder))


if __name__ == "__main__":
    main()
