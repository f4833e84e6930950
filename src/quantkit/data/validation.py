"""Validation of user bar data into a `BarSeries`.

`validate_bars` is the single gate every feed passes its data through. It never drops,
reorders or repairs anything: the first problem found stops it with one
`DataError` that names the source, the zero-based row position and what
is wrong. The rules, in the order they are checked within one row:

1. the timestamp parses (naive = UTC, aware converted to UTC, epochs in s/ms/us/ns);
2. it is not a duplicate of the previous row's, and not earlier than it;
3. it is at least one timeframe after the previous row's (bars must not overlap; gaps are fine);
4. open, high, low, close and volume are finite numbers (no NaN, no inf);
5. open, high, low and close are > 0;
6. volume is >= 0;
7. high >= max(open, close);
8. low <= min(open, close).

Whatever the kind of problem, the one reported is in the earliest offending row. A timeframe
that is given but shorter than the usual gap between bars is allowed, with a ``UserWarning``.
All checks are vectorised: a million rows with datetime or epoch timestamps validate in a few
tens of milliseconds (string timestamps add pandas' parsing, about half a second per million).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from quantkit.data._polars import is_polars_frame, polars_columns
from quantkit.data._timestamps import TimeUnit, first_true, format_ns, parse_timestamps
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    import polars as pl

    BoolArray = npt.NDArray[np.bool_]
    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = [
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "TIME_COLUMNS",
    "BarLabel",
    "check_series",
    "validate_bars",
]

BarLabel = Literal["open", "close"]
"""Which end of its bar a timestamp marks."""

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED_COLUMNS = (*PRICE_COLUMNS, "volume")
TIME_COLUMNS = ("time", "timestamp", "date", "datetime", "open_time")
"""Column names recognised (case-insensitively) as timestamps when no ``time_column`` is given."""

_NONE = -1
_Check = tuple[int, Callable[[int], str]]


def validate_bars(
    data: pd.DataFrame | pl.DataFrame | pl.LazyFrame | Mapping[str, npt.ArrayLike],
    *,
    symbol: str,
    source: str | None = None,
    timeframe: str | int | None = None,
    label: BarLabel = "open",
    time_column: str | None = None,
    time_unit: TimeUnit | None = None,
) -> BarSeries:
    """Check OHLCV data and return it as a validated `BarSeries`.

    Column names are matched case-insensitively; extra columns are ignored. Timestamps come from
    ``time_column``, else from a ``DatetimeIndex``, else from the one column named ``time``,
    ``timestamp``, ``date``, ``datetime`` or ``open_time``. Row positions in error messages are
    zero-based positions in ``data`` (for a CSV file, row 0 is the first line after the header).

    Args:
        data: A pandas DataFrame, a Polars ``DataFrame`` or ``LazyFrame`` (collected once;
            timestamps from a column), or a mapping of column name to a sequence or 1-D array.
        symbol: Market symbol of the bars, e.g. ``"BTC/USDT"``.
        source: Where the data came from (file name...), used in error messages; defaults to
            ``symbol``.
        timeframe: Bar length such as ``"1h"`` or nanoseconds. ``None`` infers it as the most
            common gap between consecutive timestamps (the smallest one on a tie).
        label: ``"open"`` if timestamps are bar open times, ``"close"`` if they are close times.
            Either way ``close_time = open_time + timeframe``.
        time_column: Name of the timestamp column (or of the index) when it is not one of the
            recognised names.
        time_unit: Unit of integer or float epoch timestamps (``"s"``, ``"ms"``, ``"us"``,
            ``"ns"``). ``None`` detects it from the magnitude: below 1e11 seconds, below 1e14
            milliseconds, below 1e17 microseconds, else nanoseconds.

    Returns:
        The bars, with contiguous read-only int64 (ns since the epoch, UTC) and float64 arrays
        that share no memory with ``data``.

    Raises:
        DataError: If the data is empty, a column is missing, the timeframe cannot be inferred
            (a single bar) or any row breaks a rule; the message names source, row and problem.
        ConfigError: If ``symbol``, ``timeframe``, ``label`` or ``time_unit`` is invalid.

    Examples:
        >>> bars = validate_bars(
        ...     {
        ...         "time": ["2024-01-01 00:00", "2024-01-01 01:00"],
        ...         "open": [100.0, 101.0],
        ...         "high": [102.0, 103.0],
        ...         "low": [99.0, 100.5],
        ...         "close": [101.0, 102.5],
        ...         "volume": [5.0, 7.5],
        ...     },
        ...     symbol="BTC/USDT",
        ... )
        >>> len(bars), bars.timeframe == 3600 * 10**9
        (2, True)
    """
    if not isinstance(symbol, str) or not symbol:
        raise ConfigError(f"symbol must be a non-empty string, got {symbol!r}")
    if label not in ("open", "close"):
        raise ConfigError(f"label must be 'open' or 'close', got {label!r}")
    given_timeframe = None if timeframe is None else parse_timeframe(timeframe)
    name = source or symbol
    table = (
        polars_columns(data, name)
        if is_polars_frame(data)
        else cast("pd.DataFrame | Mapping[str, npt.ArrayLike]", data)
    )
    raw_times, raw_columns = _split_input(table, name, time_column)
    count = _length(raw_times, name)
    if count == 0:
        raise DataError("no bars: the data is empty", source=name)
    columns = {key: _as_float(raw, key, name) for key, raw in raw_columns.items()}
    for key, values in columns.items():
        if len(values) != count:
            raise DataError(
                f"column {key!r} has {len(values)} values but there are {count} timestamps",
                source=name,
            )
    parsed = parse_timestamps(raw_times, source=name, unit=time_unit)
    times = parsed.ns
    steps = np.diff(times)
    time_checks = _time_order_checks(times, steps, parsed.first_bad, parsed.problem)
    valid_until = min((row for row, _ in time_checks if row != _NONE), default=len(times))
    bar_length = given_timeframe or _infer_timeframe(steps[: max(valid_until - 1, 0)])
    if bar_length is not None:
        time_checks.append(_overlap_check(steps[: max(valid_until - 1, 0)], bar_length))
    problem = _earliest([*time_checks, *_value_checks(columns)])
    if problem is not None:
        raise DataError(problem[1], source=name, row=problem[0])
    if bar_length is None:
        raise DataError(
            "cannot infer the timeframe from a single bar; pass timeframe=, e.g. '1h'",
            source=name,
        )
    if given_timeframe is not None:
        _warn_if_sparse(steps, given_timeframe, name)
    return _build(symbol, bar_length, times, label, columns)


def _split_input(
    data: pd.DataFrame | Mapping[str, npt.ArrayLike], source: str, time_column: str | None
) -> tuple[npt.ArrayLike, dict[str, npt.ArrayLike]]:
    """Return the raw timestamps and the raw required columns of ``data``."""
    if isinstance(data, Mapping):
        labels = [key for key in data if isinstance(key, str)]
        key_of_time = _find_time_column(labels, time_column, source, index_name=None)
        if key_of_time is None:
            raise AssertionError("a mapping has no index to take timestamps from")
        matched = _match_columns(labels, source)
        return data[key_of_time], {key: data[label] for key, label in matched.items()}
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"data must be a pandas or Polars DataFrame or a mapping of column name to values, "
            f"got {type(data).__name__}"
        )
    labels = [key for key in data.columns if isinstance(key, str)]
    index = data.index
    index_name = index.name if isinstance(index.name, str) else None
    if time_column is None and isinstance(index, pd.DatetimeIndex):
        time_key: str | None = None
    else:
        time_key = _find_time_column(labels, time_column, source, index_name=index_name)
    raw_times = index if time_key is None else data[time_key]
    matched = _match_columns(labels, source)
    return raw_times, {key: data[label] for key, label in matched.items()}


def _find_time_column(
    labels: list[str], wanted: str | None, source: str, *, index_name: str | None
) -> str | None:
    """Return the label of the timestamp column, or ``None`` for the index."""
    if wanted is not None:
        return _named_time_column(labels, wanted, source, index_name=index_name)
    candidates = [label for name in TIME_COLUMNS for label in labels if label.lower() == name]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise DataError(
            f"several possible time columns {candidates}; pass time_column= to choose one",
            source=source,
        )
    raise DataError(
        "no timestamps: expected a DatetimeIndex or a column named "
        f"{', '.join(TIME_COLUMNS)} (pass time_column= to name another); "
        f"columns found: {labels}",
        source=source,
    )


def _named_time_column(
    labels: list[str], wanted: str, source: str, *, index_name: str | None
) -> str | None:
    """The column called ``wanted`` (exactly, else ignoring case), or ``None`` for the index."""
    found = [label for label in labels if label == wanted]
    found = found or [label for label in labels if label.lower() == wanted.lower()]
    if len(found) == 1:
        return found[0]
    if found:
        raise DataError(f"several columns are named {wanted!r}: {found}", source=source)
    if index_name is not None and index_name.lower() == wanted.lower():
        return None
    names = labels + ([index_name] if index_name else [])
    raise DataError(f"no time column {wanted!r}{_suggest(wanted, names)}", source=source)


def _match_columns(labels: list[str], source: str) -> dict[str, str]:
    """Map each required column name to its (case-insensitive) label in ``labels``."""
    matched: dict[str, str] = {}
    missing: list[str] = []
    for name in REQUIRED_COLUMNS:
        found = [label for label in labels if label.lower() == name]
        if len(found) > 1:
            raise DataError(
                f"column {name!r} appears more than once (ignoring case): {found}", source=source
            )
        if found:
            matched[name] = found[0]
        else:
            missing.append(name)
    if missing:
        unused = [label for label in labels if label not in matched.values()]
        described = ", ".join(f"{name!r}{_suggest(name, unused)}" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise DataError(f"missing required column{plural} {described}", source=source)
    return matched


def _suggest(name: str, labels: list[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for close matches of ``name`` among ``labels``."""
    by_lower = {label.lower(): label for label in labels}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(by_lower[c]) for c in close) + "?)"


