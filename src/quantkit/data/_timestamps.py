"""Timestamps: whatever a user holds, turned into int64 nanoseconds since the Unix epoch (UTC).

Accepted inputs, column by column:

* datetime64 values (numpy or pandas): naive values are taken as UTC, tz-aware values are
  converted to UTC;
* strings and ``datetime`` objects, parsed by pandas (ISO 8601 first, then pandas' inference);
* integer or float epochs, in the unit the caller names, or a unit detected from the largest
  magnitude (see `detect_epoch_unit`).

Problems are not raised here row by row: `parse_timestamps` returns the first bad row and a
description so that the validator can report whichever problem comes first in the data.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    BoolArray = npt.NDArray[np.bool_]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "TimeLike",
    "TimeUnit",
    "detect_epoch_unit",
    "first_true",
    "format_ns",
    "parse_instant",
    "parse_timestamps",
]

TimeUnit = Literal["s", "ms", "us", "ns"]
"""Unit of integer or float epoch timestamps."""

TimeLike = str | dt.datetime | dt.date | np.datetime64
"""A single point in time: ISO string, ``datetime``/``pandas.Timestamp``, ``date`` or datetime64."""

_FACTORS: dict[str, int] = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_INT64_MAX = int(np.iinfo(np.int64).max)
_NO_ROW = -1
_NUMERIC_DATE = re.compile(r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}(?:$|[\sT])")


@dataclass(frozen=True, slots=True)
class ParsedTimes:
    """Result of `parse_timestamps`.

    Attributes:
        ns: Nanoseconds since the epoch, UTC; meaningless at and after ``first_bad``.
        first_bad: Position of the first row that could not be parsed, or ``-1``.
        problem: What is wrong with that row (empty when every row parsed).
    """

    ns: IntArray
    first_bad: int = _NO_ROW
    problem: str = ""


def format_ns(nanoseconds: int) -> str:
    """Return an ISO 8601 UTC rendering of a nanosecond timestamp, e.g. ``2024-01-01T00:00:00Z``.

    Args:
        nanoseconds: Nanoseconds since the Unix epoch.

    Returns:
        The timestamp, to the second when it is whole seconds, else to the nanosecond.
    """
    unit: Literal["s", "ns"] = "s" if nanoseconds % 10**9 == 0 else "ns"
    text = np.datetime_as_string(np.datetime64(int(nanoseconds), "ns"), unit=unit)
    return f"{text}Z"


def detect_epoch_unit(magnitude: float) -> TimeUnit:
    """Guess the unit of epoch timestamps from the largest absolute value among them.

    Present-day instants are about ``1.7e9`` seconds, ``1.7e12`` ms, ``1.7e15`` us and
    ``1.7e18`` ns since 1970, so the ranges below are unambiguous for any date after
    March 1973 and before the year 5000.

    Args:
        magnitude: Largest absolute epoch value in the data.

    Returns:
        ``"s"`` below ``1e11``, ``"ms"`` below ``1e14``, ``"us"`` below ``1e17``, else ``"ns"``.
    """
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    if magnitude < 1e17:
        return "us"
    return "ns"


def first_true(mask: BoolArray) -> int:
    """Return the position of the first ``True`` in ``mask``, or ``-1`` if there is none.

    Args:
        mask: A one-dimensional boolean array.

    Returns:
        The position, found without a Python loop.
    """
    if mask.size == 0:
        return _NO_ROW
    position = int(mask.argmax())
    return position if mask[position] else _NO_ROW


def _describe(values: object, row: int, missing: BoolArray | None, unit: str | None) -> str:
    """Say what is wrong with timestamp ``row``: missing, or outside the representable range."""
    if missing is not None and missing[row]:
        return "timestamp is missing"
    value = np.asarray(values, dtype=object)[row]
    shown = f"{value!r} (epoch in {unit})" if unit else str(value)
    return f"timestamp {shown} is outside the representable range (1677-09-21 to 2262-04-11)"


def _epoch_to_ns(
    values: npt.NDArray[np.integer] | npt.NDArray[np.floating],
    missing: BoolArray | None,
    unit: TimeUnit | None,
    original: object,
    *,
    epoch: bool = True,
) -> ParsedTimes:
    """Scale epoch values to int64 nanoseconds, flagging missing and out-of-range rows."""
    is_float = values.dtype.kind == "f"
    if is_float:
        not_finite = ~np.isfinite(values)
        missing = not_finite if missing is None else missing | not_finite
    present = values if missing is None else values[~missing]
    if unit is None:
        magnitude = float(max(abs(present.max()), abs(present.min()))) if present.size else 0.0
        unit = detect_epoch_unit(magnitude)
    factor = _FACTORS[unit]
    limit = _INT64_MAX // factor
    if is_float:
        # Compare as floats and leave one part in 1e9 of headroom for the rounding of value*factor.
        float_limit = limit * (1 - 1e-9)
        out_of_range = (values > float_limit) | (values < -float_limit)
    else:
        out_of_range = (values > limit) | (values < -limit)
    bad = out_of_range if missing is None else out_of_range | missing
    first_bad = first_true(bad)
    safe = np.where(bad, 0, values) if first_bad != _NO_ROW else values
    if is_float:
        # Whole and fractional parts apart: value * factor would lose the nanoseconds.
        whole = np.floor(safe)
        ns = whole.astype(np.int64) * np.int64(factor)
        ns += np.rint((safe - whole) * factor).astype(np.int64)
    else:
        ns = safe.astype(np.int64) * np.int64(factor)
    if first_bad == _NO_ROW:
        return ParsedTimes(ns)
    problem = _describe(original, first_bad, missing, unit if epoch else None)
    return ParsedTimes(ns, first_bad, problem)


def _datetimes_to_ns(values: object, missing: BoolArray | None = None) -> ParsedTimes:
    """Convert pandas datetime-like values (naive = UTC, aware converted) to nanoseconds."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    index = pd.DatetimeIndex(values)  # type: ignore[arg-type]
    # The stored integers of a DatetimeIndex are UTC-based whether or not it carries a zone;
    # a naive index holds wall-clock UTC by our convention. Only the resolution differs.
    nat = np.asarray(index.isna())
    missing = nat if missing is None else missing | nat
    ints = np.asarray(index.asi8, dtype=np.int64)
    unit: TimeUnit = index.unit
    return _epoch_to_ns(ints, missing, unit, values, epoch=False)


