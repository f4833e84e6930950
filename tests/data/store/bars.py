"""Builders of OHLCV frames for the store's tests."""

from __future__ import annotations

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
