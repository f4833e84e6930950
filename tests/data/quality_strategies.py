"""Builders and hypothesis strategies for the quality, resample, multi-timeframe, fusion tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from quantkit.domain.bars import BarSeries

NS = 10**9
MINUTE = 60 * NS
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# 2024-01-01 00:00 UTC, a Monday.
MONDAY = pd.Timestamp("2024-01-01", tz="UTC").value


def series(
    times: list[int] | np.ndarray,
    closes: list[float] | np.ndarray,
    *,
    timeframe: int = MINUTE,
    symbol: str = "BTC/USDT",
    volumes: list[float] | np.ndarray | None = None,
    spread: float = 1.0,
) -> BarSeries:
    """Bars at ``times`` whose open is the previous close and whose high/low are close +- spread."""
    open_time = np.asarray(times, dtype=np.int64)
    close = np.asarray(closes, dtype=np.float64)
    opens = np.concatenate(([close[0]], close[:-1])) if len(close) else close
    volume = np.ones(len(close)) if volumes is None else np.asarray(volumes, dtype=np.float64)
    return BarSeries(
        symbol,
        timeframe,
        open_time,
        open_time + timeframe,
        opens,
        np.maximum(opens, close) + spread,
        np.minimum(opens, close) - spread / 2,
        close,
        volume,
    )


def random_series(
    times: np.ndarray, seed: int, *, timeframe: int = MINUTE, symbol: str = "BTC/USDT"
) -> BarSeries:
    """A seeded random walk at ``times`` with consistent OHLC and random volumes."""
    rng = np.random.default_rng(seed)
    count = len(times)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    opens = closes * np.exp(rng.normal(0.0, 0.002, count))
    highs = np.maximum(opens, closes) * (1 + rng.uniform(0.0, 0.01, count))
    lows = np.minimum(opens, closes) * (1 - rng.uniform(0.0, 0.01, count))
    volumes = rng.uniform(0.0, 10.0, count).round(3)
    open_time = np.asarray(times, dtype=np.int64)
    return BarSeries(
        symbol, timeframe, open_time, open_time + timeframe, opens, highs, lows, closes, volumes
    )


@st.composite
def gappy_times(draw: st.DrawFn, timeframe: int = MINUTE, max_slots: int = 400) -> np.ndarray:
    """Increasing open times on a ``timeframe`` grid (aligned to the epoch) with random holes."""
    start = draw(st.integers(27_000_000, 29_000_000)) * MINUTE
    start -= start % timeframe
    slots = draw(st.integers(1, max_slots))
    holes = draw(st.floats(0.0, 0.6))
    seed = draw(st.integers(0, 2**32 - 1))
    present = np.random.default_rng(seed).random(slots) >= holes
    present[draw(st.integers(0, slots - 1))] = True
    return (start + np.flatnonzero(present) * timeframe).astype(np.int64)


@st.composite
def gappy_series(draw: st.DrawFn, timeframe: int = MINUTE, max_slots: int = 400) -> BarSeries:
    """A random walk on a ``timeframe`` grid with random holes."""
    times = draw(gappy_times(timeframe, max_slots))
    return random_series(times, draw(st.integers(0, 2**32 - 1)), timeframe=timeframe)


def frame_of(bars: BarSeries) -> pd.DataFrame:
    """The series as a frame with a UTC DatetimeIndex of open times."""
    index = pd.DatetimeIndex(pd.to_datetime(bars.open_time, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=index,
    )
    frame.attrs["symbol"] = bars.symbol
    return frame
