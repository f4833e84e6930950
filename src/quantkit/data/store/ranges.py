"""Time ranges: what the store holds, what it lacks, and the arithmetic between them.

Internally a range is a pair of int64 nanoseconds ``(start, end)``, half-open: it contains the
bars whose open time ``t`` satisfies ``start <= t < end``. A run of consecutive bars
``t0, t0 + tf, ..., tn`` covers ``[t0, tn + tf)``: up to the close of its last bar. Users see
ranges as `TimeRange` pairs of UTC ``pandas.Timestamp``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["NsRange", "TimeRange", "clip", "runs", "subtract", "to_time_ranges"]

NsRange = tuple[int, int]
"""A half-open range ``[start, end)`` in nanoseconds since the epoch (UTC)."""


class TimeRange(NamedTuple):
    """A half-open range of time ``[start, end)``, in UTC.

    It is a plain pair, so ``start, end = time_range`` works.

    Attributes:
        start: First instant of the range.
        end: First instant after the range.
    """

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def from_ns(cls, start: int, end: int) -> TimeRange:
        """Build a range from nanoseconds since the epoch.

        Args:
            start: First nanosecond of the range.
            end: First nanosecond after the range.

        Returns:
            The range, with UTC timestamps.

        Examples:
            >>> TimeRange.from_ns(0, 3600 * 10**9)
            TimeRange(start=Timestamp('1970-01-01 00:00:00+0000', tz='UTC'), \
end=Timestamp('1970-01-01 01:00:00+0000', tz='UTC'))
        """
        import pandas as pd  # noqa: PLC0415 - pandas stays out of `import quantkit`

        return cls(pd.Timestamp(start, unit="ns", tz="UTC"), pd.Timestamp(end, unit="ns", tz="UTC"))

    def to_ns(self) -> NsRange:
        """The range in nanoseconds since the epoch.

        Returns:
            ``(start, end)``.
        """
        return int(self.start.value), int(self.end.value)


def to_time_ranges(pairs: Iterable[NsRange]) -> list[TimeRange]:
    """Convert nanosecond pairs to `TimeRange` values.

    Args:
        pairs: Half-open ranges in nanoseconds.

    Returns:
        The same ranges with UTC timestamps.
    """
    return [TimeRange.from_ns(start, end) for start, end in pairs]


def runs(times: npt.NDArray[np.int64], timeframe: int) -> list[NsRange]:
    """Split sorted bar open times into runs of consecutive bars.

    Args:
        times: Strictly increasing open times in nanoseconds.
        timeframe: Bar length in nanoseconds.

    Returns:
        One ``[first open, last open + timeframe)`` range per run, oldest first.

    Examples:
        >>> runs(np.array([0, 10, 20, 50, 60]), 10)
        [(0, 30), (50, 70)]
    """
    if times.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(times) != timeframe) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks - 1, [times.size - 1]))
    return [
        (int(times[first]), int(times[last]) + timeframe)
        for first, last in zip(firsts, lasts, strict=True)
    ]


def subtract(window: NsRange, covered: Sequence[NsRange]) -> list[NsRange]:
    """The parts of ``window`` that no range of ``covered`` contains.

    Args:
        window: The range of interest.
        covered: Ranges sorted by start, not overlapping one another.

    Returns:
        The uncovered parts, oldest first.

    Examples:
        >>> subtract((0, 100), [(10, 20), (50, 120)])
        [(0, 10), (20, 50)]
    """
    start, end = window
    holes: list[NsRange] = []
    cursor = start
    for first, stop in covered:
        if stop <= cursor:
            continue
        if first >= end:
            break
        if first > cursor:
            holes.append((cursor, first))
        cursor = max(cursor, stop)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def clip(ranges: Iterable[NsRange], window: NsRange) -> list[NsRange]:
    """Restrict ranges to a window, dropping those outside it.

    Args:
        ranges: Half-open ranges.
        window: The window to keep.

    Returns:
        The non-empty intersections, in the order given.

    Examples:
        >>> clip([(0, 10), (20, 30), (40, 50)], (5, 25))
        [(5, 10), (20, 25)]
    """
    start, end = window
    kept = [(max(first, start), min(stop, end)) for first, stop in ranges]
    return [(first, stop) for first, stop in kept if first < stop]
