"""Data quality: a per-symbol report of everything wrong or suspicious in bar data.

`quality_report` runs every check `validate_bars` runs, and a few it does not, without
stopping at the first problem; it collects the zero-based row positions of every offending row.

Problems (`validate_bars` rejects data that has any of them):

* **duplicates**: rows whose timestamp appeared in an earlier row;
* **out of order**: rows whose timestamp is earlier than the previous row's;
* **overlapping**: bars that start less than one timeframe after the previous bar;
* **OHLC**: ``high < max(open, close)`` or ``low > min(open, close)``;
* **non-positive**: an open, high, low or close that is zero or negative;
* **non-finite**: a NaN or infinite value in any of the five columns;
* **negative volume**.

Warnings (allowed, but worth a look):

* **gaps**: missing bars against the timeframe. Between two consecutive timestamps ``d`` apart
  there are ``d // timeframe - 1`` missing bars; ``expected_bars`` is
  ``(last - first) // timeframe + 1`` and, when every bar is on the grid that starts at the
  first bar, ``missing_bars == expected_bars - present`` (``present``: distinct timestamps);
* **off grid**: timestamps that are not a whole number of timeframes after the first one;
* **outliers**: bars whose log return is more than ``outlier_sigma`` robust standard deviations
  from the median log return (see below);
* **zero volume** bars, and **filled** bars (rows marked ``True`` in a ``filled`` column, as
  `quantkit.data.gaps.apply_gap_policy` inserts them).

Outliers use a robust scale, so that the spikes being looked for do not inflate it: the
standard deviation is estimated as ``1.4826 * MAD``, the median absolute deviation from the
median scaled to equal the standard deviation for normal returns. When more than half the
returns are equal (flat, illiquid data) the MAD is zero and ``1.2533 * mean absolute
deviation`` is used instead; if that is zero too, nothing is an outlier. Returns are taken
between consecutive distinct timestamps (in time order, positive finite closes only) and
divided by the square root of the number of bar lengths between them, so that a return across a
gap is not flagged for spanning several bars. A single bad print makes two outliers: its own bar
(the jump in) and the next (the jump back).

What a gap does to the data is decided separately, by a gap policy: see
`quantkit.data.gaps.apply_gap_policy`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._frames import frame_symbol
from quantkit.data._timestamps import parse_timestamps
from quantkit.data.feed import DataFeed
from quantkit.data.gaps import Gap, gap_steps
from quantkit.data.quality_results import QualityReport, SymbolQuality
from quantkit.data.validation import _as_float, _infer_timeframe, _split_input
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import parse_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    BoolArray = npt.NDArray[np.bool_]
    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["QualityReport", "SymbolQuality", "quality_report"]

_MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4): MAD of a normal sample times this is its sigma.
_MEAN_AD_TO_SIGMA = 1.2533  # sqrt(pi / 2): mean absolute deviation of a normal to its sigma.


@dataclass(frozen=True, slots=True)
class _Columns:
    """The raw values of one symbol, in input order, and its own timeframe if it has one."""

    times: IntArray
    values: dict[str, FloatArray]
    filled: BoolArray
    timeframe: int | None


def quality_report(
    data: pd.DataFrame | BarSeries | DataFeed | Mapping[str, pd.DataFrame | BarSeries],
    *,
    timeframe: str | int | None = None,
    outlier_sigma: float = 6.0,
    symbol: str | None = None,
) -> QualityReport:
    """Check bar data without raising on what is wrong with it, and report per symbol.

    A DataFrame is read the way `validate_bars` reads it (timestamps from a ``DatetimeIndex``
    or a time column, column names in any case) but nothing stops the checks: every offending
    row is collected. A feed is loaded first, and feeds validate what they load, so a feed's
    report can only hold warnings; to see the problems of raw data, pass the frames.

    Args:
        data: A DataFrame, a `BarSeries`, a `DataFeed`, or a mapping of symbol to DataFrame or
            `BarSeries`.
        timeframe: Bar length to check gaps against. ``None`` uses a series' own timeframe and
            infers a frame's as the most common gap between its distinct timestamps.
        outlier_sigma: How many robust standard deviations from the median a log return must be
            to count as an outlier.
        symbol: Name of a single DataFrame; defaults to ``frame.attrs["symbol"]``, else
            ``"data"``.

    Returns:
        The report.

    Raises:
        ConfigError: If ``data`` is of another type, or ``timeframe`` or ``outlier_sigma`` is
            invalid.
        DataError: If a frame lacks a required column, holds non-numbers or timestamps that do
            not parse (the report needs them), or a feed fails to load.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame(
        ...     {"open": [1.0, 1.0, 1.0], "high": [1.0, 1.0, 1.0], "low": [1.0, 1.0, 1.0],
        ...      "close": [1.0, 1.0, 1.0], "volume": [5.0, 0.0, 5.0]},
        ...     index=pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00",
        ...                           "2024-01-01 04:00"], utc=True),
        ... )
        >>> report = quality_report(frame, symbol="BTC/USDT", timeframe="1h")
        >>> item = report["BTC/USDT"]
        >>> item.expected_bars, item.missing_bars, item.zero_volume.tolist(), report.ok
        (5, 2, [1], True)
    """
    if isinstance(outlier_sigma, bool) or not isinstance(outlier_sigma, int | float):
        raise ConfigError(f"outlier_sigma must be a number, got {outlier_sigma!r}")
    if not math.isfinite(outlier_sigma) or outlier_sigma <= 0:
        raise ConfigError(f"outlier_sigma must be a positive number, got {outlier_sigma!r}")
    length = None if timeframe is None else parse_timeframe(timeframe)
    sigma = float(outlier_sigma)
    items: dict[str, SymbolQuality] = {}
    for name, source in _sources(data, symbol).items():
        items[name] = _analyse(name, _columns(source, name), length, sigma)
    return QualityReport(items)


def _sources(data: object, symbol: str | None) -> dict[str, pd.DataFrame | BarSeries]:
    """Symbol to frame or series, for every accepted form of ``data``."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if isinstance(data, BarSeries):
        return {symbol or data.symbol: data}
    if isinstance(data, pd.DataFrame):
        return {symbol or frame_symbol(data, "data"): data}
    if isinstance(data, DataFeed):
        return dict(data.load())
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str) or not isinstance(value, pd.DataFrame | BarSeries):
                raise ConfigError(
                    "a mapping passed to quality_report must map symbols to DataFrames or "
                    f"BarSeries, got {key!r}: {type(value).__name__}"
                )
        return dict(data)
    raise ConfigError(
        "quality_report takes a DataFrame, a BarSeries, a DataFeed or a mapping of symbol to "
        f"DataFrame, got {type(data).__name__}"
    )


