"""Benchmark: write then read back 10,000,000 one-minute bars through the ParquetStore.

Workload (issue #3): 10M seeded GBM one-minute bars (about 19 years, 229 monthly partitions) are
written with ``ParquetStore.write`` (validation, partitioning, one atomic file per month), then
read back whole into a DataFrame (``read``) and into a backtest-ready ``BarSeries``
(``read_series``). Each phase runs in a fresh Python process so that its peak memory (the
process's maximum resident set size) is its own; reads are repeated in several fresh processes
and the median and best times are printed, because other work on the machine makes single
timings noisy.

Targets: reading 10M bars into a BarSeries in under one second; peak memory under twice the raw
data (5 float64 columns plus int64 timestamps: 480 MB). A "floor" line shows what merely
allocating and touching the result's memory costs in a fresh process here: on a virtual machine
first-touch page faults vary a lot from run to run, and they are most of the spread in the read
times.

Run: ``python benchmarks/bench_store.py [bars] [--runs N] [--root DIR]``
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

MINUTE = 60 * 10**9
START = 946_684_800 * 10**9  # 2000-01-01 00:00 UTC


def peak_mb() -> float:
    """This process's peak resident set size, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gbm_frame(n: int, seed: int = 7):  # type: ignore[no-untyped-def]
    import pandas as pd

    rng = np.random.default_rng(seed)
    sigma = 0.6 / np.sqrt(365 * 24 * 60)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(-0.5 * sigma**2, sigma, n)))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    wiggle = np.abs(rng.normal(0.0, sigma, (2, n)))
    times = START + MINUTE * np.arange(n, dtype=np.int64)
    index = pd.DatetimeIndex(times.view("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wiggle[0]),
            "low": np.minimum(open_, close) * (1 - wiggle[1]),
            "close": close,
            "volume": rng.lognormal(1.0, 0.5, n),
        },
        index=index,
    )


def phase_write(root: str, bars: int) -> dict[str, float]:
    from quantkit.data.store import ParquetStore

    frame = gbm_frame(bars)
    before = peak_mb()
    store = ParquetStore(root)
    start = time.perf_counter()
    report = store.write("binance", "BTC/USDT", "1m", frame)
    seconds = time.perf_counter() - start
    assert report.added == bars
    return {
        "seconds": seconds,
        "partitions": len(report.partitions),
        "peak_mb": peak_mb(),
        "peak_before_mb": before,
    }


def phase_read(root: str, kind: str) -> dict[str, float]:
    import pandas  # noqa: F401 - users have pandas and pyarrow loaded; keep imports out
    import pyarrow.dataset  # noqa: F401

    from quantkit.data.store import ParquetStore

    store = ParquetStore(root)
    baseline = peak_mb()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if kind == "floor":  # fill the memory a BarSeries of this size needs, and nothing else
        bars = int(root)
        result = [np.empty(bars) for _ in range(7)]
        for array in result:
            array.fill(1.0)
    elif kind == "frame":
        result = store.read("binance", "BTC/USDT", "1m")
    elif kind == "series":
        result = store.read_series("binance", "BTC/USDT", "1m")
    else:  # one week, to show pruning
        result = store.read_series("binance", "BTC/USDT", "1m", "2000-06-05", "2000-06-12")
    seconds = time.perf_counter() - start
    used = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "user": used.ru_utime - cpu.ru_utime,
        "system": used.ru_stime - cpu.ru_stime,
        "rows": len(result[0]) if kind == "floor" else len(result),
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
    }


def in_child(*args: str) -> dict[str, float]:
    out = subprocess.check_output([sys.executable, __file__, "--phase", *args])
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bars", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", default=None)
    parser.add_argument("--phase", nargs="+", default=None)
    options = parser.parse_args()
    if options.phase:  # inside a child process
        name, root, *rest = options.phase  # for "floor", root is the number of bars
        result = phase_write(root, int(rest[0])) if name == "write" else phase_read(root, name)
        print(json.dumps(result))
        return
    bars = options.bars
    raw_mb = bars * 6 * 8 / 1e6
    root = options.root or tempfile.mkdtemp(prefix="qk-bench-store-")
    try:
        written = in_child("write", root, str(bars))
        disk = sum(p.stat().st_size for p in __import__("pathlib").Path(root).rglob("*.parquet"))
        print(f"bars: {bars:,}  raw data (6 x 8 bytes a bar): {raw_mb:,.0f} MB")
        print(
            f"write:  {bars / written['seconds']:>12,.0f} rows/s  ({written['seconds']:.2f} s, "
            f"{written['partitions']:.0f} partitions, {disk / 1e6:,.0f} MB on disk, "
            f"peak RSS {written['peak_mb']:,.0f} MB, of which {written['peak_before_mb']:,.0f} MB "
            "before writing: the generated frame)"
        )
        phases = (
            ("floor", "floor", str(bars)),
            ("frame", "DataFrame", root),
            ("series", "BarSeries", root),
            ("week", "one week", root),
        )
        for kind, label, where in phases:
            runs = [in_child(kind, where) for _ in range(options.runs)]
            seconds = [run["seconds"] for run in runs]
            rows = runs[0]["rows"]
            peak = max(run["peak_mb"] for run in runs)
            base = statistics.median(run["baseline_mb"] for run in runs)
            user = statistics.median(run["user"] for run in runs)
            system = statistics.median(run["system"] for run in runs)
            print(
                f"read {label:<9} {rows / statistics.median(seconds):>12,.0f} rows/s  "
                f"(median {statistics.median(seconds):.3f} s, best {min(seconds):.3f} s over "
                f"{len(runs)} fresh processes; CPU user {user:.2f} s + system {system:.2f} s; "
                f"peak RSS {peak:,.0f} MB = {base:,.0f} MB interpreter and libraries + "
                f"{peak - base:,.0f} MB for the read, {(peak - base) / raw_mb:.2f}x the raw data)"
            )
        print(
            "floor = allocating and filling the seven 8-byte arrays of a BarSeries of this size "
            "with numpy alone: the cost of fresh memory on this machine, which no reader avoids"
        )
    finally:
        if options.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