def _length(raw_times: npt.ArrayLike, source: str) -> int:
    """Number of timestamps, or a DataError if they are not a sequence."""
    try:
        return len(raw_times)  # type: ignore[arg-type]
    except TypeError:
        raise DataError("timestamps must be a one-dimensional sequence", source=source) from None


def _as_float(raw: npt.ArrayLike, name: str, source: str) -> FloatArray:
    """Return ``raw`` as a new contiguous float64 array, or raise naming the bad row."""
    try:
        to_numpy = getattr(raw, "to_numpy", None)
        if to_numpy is not None:
            values = to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        values = _coerce_numbers(raw, name, source)
    if values.ndim != 1:
        raise DataError(f"column {name!r} must be one-dimensional", source=source)
    return np.array(values, dtype=np.float64, order="C", copy=True)


def _coerce_numbers(raw: npt.ArrayLike, name: str, source: str) -> FloatArray:
    """Convert a column numpy could not (mixed objects, categories); raise at a non-number."""
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    objects = np.asarray(raw, dtype=object)
    if objects.ndim != 1:
        raise DataError(f"column {name!r} must be one-dimensional", source=source)
    original = pd.Series(objects, dtype=object)
    numbers = pd.to_numeric(original, errors="coerce")
    row = first_true(np.asarray(numbers.isna() & original.notna()))
    if row != _NONE:
        raise DataError(f"{name} {objects[row]!r} is not a number", source=source, row=row)
    return np.asarray(numbers, dtype=np.float64)


