"""Hypothesis strategies and builders for bar data (valid series, and ways to corrupt them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import strategies as st

NS = 10**9
TIMEFRAMES_NS = (1 * NS, 60 * NS, 300 * NS, 3600 * NS, 86400 * NS)
# Instants between 2001 and 2096, whole seconds, so every epoch unit is detected unambiguously.
START_SECONDS = st.integers(min_value=1_000_000_000, max_value=4_000_000_000)
PRICE = st.floats(min_value=1e-4, max_value=1e7, allow_nan=False, allow_infinity=False)
FRACTION = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)
VOLUME = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class Bars:
    """A valid series, held as plain numpy arrays (the expected result of validation)."""

    times: np.ndarray  # int64 ns, bar open times
    timeframe: int  # ns; the most common gap (or the given one for a single bar)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {
            "open": self.open.copy(),
            "high": self.high.copy(),
            "low": self.low.copy(),
            "close": self.close.copy(),
            "volume": self.volume.copy(),
        }

    def __len__(self) -> int:
        return len(self.times)


def make_bars(times_ns: list[int] | np.ndarray, timeframe: int, seed: int = 0) -> Bars:
    """Build a valid series at the given open times with seeded, consistent OHLCV values."""
    times = np.asarray(times_ns, dtype=np.int64)
    rng = np.random.default_rng(seed)
    count = len(times)
    opens = rng.uniform(90.0, 110.0, count)
    closes = rng.uniform(90.0, 110.0, count)
    highs = np.maximum(opens, closes) + rng.uniform(0.0, 2.0, count)
    lows = np.minimum(opens, closes) - rng.uniform(0.0, 2.0, count)
    volume = rng.uniform(0.0, 1000.0, count)
    return Bars(times, timeframe, opens, highs, lows, closes, volume)


def hourly_bars(count: int, start: str = "2024-01-01", seed: int = 0) -> Bars:
    """``count`` consecutive hourly bars from ``start`` (UTC)."""
    first = pd.Timestamp(start, tz="UTC").value
    return make_bars(first + np.arange(count) * 3600 * NS, 3600 * NS, seed)


def bars_frame(bars: Bars, *, index: bool = True) -> pd.DataFrame:
    """The bars as a DataFrame: UTC DatetimeIndex named time, or a ``time`` column."""
    times = pd.DatetimeIndex(pd.to_datetime(bars.times, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(bars.columns(), index=times)
    return frame if index else frame.reset_index()


@st.composite
def gap_multiples(draw: st.DrawFn, max_others: int = 10) -> list[int]:
    """Gaps between bars in timeframes; 1 is strictly the most common, so it is the mode."""
    others = draw(st.lists(st.integers(2, 6), max_size=max_others))
    ones = draw(st.integers(len(others) + 1, len(others) + 25))
    permuted: list[int] = draw(st.permutations([1] * ones + others))
    return permuted


@st.composite
def valid_bars(draw: st.DrawFn, single: bool | None = None) -> Bars:
    """Any valid bar series: positive prices, consistent OHLC, gaps of whole timeframes."""
    timeframe = draw(st.sampled_from(TIMEFRAMES_NS))
    start = draw(START_SECONDS) * NS
    is_single = draw(st.booleans()) if single is None else single
    gaps = [] if is_single else draw(gap_multiples())
    times = start + np.concatenate(([0], np.cumsum(gaps, dtype=np.int64))) * timeframe
    count = len(times)
    opens = np.array(draw(st.lists(PRICE, min_size=count, max_size=count)))
    closes = np.array(draw(st.lists(PRICE, min_size=count, max_size=count)))
    up = np.array(draw(st.lists(FRACTION, min_size=count, max_size=count)))
    down = np.array(draw(st.lists(FRACTION, min_size=count, max_size=count)))
    volume = np.array(draw(st.lists(VOLUME, min_size=count, max_size=count)))
    # x * (1 + u) >= x and x * (1 - d) <= x hold exactly in floating point for u, d >= 0.
    highs = np.maximum(opens, closes) * (1.0 + up)
    lows = np.minimum(opens, closes) * (1.0 - down)
    return Bars(times.astype(np.int64), timeframe, opens, highs, lows, closes, volume)


TIME_FORMS = (
    "datetime64[ns]",
    "datetime64[s]",
    "iso-z",
    "iso-naive",
    "aware-minus-5h",
    "aware-india",
    "epoch-s",
    "epoch-ms",
    "epoch-us",
    "epoch-ns",
    "epoch-ms-given",
    "epoch-float-s",
    "index",
)


def time_values(times_ns: np.ndarray, form: str) -> object:
    """The open times written in one of the forms users hand to validate_bars."""
    stamps = pd.DatetimeIndex(pd.to_datetime(times_ns, unit="ns", utc=True))
    if form == "datetime64[ns]":
        return times_ns.astype("datetime64[ns]")
    if form == "datetime64[s]":
        return (times_ns // NS).astype("datetime64[s]")
    if form == "iso-z":
        return list(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if form == "iso-naive":
        return list(stamps.strftime("%Y-%m-%d %H:%M:%S"))
    if form == "aware-minus-5h":
        return pd.Series(stamps.tz_convert(dt.timezone(dt.timedelta(hours=-5))))
    if form == "aware-india":
        return pd.Series(stamps.tz_convert("Asia/Kolkata"))
    divisors = {"epoch-s": NS, "epoch-ms": 10**6, "epoch-us": 10**3, "epoch-ns": 1}
    if form in divisors:
        return times_ns // divisors[form]
    if form == "epoch-ms-given":
        return times_ns // 10**6
    if form == "epoch-float-s":
        return (times_ns // NS).astype(np.float64)
    raise AssertionError(form)


def bars_input(bars: Bars, form: str) -> tuple[object, dict[str, object]]:
    """(data, extra keyword arguments) for validate_bars holding ``bars`` in ``form``."""
    if form == "index":
        return bars_frame(bars), {}
    data: dict[str, object] = {"time": time_values(bars.times, form), **bars.columns()}
    extra = {"time_unit": "ms"} if form == "epoch-ms-given" else {}
    return data, extra
