"""Builders of OHLCV frames for the store's tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from quantkit.domain.timeframe import parse_timeframe

NS = 10**9
MINUTE = 60 * NS
HOUR = 60 * MINUTE


def make_frame(start: str, periods: int, freq: str = "1h", seed: int = 0) -> pd.DataFrame:
    """A random walk of valid bars opening at ``start`` every ``freq`` (UTC index "time")."""
    step = parse_timeframe(freq)
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, periods)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, periods))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, periods))
    first = pd.Timestamp(start, tz="UTC").value
    times = first + step * np.arange(periods, dtype=np.int64)
    index = pd.DatetimeIndex(times.astype("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(0, 10, periods),
        },
        index=index,
    )


def ts(text: str) -> pd.Timestamp:
    """A UTC timestamp."""
    return pd.Timestamp(text, tz="UTC")


def partition_files(directory: Path) -> dict[str, Path]:
    """Partition name to the file that holds it now, as the series' manifest says."""
    manifest = json.loads((directory / "manifest.json").read_text())
    return {name: directory / file for name, file in manifest["partitions"].items()}


def data_files(directory: Path) -> list[str]:
    """Names of the Parquet files in a series' directory (committed or not)."""
    return sorted(name for name in os.listdir(directory) if name.endswith(".parquet"))