def _after(mask: BoolArray) -> int:
    """Like `first_true` for a mask over ``np.diff``: the row is one past the step."""
    step = first_true(mask)
    return _NONE if step == _NONE else step + 1


def _time_order_checks(
    times: IntArray, steps: IntArray, unparsed: int, unparsed_problem: str
) -> list[_Check]:
    """Unparsable, duplicate and backwards timestamps, as (first row, describe) pairs."""

    def duplicate(row: int) -> str:
        return f"duplicate timestamp {format_ns(int(times[row]))} (same as row {row - 1})"

    def backwards(row: int) -> str:
        return (
            f"timestamp {format_ns(int(times[row]))} is earlier than the previous row's "
            f"({format_ns(int(times[row - 1]))}); rows must be in increasing time order"
        )

    return [
        (unparsed, lambda _row: unparsed_problem),
        (_after(steps == 0), duplicate),
        (_after(steps < 0), backwards),
    ]


def _infer_timeframe(steps: IntArray) -> int | None:
    """Most common gap in ``steps`` (all positive), the smallest on a tie; None if no gap."""
    if steps.size == 0:
        return None
    first = steps[0]
    if bool((steps == first).all()):
        return int(first)
    gaps, counts = np.unique(steps, return_counts=True)
    return int(gaps[counts.argmax()])


def _warn_if_sparse(steps: IntArray, bar_length: int, source: str) -> None:
    """Warn when a given timeframe is shorter than the usual gap: probably the wrong one."""
    usual = _infer_timeframe(steps)
    if usual is not None and usual > bar_length:
        warnings.warn(
            f"{source}: the timeframe {format_timeframe(bar_length)} is shorter than the usual "
            f"gap of {format_timeframe(usual)} between bars; is the timeframe right?",
            UserWarning,
            stacklevel=3,
        )