def _columns(source: pd.DataFrame | BarSeries, name: str) -> _Columns:
    """Raw values of a series or a frame (frames are parsed, not validated)."""
    if isinstance(source, BarSeries):
        values = {c: np.asarray(getattr(source, c), dtype=np.float64) for c in _OHLCV}
        times = np.asarray(source.open_time, dtype=np.int64)
        return _Columns(times, values, np.zeros(len(times), np.bool_), source.timeframe)
    raw_times, raw_columns = _split_input(source, name, None)
    values = {c: _as_float(raw_columns[c], c, name) for c in _OHLCV}
    parsed = parse_timestamps(raw_times, source=name)
    if parsed.first_bad != -1:
        raise DataError(parsed.problem, source=name, row=parsed.first_bad)
    marks = np.zeros(len(parsed.ns), dtype=np.bool_)
    for label in source.columns:
        if str(label).lower() == "filled":
            marks = source[label].fillna(value=False).to_numpy(dtype=np.bool_)
    return _Columns(parsed.ns, values, marks, None)


_OHLCV = ("open", "high", "low", "close", "volume")


def _rows(mask: BoolArray) -> IntArray:
    """Positions of the true entries, as a read-only int64 array."""
    found = np.flatnonzero(mask).astype(np.int64)
    found.flags.writeable = False
    return found