def _to_datetime(series: pd.Series[Any], fmt: str | None, *, dayfirst: bool = False) -> Any:
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    with warnings.catch_warnings():
        # pandas warns when it falls back to parsing element by element; that is fine here.
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(series, utc=True, errors="coerce", format=fmt, dayfirst=dayfirst)


def _day_month_order(series: pd.Series[Any], missing: BoolArray, source: str) -> Any | None:
    """Parse ``01/02/2024``-style dates in the one order that is valid, or refuse.

    Returns ``None`` when the values are not such dates or neither order parses them all.
    Either order is taken only when the other cannot be right: it leaves a value unparsed (a
    day above 12) or puts the times out of order. When both orders give valid, increasing
    times, the dates are ambiguous and refused rather than guessed.
    """
    present = series[~missing]
    if present.empty or not all(_NUMERIC_DATE.match(str(value)) for value in present.iloc[:20]):
        return None
    readings = {}
    for dayfirst in (True, False):
        parsed = _to_datetime(series, None, dayfirst=dayfirst)
        complete = not (np.asarray(parsed.isna()) & ~missing).any()
        times = np.asarray(parsed[~missing].astype("int64"))
        if complete and bool(np.all(np.diff(times) > 0)):
            readings[dayfirst] = parsed
    if len(readings) == 1:
        return next(iter(readings.values()))
    if not readings:
        return None
    example = str(present.iloc[0])
    raise DataError(
        f"dates such as {example!r} read as valid, increasing times both day-first and "
        "month-first; write them as ISO 8601 (2024-01-31) or parse them yourself "
        "(pandas.to_datetime(..., dayfirst=True)) and pass a DataFrame",
        source=source,
    )