def _overlap_check(steps: IntArray, bar_length: int) -> _Check:
    """Bars closer together than one timeframe would overlap."""

    def describe(row: int) -> str:
        gap = format_timeframe(int(steps[row - 1]))
        return (
            f"timestamp is only {gap} after the previous row's, less than the "
            f"{format_timeframe(bar_length)} timeframe, so the bars would overlap"
        )

    return _after(steps < bar_length), describe


def _not_finite(name: str, values: FloatArray) -> _Check:
    return first_true(~np.isfinite(values)), lambda row: f"{name} is {float(values[row])!r}"


def _not_positive(name: str, values: FloatArray) -> _Check:
    def describe(row: int) -> str:
        return f"{name} is {float(values[row])!r}; prices must be > 0"

    return first_true(values <= 0), describe


def _negative_volume(volume: FloatArray) -> _Check:
    def describe(row: int) -> str:
        return f"volume is {float(volume[row])!r}; volume must be >= 0"

    return first_true(volume < 0), describe


def _value_checks(columns: Mapping[str, FloatArray]) -> list[_Check]:
    """Finite numbers, positive prices, non-negative volume and OHLC consistency."""
    checks = [_not_finite(name, columns[name]) for name in REQUIRED_COLUMNS]
    checks += [_not_positive(name, columns[name]) for name in PRICE_COLUMNS]
    checks.append(_negative_volume(columns["volume"]))
    opens, highs, lows, closes = (columns[name] for name in PRICE_COLUMNS)
    top = np.maximum(opens, closes)
    bottom = np.minimum(opens, closes)
    checks.append(
        (
            first_true(highs < top),
            lambda row: (
                f"high {float(highs[row])!r} is below max(open, close) = {float(top[row])!r}"
            ),
        )
    )
    checks.append(
        (
            first_true(lows > bottom),
            lambda row: (
                f"low {float(lows[row])!r} is above min(open, close) = {float(bottom[row])!r}"
            ),
        )
    )
    return checks


def check_series(series: BarSeries, *, source: str = "") -> None:
    """Check an existing `BarSeries` in place, without copying it.

    The same rules as `validate_bars` (time order, overlap, finite numbers, positive prices,
    non-negative volume, OHLC consistency), for bars read back from a store or built by hand.

    Args:
        series: The bars to check.
        source: Where they came from, for the error message (default: the symbol).

    Raises:
        DataError: Naming the source, the first bad row and the problem.

    Examples:
        >>> import numpy as np
        >>> from quantkit.domain.bars import BarSeries
        >>> t = np.array([0, 60], dtype=np.int64) * 10**9
        >>> one = np.array([1.0, 1.0])
        >>> check_series(BarSeries("X/Y", 60 * 10**9, t, t + 60 * 10**9, one, one, one, one, one))
    """
    # In chunks: the checks' temporary arrays stay small and hot in the cache.
    length = len(series)
    for first in range(0, length, _CHECK_CHUNK):
        start = max(first - 1, 0)  # one row of overlap checks the step across chunks
        part = slice(start, min(first + _CHECK_CHUNK, length))
        times = series.open_time[part]
        steps = np.diff(times)
        checks = _time_order_checks(times, steps, _NONE, "")
        checks.append(_overlap_check(steps, series.timeframe))
        columns = {
            "open": series.open[part],
            "high": series.high[part],
            "low": series.low[part],
            "close": series.close[part],
            "volume": series.volume[part],
        }
        checks += _value_checks(columns)
        problem = _earliest(checks)
        if problem is not None:
            row, message = problem
            raise DataError(message, source=source or series.symbol, row=row + start)


_CHECK_CHUNK = 1 << 18


def _earliest(checks: list[_Check]) -> tuple[int, str] | None:
    """The problem in the earliest row; on a tie, the check listed first."""
    found = [(row, order) for order, (row, _) in enumerate(checks) if row != _NONE]
    if not found:
        return None
    row, order = min(found)
    return row, checks[order][1](row)


def _build(
    symbol: str, bar_length: int, times: IntArray, label: BarLabel, columns: dict[str, FloatArray]
) -> BarSeries:
    """Assemble the read-only BarSeries."""
    length = np.int64(bar_length)
    open_time = times if label == "open" else times - length
    close_time = open_time + length
    arrays = (open_time, close_time, *(columns[name] for name in REQUIRED_COLUMNS))
    for array in arrays:
        array.flags.writeable = False
    return BarSeries(
        symbol,
        bar_length,
        open_time,
        close_time,
        columns["open"],
        columns["high"],
        columns["low"],
        columns["close"],
        columns["volume"],
    )
