"""Checks that bars belong under the key they are written to: timeframe and price level.

Bars filed under the wrong key read back as valid data and mislead every backtest run on them,
so the store refuses what contradicts its key outright and warns about what merely looks wrong:

- **spacing**: three or more bars whose most common gap (the smallest on a tie) is longer than
  the timeframe are not bars of that timeframe (hourly bars written as ``1m``; day-first dates
  read month-first, which turns days into months). `validate_bars` only warns about this; the
  store refuses it with a `DataError` that names the gap found.
- **price level**: where the new bars meet stored bars without a gap, the price jumping by more
  than `JUMP_FACTOR` suggests bars of another symbol. Warned about (`UserWarning`), since real
  markets do jump.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from quantkit.data._timestamps import format_ns
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.data.store._columns import Columns

__all__ = ["JUMP_FACTOR", "check_spacing", "warn_price_jumps"]

JUMP_FACTOR = 1.5
"""A price ratio across the seam of stored and new bars beyond which a write is warned about."""


def check_spacing(times: npt.NDArray[np.int64], timeframe: int, source: str) -> None:
    """Refuse bars whose spacing contradicts the timeframe they are filed under.

    Args:
        times: Open times of the bars to write, increasing.
        timeframe: The key's bar length in nanoseconds.
        source: The series, for the message.

    Raises:
        DataError: If there are three or more bars and their usual gap exceeds the timeframe.
    """
    if len(times) < 3:
        return
    gaps, counts = np.unique(np.diff(times), return_counts=True)
    usual = int(gaps[counts.argmax()])  # np.unique sorts: the smallest wins a tie
    if usual <= timeframe:
        return
    raise DataError(
        f"the usual gap between these {len(times)} bars is {format_timeframe(usual)}: they are "
        f"not {format_timeframe(timeframe)} bars, refused. Write them under the timeframe they "
        "have; for dates read from text, check day-first against month-first order",
        source=source,
    )


def warn_price_jumps(merged: Columns, first: int, last: int, timeframe: int, source: str) -> None:
    """Warn where new bars ``[first, last]`` meet adjacent stored bars at another price level.

    Args:
        merged: One partition's bars after the merge.
        first: Open time of the first new bar.
        last: Open time of the last new bar.
        timeframe: Bar length in nanoseconds.
        source: The series, for the message.
    """
    times = merged.time
    seams = []
    start = int(np.searchsorted(times, first))
    if 0 < start < len(times) and times[start] == first and first - times[start - 1] == timeframe:
        seams.append(start)
    stop = int(np.searchsorted(times, last, side="right"))
    if 0 < stop < len(times) and times[stop] - times[stop - 1] == timeframe and times[stop] > last:
        seams.append(stop)
    for seam in seams:
        before, after = float(merged.close[seam - 1]), float(merged.open[seam])
        ratio = max(before, after) / min(before, after)
        if ratio > JUMP_FACTOR:
            warnings.warn(
                f"{source}: at {format_ns(int(times[seam]))} the price jumps from {before:g} to "
                f"{after:g} (x{ratio:.3g}) where the new bars meet the stored ones; are these "
                "bars of another symbol?",
                UserWarning,
                stacklevel=5,
            )
