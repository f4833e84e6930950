"""Benchmark: latency from a closed bar reaching the live engine to the order leaving the broker.

Workload (issue #4): 10,000 one-minute bars handed to `LiveEngine` one at a time; the strategy
(an SMA crossover's indicators on every bar, and an order every fifth bar, alternating buy and
sell) runs through a risk chain into the broker; the bars with an order are measured. The
latency of a bar is
``LiveEngine.latencies_ns``: from the bar's arrival in `LiveEngine.step` to the return of the
broker's ``submit`` for the bar's order: appending the bar, updating the indicators, the
strategy, risk, the broker's local checks, and (live) the journal write, flushed and fsynced,
and queueing the order for the sender task. The network round trip is not in it: the sender
places the order through ccxt afterwards, concurrently.

Two setups are measured:

* ``live``: `LiveBroker` with the real ccxt client against the local exchange (in a process of
  its own, as a remote venue would be), the journal on the temporary directory's disk;
* ``paper``: `PaperBroker`, for the cost of the engine and strategy alone.

Bars come from `ReplayStream` paced at ``--pace`` seconds so that the venue keeps up (the
latency is measured per bar either way). The journal's fsync is timed on its own as well, since
it dominates the live figure and depends on the disk. ``own`` is the live latency minus the
time the journal waited for the disk during the bar (`Journal.fsync_ns`: the intent line's
fsync, and the head sidecar's fsyncs on the rare bar that has to bring it up to date, such as a
locally refused order, whose intent and refusal are two records): quantkit's own time. A run
also prints its divergences and whether entries were halted: a clean run has none.

Target: p99 under 1 ms of quantkit's own time.

Run: ``python benchmarks/bench_live.py [--bars N] [--pace SECONDS]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import talib

import quantkit as qk
from quantkit.testing import LOCAL_CCXT_OPTIONS

WARMUP = 100
KEY, SECRET = "bench-key", "bench-secret"


class EveryFewBars(qk.Strategy):
    """Two SMAs (so indicators update each bar) and an order every ``every`` bars."""

    amount: float = 0.001
    every: int = 5

    def on_start(self) -> None:
        self.fast = self.I(talib.SMA, self.data.close, timeperiod=10)
        self.slow = self.I(talib.SMA, self.data.close, timeperiod=30)
        self.count = 0

    def on_bar(self, bar: qk.SymbolData) -> None:
        self.count += 1
        _ = self.fast[-1] > self.slow[-1]
        if self.count % self.every:
            return
        if self.count % (2 * self.every):
            self.buy(amount=self.amount)
        else:
            self.sell(amount=self.amount)


def risk_chain() -> qk.RiskChain:
    return qk.RiskChain([qk.MaxPositionSize(max_amount=1.0), qk.MaxPositionSize(max_notional=1e6)])


def bars(count: int, start: datetime) -> qk.BarSeries:
    rng = np.random.default_rng(11)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0005, count)))
    opens = np.concatenate([[40_000.0], close[:-1]])
    times = int(start.timestamp()) * 10**9 + 60 * 10**9 * np.arange(count, dtype=np.int64)
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
        strategy=EveryFewBars(),
        broker=qk.PaperBroker(cash=1e9),
        risk=risk_chain(),
        warmup=WARMUP,
        handle_signals=False,
    )
    engine.run()
    return engine.latencies_ns


def local_exchange_process(start: datetime) -> tuple[subprocess.Popen[str], str]:
    """The local exchange in a process of its own (as a remote venue would be: no shared GIL)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quantkit.testing.exchange_server",
            "--live",
            f"--warmup={WARMUP}",
            "--every=0",
            f"--start={start.isoformat()}",
            f"--end={(start + timedelta(minutes=WARMUP + 10)).isoformat()}",
            f"--account={KEY}:{SECRET}",
            "--balance=USDT=1000000000",
            "--balance=BTC=0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    return process, url


def run_live(series: qk.BarSeries, pace: float, folder: Path) -> tuple[list[int], list[int]]:
    import anyio

    start = datetime.fromtimestamp(int(series.open_time[0]) // 10**9, UTC)
    process, url = local_exchange_process(start)
    try:
        venue = qk.CcxtExchange(
            "binance",
            credentials=qk.Credentials(exchange="binance", api_key=KEY, secret=SECRET),
            api_url=url,
            options=LOCAL_CCXT_OPTIONS,
            rate_limit=False,
        )
        engine = qk.LiveEngine(
            stream=qk.ReplayStream({"BTC/USDT": series}, pace=pace),
            strategy=EveryFewBars(),
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

        broker = engine.broker
        assert isinstance(broker, qk.LiveBroker)
        own: list[int] = []
        step = engine.step

        def timed_step(bar: qk.Bar) -> None:
            """The step, minus the time the disk took to confirm the journal's records."""
            before, orders = broker.journal.fsync_ns, len(engine.latencies_ns)
            step(bar)
            if len(engine.latencies_ns) > orders:
                own.append(engine.latencies_ns[-1] - (broker.journal.fsync_ns - before))

        engine.step = timed_step  # type: ignore[method-assign]

        async def trade() -> None:
            async with venue:
                print(await engine.arun())

        anyio.run(trade)
        # A false divergence halts entries (rejected buys); a clean run has none of either.
        print(f"  divergences: {len(broker.divergences)}, entries halted: {broker.halted!r}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    return engine.latencies_ns, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--pace", type=float, default=0.01)
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
        total, own = run_live(series, args.pace, folder)
        summarise("live", total)
        summarise("own", own)  # live, without the journal's waits for the disk


if __name__ == "__main__":
    main()
