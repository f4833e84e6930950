"""Gaps: missing bars, and the policies that decide what to do about them.

A gap is a run of missing bars: two consecutive timestamps ``d`` apart, with ``d`` at least two
timeframes, leave ``d // timeframe - 1`` bars missing. `apply_gap_policy` applies one of three
policies to a DataFrame; none of them ever drops a row.

* ``"keep"`` (the default, `DEFAULT_GAP_POLICY`): return the data unchanged. The engine
  aligns bars on their close times, so a missing bar is simply a bar on which the strategy is
  not called. This is the only policy that neither refuses real data nor invents prices;
  `quantkit.data.quality.quality_report` counts the gaps so they are not hidden.
* ``"fail"``: raise a `DataError` naming the first gap, for pipelines where a hole means a
  broken download.
* ``"ffill"``: insert one bar per missing bar with ``open = high = low = close`` = the previous
  close and ``volume = 0``, and mark every row in a boolean ``filled`` column (``True`` for
  the inserted ones). The column travels with the frame, is ignored by `validate_bars` and is
  counted by the quality report; a frame attribute could not say which rows were filled.

Why not fill by default: crypto venues have maintenance windows and outages, and a flat bar at
the last price claims trading that did not happen. Indicators then see a period of zero
volatility, and a backtest can fill orders at a stale price nobody traded at. Filling is a
choice to make knowingly (some indicators need a regular grid), so it is opt-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from quantkit.data._frames import frame_symbol, utc_index
from quantkit.data._timestamps import format_ns
from quantkit.data.validation import _match_columns, validate_bars
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    IntArray = npt.NDArray[np.int64]

__all__ = [
    "DEFAULT_GAP_POLICY",
    "GAP_POLICIES",
    "Gap",
    "GapPolicy",
    "apply_gap_policy",
    "apply_gap_policy_to_series",
    "gap_steps",
]

GapPolicy = Literal["fail", "keep", "ffill"]
"""What to do with missing bars: raise, leave them missing, or insert flat zero-volume bars."""

GAP_POLICIES: tuple[GapPolicy, ...] = ("fail", "keep", "ffill")
"""Every gap policy."""

DEFAULT_GAP_POLICY: GapPolicy = "keep"
"""Gaps are kept by default: filling them would invent prices (see the module documentation)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of missing bars.

    Attributes:
        start: Timestamp of the first missing bar, ns since the epoch (UTC).
        end: Timestamp of the bar after the gap (the first present one), ns since the epoch.
        missing: Number of missing bars.
    """

    start: int
    end: int
    missing: int

    def __str__(self) -> str:
        return f"{self.missing} missing from {format_ns(self.start)} to {format_ns(self.end)}"


def gap_steps(times: IntArray, timeframe: int) -> tuple[IntArray, IntArray]:
    """Find the gaps in strictly increasing timestamps.

    Args:
        times: Strictly increasing timestamps, ns.
        timeframe: Bar length, ns.

    Returns:
        The positions ``i`` after which a gap opens (between ``times[i]`` and ``times[i+1]``),
        and the number of bars missing in each: ``(times[i+1] - times[i]) // timeframe - 1``.

    Examples:
        >>> import numpy as np
        >>> after, missing = gap_steps(np.array([0, 1, 4, 5, 7]), 1)
        >>> after.tolist(), missing.tolist()
        ([1, 3], [2, 1])
    """
    missing = np.diff(np.asarray(times, dtype=np.int64)) // np.int64(timeframe) - 1
    after = np.flatnonzero(missing > 0).astype(np.int64)
    return after, missing[after].astype(np.int64)


def apply_gap_policy_to_series(
    series: BarSeries, policy: GapPolicy = DEFAULT_GAP_POLICY, *, source: str = ""
) -> BarSeries:
    """Apply a gap policy to validated bars held as a `BarSeries` (what feeds load).

    Args:
        series: Validated bars.
        policy: ``"keep"`` returns ``series`` itself; ``"fail"`` raises at the first gap;
            ``"ffill"`` returns a new series with each missing bar inserted (open, high, low
            and close at the previous close, volume 0).
        source: Name for error messages (default: the symbol).

    Returns:
        The series, filled or not.

    Raises:
        ConfigError: If the policy is unknown.
        DataError: Under ``"fail"``, naming the first gap; ``row`` is the bar after it.

    Examples:
        >>> import numpy as np
        >>> from quantkit.domain.bars import BarSeries
        >>> t = np.array([0, 3], dtype=np.int64)
        >>> one = np.array([1.0, 2.0])
        >>> bars = BarSeries("X/Y", 1, t, t + 1, one, one, one, one, one)
        >>> apply_gap_policy_to_series(bars, "ffill").close.tolist()
        [1.0, 1.0, 1.0, 2.0]
    """
    if policy not in GAP_POLICIES:
        raise ConfigError(f"gap policy must be one of {GAP_POLICIES}, got {policy!r}")
    if policy == "keep" or len(series) < 2:
        return series
    tf = series.timeframe
    after, missing = gap_steps(series.open_time, tf)
    if not after.size:
        return series
    if policy == "fail":
        first = int(after[0])
        raise DataError(
            f"{int(missing[0])} bar(s) missing between {format_ns(int(series.open_time[first]))} "
            f"and {format_ns(int(series.open_time[first + 1]))} (gap policy 'fail')",
            source=source or series.symbol,
            row=first + 1,
        )
    slots = (series.open_time - series.open_time[0]) // np.int64(tf)
    total = int(slots[-1]) + 1
    owner = np.zeros(total, dtype=np.int64)  # the real bar each slot repeats
    owner[slots] = np.arange(len(series), dtype=np.int64)
    owner = np.maximum.accumulate(owner)
    real = np.zeros(total, dtype=bool)
    real[slots] = True
    close = series.close[owner]
    open_time = series.open_time[0] + np.arange(total, dtype=np.int64) * np.int64(tf)
    return BarSeries(
        series.symbol,
        tf,
        open_time,
        open_time + np.int64(tf),
        np.where(real, series.open[owner], close),
        np.where(real, series.high[owner], close),
        np.where(real, series.low[owner], close),
        close,
        np.where(real, series.volume[owner], 0.0),
    )


def apply_gap_policy(
    frame: pd.DataFrame,
    timeframe: str | int | None = None,
    policy: GapPolicy = DEFAULT_GAP_POLICY,
    *,
    source: str | None = None,
) -> pd.DataFrame:
    """Apply a gap policy to one symbol's bars.

    Args:
        frame: Bars that `validate_bars` accepts (validated first, except under ``"keep"``);
            ``"ffill"`` needs the timestamps in a ``DatetimeIndex``.
        timeframe: Bar length such as ``"1h"``; ``None`` infers it as the most common gap.
        policy: ``"keep"`` (default) returns ``frame`` itself, unchanged; ``"fail"`` raises at
            the first gap and otherwise returns ``frame``; ``"ffill"`` returns a new frame with
            the missing bars inserted and a boolean ``filled`` column.
        source: Name for error messages; defaults to ``frame.attrs["symbol"]``, else ``"data"``.

    Returns:
        The frame, filled or not. Inserted rows hold the previous close as open, high, low and
        close, zero volume, ``filled=True`` and NaN in any other column; the index keeps its
        time zone, resolution and name, and ``attrs`` are kept.

    Raises:
        ConfigError: If the policy is unknown, or ``"ffill"`` gets a frame without a
            ``DatetimeIndex``.
        DataError: If the data is invalid, or has a gap under ``"fail"`` (the message names
            the first gap; ``row`` is the position of the bar after it).

    Examples:
        >>> import pandas as pd
        >>> prices = [1.0, 2.0, 3.0]
        >>> frame = pd.DataFrame(
        ...     {"open": prices, "high": prices, "low": prices, "close": prices,
        ...      "volume": [5.0, 6.0, 7.0]},
        ...     index=pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00",
        ...                           "2024-01-01 04:00"], utc=True),
        ... )
        >>> filled = apply_gap_policy(frame, "1h", "ffill")
        >>> filled["close"].tolist(), filled["volume"].tolist()
        ([1.0, 2.0, 2.0, 2.0, 3.0], [5.0, 6.0, 0.0, 0.0, 7.0])
        >>> filled["filled"].tolist()
        [False, False, True, True, False]
    """
    if policy not in GAP_POLICIES:
        raise ConfigError(f"gap policy must be one of {', '.join(GAP_POLICIES)}, got {policy!r}")
    if policy == "keep":
        return frame
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"apply_gap_policy takes a pandas DataFrame, got {type(frame).__name__}")
    if policy == "ffill" and not isinstance(frame.index, pd.DatetimeIndex):
        raise ConfigError(
            "the 'ffill' gap policy needs the timestamps in a DatetimeIndex; "
            "use frame.set_index('time') first"
        )
    name = source or frame_symbol(frame, "data")
    series = validate_bars(frame, symbol=name, timeframe=timeframe)
    after, missing = gap_steps(series.open_time, series.timeframe)
    if policy == "fail":
        if len(after):
            _raise_first_gap(series, int(after[0]), int(missing[0]), name)
        return frame
    return _forward_fill(frame, series, after, missing, name)


def _raise_first_gap(series: BarSeries, position: int, missing: int, source: str) -> None:
    timeframe = series.timeframe
    start = int(series.open_time[position]) + timeframe
    end = int(series.open_time[position + 1])
    plural = "s" if missing > 1 else ""
    raise DataError(
        f"gap of {missing} missing {format_timeframe(timeframe)} bar{plural} from "
        f"{format_ns(start)} to {format_ns(end)} (the gap policy is 'fail'; use 'keep' or "
        "'ffill' to accept gaps)",
        source=source,
        row=position + 1,
    )


def _forward_fill(
    frame: pd.DataFrame, series: BarSeries, after: IntArray, missing: IntArray, source: str
) -> pd.DataFrame:
    """Insert the missing bars after each gap's previous bar."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    total = int(missing.sum())
    previous = np.repeat(after, missing)
    # 1, 2, ..., missing[k] within each gap: position minus the gap's first position, plus one.
    steps = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(missing) - missing, missing) + 1
    times = series.open_time[previous] + steps * np.int64(series.timeframe)
    original = frame.index
    if not isinstance(original, pd.DatetimeIndex):  # checked by the caller
        raise AssertionError("ffill needs a DatetimeIndex")
    index = utc_index(times)
    index = index.tz_localize(None) if original.tz is None else index.tz_convert(original.tz)
    index = index.as_unit(original.unit).rename(original.name)
    labels = _match_columns([c for c in frame.columns if isinstance(c, str)], source)
    price = series.close[previous]
    values: dict[str, object] = {labels[name]: price for name in ("open", "high", "low", "close")}
    values[labels["volume"]] = np.zeros(total)
    values["filled"] = np.ones(total, dtype=np.bool_)
    inserted = pd.DataFrame(values, index=index)
    result = frame.copy()
    if "filled" not in result.columns:
        result["filled"] = False
    if total:
        result = pd.concat([result, inserted]).sort_index(kind="stable")
    result.attrs = dict(frame.attrs)
    return result
