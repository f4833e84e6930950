"""Resampling bars to a coarser timeframe: `resample_bars` and `ResampledFeed`.

The rules:

* **Aggregation.** open = first, high = max, low = min, close = last, volume = sum of the source
  bars in the bin.
* **Bins.** A bin of length ``T`` starts at ``anchor + k * T``. The anchor is the Unix epoch
  (1970-01-01 00:00 UTC) for every timeframe except whole weeks, whose bins start on Monday
  00:00 UTC (the anchor is then 1970-01-05). So ``"4h"`` bins open at 00:00, 04:00, ...,
  ``"1d"`` bins at midnight UTC and ``"1w"`` bins on Mondays.
* **Labels.** A bin is labelled by its open time; it closes (and a strategy sees it) at open
  time + ``T``.
* **The last bin.** When the data ends inside the last bin (the last source bar closes before
  the bin does), the bin has not closed yet: by default (``partial="drop"``) it is left out,
  ``partial="keep"`` keeps it. This is the only bin ever left out.
* **Holes.** A bin that misses source bars in its middle or at its start has closed; it is kept
  and aggregates the bars that are there. Check the source with
  `quantkit.data.quality.quality_report` to see such gaps.
* **Alignment.** The target must be a whole multiple of the source timeframe, and every source
  bar must open on a multiple of its own length from the anchor, so that it falls inside exactly
  one bin.

Everything is vectorised with numpy (``np.maximum.reduceat`` and friends): ten million
one-minute bars resample in well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from quantkit.data._frames import frame_symbol, series_to_frame
from quantkit.data._timestamps import first_true, format_ns
from quantkit.data.feed import DataFeed
from quantkit.data.validation import validate_bars
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe, parse_timeframe
from quantkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    IntArray = npt.NDArray[np.int64]

__all__ = ["PartialBin", "ResampledFeed", "bin_anchor", "resample_bars"]

PartialBin = Literal["drop", "keep"]
"""What to do with a last bin the data ends inside: leave it out, or keep it."""

_WEEK = 7 * 86_400 * 10**9
_MONDAY = 4 * 86_400 * 10**9  # 1970-01-01 was a Thursday; 1970-01-05 was a Monday.


def bin_anchor(timeframe: str | int) -> int:
    """Return the instant the bins of a timeframe are aligned to.

    Args:
        timeframe: The target timeframe, e.g. ``"1d"`` or nanoseconds.

    Returns:
        Nanoseconds since the epoch: ``0`` (1970-01-01 00:00 UTC), or the first Monday,
        1970-01-05 00:00 UTC, for whole weeks.

    Raises:
        ConfigError: If the timeframe is not understood.

    Examples:
        >>> bin_anchor("1d"), bin_anchor("1w") // (86_400 * 10**9)
        (0, 4)
    """
    length = parse_timeframe(timeframe)
    return _MONDAY if length % _WEEK == 0 else 0


@overload
def resample_bars(
    data: BarSeries,
    timeframe: str | int,
    *,
    partial: PartialBin = ...,
    source_timeframe: str | int | None = ...,
) -> BarSeries: ...


@overload
def resample_bars(
    data: pd.DataFrame,
    timeframe: str | int,
    *,
    partial: PartialBin = ...,
    source_timeframe: str | int | None = ...,
) -> pd.DataFrame: ...


def resample_bars(
    data: BarSeries | pd.DataFrame,
    timeframe: str | int,
    *,
    partial: PartialBin = "drop",
    source_timeframe: str | int | None = None,
) -> BarSeries | pd.DataFrame:
    """Aggregate bars into a coarser timeframe.

    Args:
        data: A `BarSeries`, or a DataFrame that `validate_bars` accepts, with timestamps
            that are bar open times (validated first; ``frame.attrs["symbol"]`` names it in
            messages).
        timeframe: The target timeframe, a whole multiple of the source's, e.g. ``"5m"``,
            ``"1h"``, ``"1d"``, ``"1w"``.
        partial: ``"drop"`` (default) leaves out a last bin the data ends inside, because it
            has not closed; ``"keep"`` keeps it.
        source_timeframe: The DataFrame's bar length when it cannot be inferred from the
            timestamps; ignored for a `BarSeries`, which knows its own.

    Returns:
        The same kind of object: a `BarSeries` (read-only arrays), or a DataFrame with a UTC
        ``DatetimeIndex`` named ``time`` holding bin open times, the five OHLCV columns (other
        columns are not carried over) and the input's ``attrs``.

    Raises:
        ConfigError: If the target is not a multiple of the source timeframe or an argument is
            invalid.
        DataError: If the data is invalid, a source bar is not aligned to the bins, or no bin
            remains.

    Examples:
        >>> import numpy as np
        >>> minute = 60 * 10**9
        >>> times = np.arange(7, dtype=np.int64) * minute
        >>> prices = np.array([10.0, 11, 12, 11, 13, 14, 15])
        >>> bars = BarSeries("BTC/USDT", minute, times, times + minute,
        ...                  prices, prices + 1, prices - 1, prices, np.ones(7))
        >>> five = resample_bars(bars, "5m")
        >>> len(five), five.open.tolist(), five.high.tolist(), five.volume.tolist()
        (1, [10.0], [14.0], [5.0])
    """
    if partial not in ("drop", "keep"):
        raise ConfigError(f"partial must be 'drop' or 'keep', got {partial!r}")
    target = parse_timeframe(timeframe)
    if isinstance(data, BarSeries):
        return _resample(data, target, partial)
    import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"resample_bars takes a BarSeries or a pandas DataFrame, got {type(data).__name__}"
        )
    symbol = frame_symbol(data, "data")
    series = validate_bars(data, symbol=symbol, timeframe=source_timeframe)
    result = series_to_frame(_resample(series, target, partial))
    result.attrs = dict(data.attrs)
    return result


def _resample(series: BarSeries, target: int, partial: PartialBin) -> BarSeries:
    """Aggregate ``series`` into bins of ``target`` nanoseconds."""
    source = series.timeframe
    if target % source != 0:
        raise ConfigError(
            f"{series.symbol}: cannot resample {format_timeframe(source)} bars to "
            f"{format_timeframe(target)}; the target must be a whole multiple of the source "
            "timeframe"
        )
    if len(series) == 0:
        raise DataError("no bars to resample", source=series.symbol)
    anchor = bin_anchor(target)
    since = series.open_time - np.int64(anchor) if anchor else series.open_time
    _check_aligned(series, since, target)
    bins = since // np.int64(target)
    starts = np.flatnonzero(bins[1:] != bins[:-1]) + 1
    starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
    ends = np.append(starts[1:], len(bins))
    open_time = bins[starts] * np.int64(target) + np.int64(anchor)
    keep = len(starts)
    if partial == "drop" and int(series.close_time[-1]) < int(open_time[-1]) + target:
        keep -= 1
    if keep == 0:
        raise DataError(
            f"no complete {format_timeframe(target)} bin: the data runs from "
            f"{format_ns(int(series.open_time[0]))} to {format_ns(int(series.close_time[-1]))} "
            f"and the bin it lies in closes at {format_ns(int(open_time[-1]) + target)}; "
            "pass partial='keep' to keep an unfinished bin",
            source=series.symbol,
        )
    starts, ends, open_time = starts[:keep], ends[:keep], open_time[:keep]
    used = slice(0, int(ends[-1]))  # reduceat's last segment runs to the end of its input
    columns = (
        series.open[starts],
        np.maximum.reduceat(series.high[used], starts),
        np.minimum.reduceat(series.low[used], starts),
        series.close[ends - 1],
        np.add.reduceat(series.volume[used], starts),
    )
    times = (np.ascontiguousarray(open_time), open_time + np.int64(target))
    arrays = (*times, *(np.ascontiguousarray(c, dtype=np.float64) for c in columns))
    for array in arrays:
        array.flags.writeable = False
    return BarSeries(series.symbol, target, *arrays)


def _check_aligned(series: BarSeries, since: IntArray, target: int) -> None:
    """Raise if a source bar does not open on a multiple of its length from the anchor."""
    source = series.timeframe
    row = first_true(since % np.int64(source) != 0)
    if row != -1:
        anchor = "Monday 1970-01-05" if bin_anchor(target) else "the epoch"
        raise DataError(
            f"bar opens at {format_ns(int(series.open_time[row]))}, which is not a whole "
            f"number of {format_timeframe(source)} bars from {anchor} (UTC), so it would not "
            f"fall inside one {format_timeframe(target)} bin",
            source=series.symbol,
            row=row,
        )


class ResampledFeed(DataFeed):
    """Serve another feed's bars resampled to a coarser timeframe.

    Each symbol is resampled with `resample_bars` when `load` is first called; the result is
    cached.

    Args:
        feed: The source feed.
        timeframe: The target timeframe, a whole multiple of the source feed's.
        partial: What to do with a last bin the data ends inside (see `resample_bars`).

    Raises:
        ConfigError: If ``feed`` is not a `DataFeed`, or the timeframe or ``partial`` is
            invalid.

    Examples:
        >>> from quantkit.data import sample_feed
        >>> daily = ResampledFeed(sample_feed(), "1d")
        >>> len(daily.load()["BTC/USDT"])
        730
    """

    def __init__(
        self, feed: DataFeed, timeframe: str | int, *, partial: PartialBin = "drop"
    ) -> None:
        if not isinstance(feed, DataFeed):
            raise ConfigError(f"ResampledFeed: feed must be a DataFeed, got {type(feed).__name__}")
        if partial not in ("drop", "keep"):
            raise ConfigError(f"partial must be 'drop' or 'keep', got {partial!r}")
        self._feed = feed
        self._timeframe = parse_timeframe(timeframe)
        self._partial: PartialBin = partial
        self._loaded: dict[str, BarSeries] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The source feed's symbols."""
        return self._feed.symbols

    @property
    def timeframe(self) -> int:
        """The target timeframe in nanoseconds."""
        return self._timeframe

    def load(self) -> dict[str, BarSeries]:
        """Load the source feed and resample every symbol (once; later calls reuse it).

        Returns:
            Symbol to resampled series, in `symbols` order.

        Raises:
            ConfigError: If the target is not a multiple of a symbol's timeframe.
            DataError: If the source data is invalid, misaligned or leaves no complete bin.
        """
        if self._loaded is None:
            history: Mapping[str, BarSeries] = self._feed.load()
            self._loaded = {
                symbol: _resample(series, self._timeframe, self._partial)
                for symbol, series in history.items()
            }
        return dict(self._loaded)

    def __repr__(self) -> str:
        return f"ResampledFeed({self._feed!r}, {format_timeframe(self._timeframe)!r})"