def _value_problems(v: dict[str, FloatArray]) -> dict[str, IntArray]:
    """Rows with NaN/inf, non-positive prices, negative volume or inconsistent OHLC."""
    prices = [v[c] for c in _OHLCV[:4]]
    finite = np.logical_and.reduce([np.isfinite(x) for x in (*prices, v["volume"])])
    with np.errstate(invalid="ignore"):
        ohlc = (v["high"] < np.maximum(v["open"], v["close"])) | (
            v["low"] > np.minimum(v["open"], v["close"])
        )
        non_positive = np.logical_or.reduce([x <= 0 for x in prices])
        return {
            "ohlc": _rows(ohlc),
            "non_positive": _rows(non_positive),
            "non_finite": _rows(~finite),
            "negative_volume": _rows(v["volume"] < 0),
            "zero_volume": _rows(v["volume"] == 0),
        }


def _analyse(symbol: str, raw: _Columns, timeframe: int | None, sigma: float) -> SymbolQuality:
    """Run every check over one symbol's values."""
    times = raw.times
    distinct, first_rows = np.unique(times, return_index=True)
    steps = np.diff(distinct)
    if timeframe is None:
        timeframe = raw.timeframe or _infer_timeframe(steps)
    backwards = np.zeros(len(times), dtype=np.bool_)
    backwards[1:] = times[1:] < times[:-1]
    duplicate = np.ones(len(times), dtype=np.bool_)
    duplicate[first_rows] = False
    gaps, missing, overlapping, off_grid = _timeline(distinct, first_rows, steps, timeframe)
    present = len(distinct)
    expected = present
    if timeframe is not None and present:
        expected = (int(distinct[-1]) - int(distinct[0])) // timeframe + 1
    closes = raw.values["close"][first_rows]
    return SymbolQuality(
        symbol=symbol,
        timeframe=timeframe,
        rows=len(times),
        first=int(distinct[0]) if present else None,
        last=int(distinct[-1]) if present else None,
        expected_bars=expected,
        missing_bars=missing,
        gaps=gaps,
        duplicates=_rows(duplicate),
        out_of_order=_rows(backwards),
        overlapping=overlapping,
        off_grid=off_grid,
        outliers=_outliers(distinct, closes, first_rows, timeframe, sigma),
        filled=_rows(raw.filled),
        outlier_sigma=sigma,
        **_value_problems(raw.values),
    )


def _sorted_rows(rows: IntArray) -> IntArray:
    found = np.sort(rows).astype(np.int64)
    found.flags.writeable = False
    return found


def _timeline(
    distinct: IntArray, first_rows: IntArray, steps: IntArray, timeframe: int | None
) -> tuple[tuple[Gap, ...], int, IntArray, IntArray]:
    """Gaps, missing bars, overlapping rows and off-grid rows along the distinct timestamps."""
    if timeframe is None or not len(distinct):
        empty = _rows(np.zeros(0, dtype=np.bool_))
        return (), 0, empty, empty
    after, counts = gap_steps(distinct, timeframe)
    gaps = tuple(
        Gap(int(distinct[i]) + timeframe, int(distinct[i + 1]), count)
        for i, count in zip(after.tolist(), counts.tolist(), strict=True)
    )
    overlap = np.zeros(len(distinct), dtype=np.bool_)
    overlap[1:] = steps < timeframe
    off = (distinct - distinct[0]) % np.int64(timeframe) != 0
    return gaps, int(counts.sum()), _sorted_rows(first_rows[overlap]), _sorted_rows(first_rows[off])


def _outliers(
    times: IntArray, closes: FloatArray, rows: IntArray, timeframe: int | None, sigma: float
) -> IntArray:
    """Rows whose scaled log return is more than ``sigma`` robust deviations from the median."""
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(closes) & (closes > 0)
    times, closes, rows = times[usable], closes[usable], rows[usable]
    returns = np.diff(np.log(closes))
    if timeframe is not None:
        returns /= np.sqrt(np.maximum(np.diff(times) / timeframe, 1.0))
    deviation = np.abs(returns - np.median(returns)) if len(returns) else returns
    scale = _MAD_TO_SIGMA * float(np.median(deviation)) if len(returns) else 0.0
    if scale == 0 and len(returns):
        scale = _MEAN_AD_TO_SIGMA * float(deviation.mean())
    if scale == 0:
        return _rows(np.zeros(0, dtype=np.bool_))
    return _sorted_rows(rows[1:][deviation > sigma * scale])
