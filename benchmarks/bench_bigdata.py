"""Benchmark: an aggregate query over 100,000,000 stored bars, Polars (lazy) vs pandas.

Workload (issue #13, "data larger than memory"): a ParquetStore holding 20 symbols of one-minute
bars, 5,000,000 each (about 9.5 years, 115 monthly partitions per symbol): 100M rows, 4.8 GB of
raw columns. Two questions over all of it:

- bars per day (rows per UTC calendar day, all symbols together);
- mean bar return (``close / open - 1``) by hour of day (UTC).

Polars answers from one `StoreSnapshot` scan, one streaming pass per question; pandas reads the same
store one symbol at a time through ``ParquetStore.read`` (all 100M rows at once would need
some 10 GB, more than a shared machine should be asked for) and combines per-symbol counts and
sums. Both answers are checked equal before any time is printed. Each run is a fresh process
(its peak resident set size is its own), the two sides interleaved, and medians are printed.

The store is generated once into ``--root`` (default ``/tmp/qk-bench-bigdata``), reused while it
exists, and deleted at the end unless ``--keep``.

Run: ``python benchmarks/bench_bigdata.py [--rows N] [--symbols N] [--runs N] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MINUTE = 60 * 10**9
START = 1_262_304_000 * 10**9  # 2010-01-01 00:00 UTC
CHUNK = 1_000_000


def peak_mb() -> float:
    """This process's peak resident set size, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def symbols(count: int) -> list[str]:
    return [f"S{k:02d}/USDT" for k in range(count)]


def generate(root: str, rows: int, count: int) -> dict[str, float]:
    """Write ``rows`` bars split evenly over ``count`` symbols; seeded GBM."""
    from quantkit.data.store import ParquetStore

    store = ParquetStore(root, cache_bytes=0)
    each = rows // count
    sigma = 0.6 / np.sqrt(365 * 24 * 60)
    start = time.perf_counter()
    for k, symbol in enumerate(symbols(count)):
        rng = np.random.default_rng(k)
        level = 100.0
        for first in range(0, each, CHUNK):
            n = min(CHUNK, each - first)
            close = level * np.exp(np.cumsum(rng.normal(-0.5 * sigma**2, sigma, n)))
            open_ = np.concatenate([[level], close[:-1]])
            wiggle = np.abs(rng.normal(0.0, sigma, (2, n)))
            level = float(close[-1])
            store.write(
                "binance",
                symbol,
                "1m",
                {
                    "time": START + MINUTE * np.arange(first, first + n, dtype=np.int64),
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + wiggle[0]),
                    "low": np.minimum(open_, close) * (1 - wiggle[1]),
                    "close": close,
                    "volume": rng.lognormal(1.0, 0.5, n),
                },
                time_unit="ns",
            )
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb()}


def run_polars(root: str, count: int) -> dict[str, object]:
    import polars as pl

    from quantkit.data.store import ParquetStore

    store = ParquetStore(root)
    baseline = peak_mb()
    start = time.perf_counter()
    with store.snapshot("binance", symbols(count), "1m") as snap:
        bars = snap.scan()
        per_day = bars.group_by(pl.col("time").dt.date().alias("day")).agg(pl.len().alias("n"))
        by_hour = bars.group_by(pl.col("time").dt.hour().alias("hour")).agg(
            (pl.col("close") / pl.col("open") - 1).mean().alias("mean")
        )
        # one streaming pass each: collect_all would share the scan through a cache that holds
        # every row it reads (2.4 GB here), which is what streaming is meant to avoid
        days = per_day.collect(engine="streaming")
        hours = by_hour.collect(engine="streaming")
    seconds = time.perf_counter() - start
    days = days.sort("day")
    hours = hours.sort("hour")
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
        "days": [str(d) for d in days.get_column("day").to_list()],
        "per_day": days.get_column("n").to_list(),
        "by_hour": hours.get_column("mean").to_list(),
    }