def _strings_to_ns(values: object, source: str = "") -> ParsedTimes:
    """Parse strings, ``datetime`` objects and other objects with pandas."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if isinstance(values, pd.Series):
        series = values.reset_index(drop=True)
    else:
        series = pd.Series(np.asarray(values, dtype=object), dtype=object)
    missing = np.asarray(series.isna())
    attempts = []
    for fmt in ("ISO8601", None):
        parsed = _to_datetime(series, fmt)
        if fmt is None:
            ordered = _day_month_order(series, missing, source)
            parsed = parsed if ordered is None else ordered
        unparsed = np.asarray(parsed.isna()) & ~missing
        attempts.append((first_true(unparsed), parsed))
        if attempts[-1][0] == _NO_ROW:
            break
    # Keep the attempt that got furthest; its first failure is the most useful one to report.
    first_unparsed, parsed = max(attempts, key=lambda a: _INT64_MAX if a[0] < 0 else a[0])
    result = _datetimes_to_ns(parsed, missing)
    if first_unparsed != _NO_ROW and result.first_bad == first_unparsed:
        problem = f"cannot parse timestamp {series.iloc[first_unparsed]!r}"
        return ParsedTimes(result.ns, first_unparsed, problem)
    return result


def parse_timestamps(values: object, *, source: str, unit: TimeUnit | None = None) -> ParsedTimes:
    """Convert a column of timestamps to int64 nanoseconds since the epoch, UTC.

    Args:
        values: A sequence, numpy array, pandas Series or Index of timestamps.
        source: Where the data came from, for error messages.
        unit: Unit of integer or float epochs; detected from their magnitude when ``None``.

    Returns:
        The converted times and the first row that could not be converted, if any.

    Raises:
        DataError: If the column as a whole cannot hold timestamps (e.g. booleans).
        ConfigError: If ``unit`` is not one of ``"s"``, ``"ms"``, ``"us"``, ``"ns"``.
    """
    if unit is not None and unit not in _FACTORS:
        raise ConfigError(f"time_unit must be one of 's', 'ms', 'us', 'ns', got {unit!r}")
    dtype = getattr(values, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype):
        return _extension_to_ns(values, unit, source)
    array = np.asarray(values)
    kind = array.dtype.kind
    if kind == "M":
        return _datetimes_to_ns(array)
    if kind in "iuf":
        return _epoch_to_ns(array, None, unit, values)
    if kind in "OUS":
        return _strings_to_ns(array, source)
    raise DataError(
        f"timestamps must be datetimes, strings or integer epochs, not {array.dtype}",
        source=source,
    )


def _extension_to_ns(values: object, unit: TimeUnit | None, source: str) -> ParsedTimes:
    """Handle pandas extension dtypes: tz-aware datetimes, nullable numbers, strings."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`
    from pandas.api import types  # noqa: PLC0415

    series = pd.Series(values)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _datetimes_to_ns(series)
    if types.is_bool_dtype(series.dtype):
        raise DataError(
            f"timestamps must be datetimes, strings or integer epochs, not {series.dtype}",
            source=source,
        )
    if types.is_numeric_dtype(series.dtype):
        missing = np.asarray(series.isna())
        target = np.int64 if types.is_integer_dtype(series.dtype) else np.float64
        array = series.to_numpy(dtype=target, na_value=0)
        return _epoch_to_ns(array, missing if missing.any() else None, unit, series)
    return _strings_to_ns(series, source)


def parse_instant(value: TimeLike, *, name: str) -> int:
    """Convert one user-given instant (``start=``/``end=``) to nanoseconds since the epoch, UTC.

    Args:
        value: An ISO 8601 string, ``datetime``, ``date``, ``pandas.Timestamp`` or datetime64.
            Naive values are taken as UTC; aware values are converted.
        name: The argument's name, for error messages.

    Returns:
        Nanoseconds since the Unix epoch.

    Raises:
        ConfigError: If the value is not a point in time.
    """
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if not isinstance(value, str | dt.date | np.datetime64):
        raise ConfigError(
            f"{name} must be a date string such as '2024-01-01', a datetime or a date, "
            f"got {value!r}"
        )
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={value!r} is not a date or time: {exc}") from exc
    if pd.isna(stamp):
        raise ConfigError(f"{name}={value!r} is not a date or time")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)
