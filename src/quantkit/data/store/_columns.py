"""Bars as plain numpy columns, and the merge of new bars into stored ones."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data._timestamps import format_ns
from quantkit.domain.bars import BarSeries
from quantkit.domain.timeframe import format_timeframe
from quantkit.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["VALUE_COLUMNS", "Columns", "Merged", "check_boundaries", "merge"]

VALUE_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class Columns:
    """Bars of one series as columns: open times (ns, UTC) and the five values.

    Attributes:
        time: Bar open times, int64 nanoseconds since the epoch, strictly increasing.
        open: Open prices.
        high: High prices.
        low: Low prices.
        close: Close prices.
        volume: Volumes.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def from_series(cls, series: BarSeries) -> Columns:
        """Take the columns of a series (no copies).

        Args:
            series: Validated bars.

        Returns:
            The columns.
        """
        return cls(
            series.open_time, series.open, series.high, series.low, series.close, series.volume
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> Columns:
        """Build from a mapping holding ``time`` and the five value columns.

        Args:
            arrays: Column name to array.

        Returns:
            The columns.
        """
        return cls(
            _as(arrays["time"], np.int64),
            *(_as(arrays[name], np.float64) for name in VALUE_COLUMNS),
        )

    def __len__(self) -> int:
        return len(self.time)

    def freeze(self) -> Columns:
        """Make the arrays read-only (in place) and return them.

        Returns:
            This object.
        """
        self.time.flags.writeable = False
        for column in self.values():
            column.flags.writeable = False
        return self

    @property
    def nbytes(self) -> int:
        """Bytes held by the six arrays."""
        return int(self.time.nbytes) + sum(int(a.nbytes) for a in self.values())

    def values(self) -> tuple[FloatArray, ...]:
        """The five value columns in `VALUE_COLUMNS` order.

        Returns:
            open, high, low, close and volume.
        """
        return self.open, self.high, self.low, self.close, self.volume

    def as_mapping(self) -> dict[str, npt.NDArray[np.generic]]:
        """The columns by name: ``time`` then `VALUE_COLUMNS`.

        Returns:
            Column name to array (the arrays themselves, not copies).
        """
        return {"time": self.time, **dict(zip(VALUE_COLUMNS, self.values(), strict=True))}

    def take(self, rows: slice | IntArray) -> Columns:
        """Select rows (a slice gives views, an index array copies).

        Args:
            rows: A slice or integer positions.

        Returns:
            The selected bars.
        """
        return Columns(self.time[rows], *(column[rows] for column in self.values()))

    def to_series(self, symbol: str, timeframe: int) -> BarSeries:
        """Wrap as a `BarSeries` (the arrays are shared, close times are computed).

        Args:
            symbol: Market symbol.
            timeframe: Bar length in nanoseconds.

        Returns:
            The series, with read-only arrays.
        """
        close_time = self.time + np.int64(timeframe)
        close_time.flags.writeable = False
        return BarSeries(symbol, timeframe, self.time, close_time, *self.values())


def _as(array: npt.NDArray[Any], dtype: type[Any]) -> npt.NDArray[Any]:
    """The array itself when it has the dtype, else a view with it (same bytes)."""
    return array if array.dtype == dtype else array.view(dtype)


@dataclass(frozen=True, slots=True)
class Merged:
    """The result of merging new bars into one stored partition.

    Attributes:
        columns: All bars of the partition after the merge.
        added: Bars that were not stored before.
        replaced: Stored bars whose values were replaced (``overwrite=True`` only).
    """

    columns: Columns
    added: int
    replaced: int


def merge(
    stored: Columns | None,
    new: Columns,
    *,
    overwrite: bool,
    timeframe: int,
    source: str,
    first_row: int = 0,
) -> Merged:
    """Merge new bars into stored ones.

    Bars at a timestamp already stored must carry the same values, unless ``overwrite`` is
    set, in which case the new values win. Bars less than one timeframe apart are refused.

    Args:
        stored: The partition's bars, or ``None`` if it is empty.
        new: Validated new bars, strictly increasing.
        overwrite: Whether new values replace different stored ones.
        timeframe: Bar length in nanoseconds.
        source: The series, for messages.
        first_row: Position of ``new``'s first bar in the caller's data, for messages.

    Returns:
        The merged bars and the counts of added and replaced bars.

    Raises:
        DataError: If a bar conflicts with a stored one, or the merged bars would overlap.
    """
    if stored is None or len(stored) == 0:
        return Merged(new, len(new), 0)
    position = np.searchsorted(stored.time, new.time)
    at = np.minimum(position, len(stored) - 1)
    same = stored.time[at] == new.time
    replaced = 0
    if same.any():
        stored, replaced = _reconcile(
            stored, new, at, same, overwrite=overwrite, source=source, first_row=first_row
        )
    fresh = np.flatnonzero(~same)
    if fresh.size == 0:
        return Merged(stored, 0, replaced)
    parts = (stored, new.take(fresh))
    time = np.concatenate([part.time for part in parts])
    order = np.argsort(time, kind="stable")
    columns = [time[order]]
    for index in range(len(VALUE_COLUMNS)):
        columns.append(np.concatenate([part.values()[index] for part in parts])[order])
    merged = Columns(*columns)
    _check_no_overlap(merged.time, timeframe, source)
    return Merged(merged, int(fresh.size), replaced)


def _reconcile(
    stored: Columns,
    new: Columns,
    at: IntArray,
    same: npt.NDArray[np.bool_],
    *,
    overwrite: bool,
    source: str,
    first_row: int,
) -> tuple[Columns, int]:
    """Compare bars stored at the new bars' timestamps; replace them or raise."""
    stored_rows = at[same]
    new_rows = np.flatnonzero(same)
    differs = np.zeros(new_rows.size, dtype=bool)
    for old, fresh in zip(stored.values(), new.values(), strict=True):
        differs |= old[stored_rows] != fresh[new_rows]
    if not differs.any():
        return stored, 0
    if not overwrite:
        first = int(np.argmax(differs))
        old_row, new_row = int(stored_rows[first]), int(new_rows[first])
        changes = ", ".join(
            f"{name} {float(old[old_row])!r} -> {float(fresh[new_row])!r}"
            for name, old, fresh in zip(VALUE_COLUMNS, stored.values(), new.values(), strict=True)
            if old[old_row] != fresh[new_row]
        )
        raise DataError(
            f"the bar at {format_ns(int(new.time[new_row]))} conflicts with the stored one "
            f"({changes}); pass overwrite=True to replace stored bars",
            source=source,
            row=first_row + new_row,
        )
    targets, sources = stored_rows[differs], new_rows[differs]
    updated = [column.copy() for column in stored.values()]
    for column, fresh in zip(updated, new.values(), strict=True):
        column[targets] = fresh[sources]
    return Columns(stored.time, *updated), int(targets.size)


def _check_no_overlap(times: IntArray, timeframe: int, source: str) -> None:
    """Raise if two bars are less than one timeframe apart."""
    close = np.flatnonzero(np.diff(times) < timeframe)
    if close.size:
        row = int(close[0])
        raise DataError(
            f"the bars at {format_ns(int(times[row]))} and {format_ns(int(times[row + 1]))} "
            f"are less than the {format_timeframe(timeframe)} timeframe apart, so they would "
            "overlap; the new bars are not on the same time grid as the stored ones",
            source=source,
        )


def check_boundaries(spans: list[tuple[int, int]], timeframe: int, source: str) -> None:
    """Check that consecutive partitions do not overlap where they meet.

    Args:
        spans: ``(first, last)`` open times of consecutive non-empty partitions, oldest first.
        timeframe: Bar length in nanoseconds.
        source: The series, for messages.

    Raises:
        DataError: If the last bar of one partition overlaps the first bar of the next.
    """
    for (_, last), (first, _) in itertools.pairwise(spans):
        _check_no_overlap(np.array([last, first], dtype=np.int64), timeframe, source)