def run_pandas(root: str, count: int) -> dict[str, object]:
    import pandas as pd

    from quantkit.data.store import ParquetStore

    store = ParquetStore(root, cache_bytes=0)
    baseline = peak_mb()
    start = time.perf_counter()
    per_day: pd.Series | None = None
    sums = np.zeros(24)
    counts = np.zeros(24)
    for symbol in symbols(count):
        frame = store.read("binance", symbol, "1m")
        day_counts = frame.groupby(frame.index.floor("D")).size()
        per_day = day_counts if per_day is None else per_day.add(day_counts, fill_value=0)
        returns = frame["close"] / frame["open"] - 1
        grouped = returns.groupby(frame.index.hour).agg(["sum", "count"])
        sums[grouped.index] += grouped["sum"].to_numpy()
        counts[grouped.index] += grouped["count"].to_numpy()
        del frame, returns
    seconds = time.perf_counter() - start
    assert per_day is not None
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "baseline_mb": baseline,
        "days": [str(d.date()) for d in per_day.index],
        "per_day": [int(n) for n in per_day.to_numpy()],
        "by_hour": list(sums / counts),
    }


def in_child(*args: str) -> dict[str, object]:
    out = subprocess.check_output([sys.executable, __file__, "--phase", *args])
    return json.loads(out.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def check_same(polars: dict[str, object], pandas: dict[str, object]) -> None:
    assert polars["days"] == pandas["days"], "the days differ"
    assert polars["per_day"] == pandas["per_day"], "the bars per day differ"
    np.testing.assert_allclose(polars["by_hour"], pandas["by_hour"], rtol=1e-9, atol=1e-15)


def summary(label: str, runs: list[dict[str, object]]) -> str:
    seconds = [float(run["seconds"]) for run in runs]  # type: ignore[arg-type]
    peak = max(float(run["peak_mb"]) for run in runs)  # type: ignore[arg-type]
    base = statistics.median(float(run["baseline_mb"]) for run in runs)  # type: ignore[arg-type]
    return (
        f"{label:<7} median {statistics.median(seconds):7.2f} s  best {min(seconds):7.2f} s  "
        f"peak RSS {peak:7,.0f} MB ({base:,.0f} MB interpreter and libraries)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--root", default="/tmp/qk-bench-bigdata")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--phase", nargs="+", default=None)
    options = parser.parse_args()
    if options.phase:  # inside a child process
        name, root, rows, count = options.phase
        if name == "generate":
            result: dict[str, object] = dict(generate(root, int(rows), int(count)))
        else:
            result = (run_polars if name == "polars" else run_pandas)(root, int(count))
        print(json.dumps(result))
        return
    root, rows, count = options.root, options.rows, options.symbols
    args = (root, str(rows), str(count))
    try:
        if not os.path.isdir(root):
            made = in_child("generate", *args)
            print(f"generated {rows:,} rows in {made['seconds']:.0f} s")
        disk = sum(p.stat().st_size for p in Path(root).rglob("*.parquet"))
        files = sum(1 for _ in Path(root).rglob("*.parquet"))
        print(
            f"store: {rows:,} one-minute bars, {count} symbols, {files:,} files, "
            f"{disk / 1e9:.2f} GB on disk ({rows * 48 / 1e9:.1f} GB of raw columns)"
        )
        polars_runs: list[dict[str, object]] = []
        pandas_runs: list[dict[str, object]] = []
        for _ in range(options.runs):  # interleaved: both sides see the same machine
            polars_runs.append(in_child("polars", *args))
            pandas_runs.append(in_child("pandas", *args))
            check_same(polars_runs[-1], pandas_runs[-1])
        print("query: bars per UTC day + mean bar return by UTC hour (answers checked equal)")
        print(summary("polars", polars_runs))
        print(summary("pandas", pandas_runs))
        ratio = statistics.median(float(r["seconds"]) for r in pandas_runs) / statistics.median(  # type: ignore[arg-type]
            float(r["seconds"])
            for r in polars_runs  # type: ignore[arg-type]
        )
        print(f"polars is {ratio:.1f}x faster than pandas (medians of {options.runs} runs)")
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
