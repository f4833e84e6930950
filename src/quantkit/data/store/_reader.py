"""Pruned, copy-lean reads of a range of bars from partition files.

Reading is two passes over Parquet metadata and one over data:

1. **Plan.** For each partition the caller chose (partition pruning by file name), the footer's
   row-group statistics (min and max open time) tell which row groups lie wholly inside the
   range, which wholly outside (skipped: row-group pruning), and which straddle an end; only for
   those edge groups is the ``time`` column read, to find the rows inside the range.
2. **Allocate** one numpy array per column at its exact final length.
3. **Fill.** Partition by partition, the planned row groups are decoded (on the calling thread:
   on two cores, handing them to pyarrow's pool cost more in synchronisation than it gained) and
   copied into place; the Arrow buffers are freed before the next file is opened.

So the memory a read needs is the result itself plus one partition's decoded columns; no table of
the whole range is ever built, and nothing is concatenated.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quantkit.data._timestamps import format_ns
from quantkit.data.store._arrow import StoreChangedError, arrow_errors, check_schema
from quantkit.data.store._columns import VALUE_COLUMNS, Columns
from quantkit.errors import StoreError

if TYPE_CHECKING:
    import numpy.typing as npt

    from quantkit.data.store.layout import Partition

__all__ = ["read_columns", "read_times"]

_WORKERS = min(4, os.cpu_count() or 1)
"""Files decoded at once; each holds one partition's Arrow buffers while it is copied."""


@dataclass(frozen=True, slots=True)
class _Piece:
    """Rows ``[first, stop)`` of row group ``group`` (``rows`` long) of a file are wanted."""

    path: Path
    group: int
    rows: int
    first: int
    stop: int


def read_columns(
    partitions: Sequence[Partition],
    start: int | None,
    end: int | None,
    *,
    timeframe: int,
    source: str,
) -> Columns:
    """Read the bars opening in ``[start, end)`` from the given partitions.

    Args:
        partitions: The partitions that may hold such bars, oldest first.
        start: First open time to keep, or ``None``.
        end: Open times at or after this are dropped, or ``None``.
        timeframe: Bar length, to check that the bars are in order and do not overlap.
        source: The series, for messages.

    Returns:
        The bars, as read-only arrays that own their memory (none of it is pyarrow's).

    Raises:
        StoreChangedError: If a partition vanished during the read.
        StoreError: If a file is corrupt or its bars are out of order.
    """
    paths = [part.path for part in partitions]
    arrays = _scan(paths, start, end, ("time", *VALUE_COLUMNS), timeframe, source)
    return Columns.from_arrays(arrays).freeze()


def read_times(
    paths: Sequence[Path], start: int | None, end: int | None, *, timeframe: int, source: str
) -> npt.NDArray[np.int64]:
    """Read only the open times of the bars in ``[start, end)``.

    Args:
        paths: Partition files, oldest first.
        start: First open time to keep, or ``None``.
        end: Open times at or after this are dropped, or ``None``.
        timeframe: Bar length, to check the order.
        source: The series, for messages.

    Returns:
        The open times, in nanoseconds.

    Raises:
        StoreChangedError: If a partition vanished during the read.
        StoreError: If a file is corrupt or its bars are out of order.
    """
    return _scan(paths, start, end, ("time",), timeframe, source)["time"]


def _scan(
    paths: Sequence[Path],
    start: int | None,
    end: int | None,
    names: tuple[str, ...],
    timeframe: int,
    source: str,
) -> dict[str, npt.NDArray[Any]]:
    """Plan, allocate, fill: the named columns (``time`` first) of the bars in the range."""
    pieces = [piece for path in paths for piece in _plan(path, start, end, source)]
    total = sum(piece.stop - piece.first for piece in pieces)
    out: dict[str, npt.NDArray[Any]] = {
        name: np.empty(total, np.int64 if name == "time" else np.float64) for name in names
    }
    files: list[tuple[int, list[_Piece]]] = []
    offset = 0
    for _, group in itertools.groupby(pieces, key=lambda piece: piece.path):
        wanted = list(group)
        files.append((offset, wanted))
        offset += sum(piece.stop - piece.first for piece in wanted)

    def fill(job: tuple[int, list[_Piece]]) -> None:
        _fill_file(*job, out, timeframe, source)

    if len(files) > 1 and _WORKERS > 1:
        # Files land in disjoint slices: decoding (pyarrow) and copying (numpy) release the GIL.
        with ThreadPoolExecutor(min(_WORKERS, len(files))) as pool:
            list(pool.map(fill, files))
    else:
        for job in files:
            fill(job)
    times: npt.NDArray[np.int64] = out["time"]
    for (_, wanted), (following, _) in itertools.pairwise(files):
        where = f"{source}: {wanted[-1].path} and the next partition"
        _check_order(times[following : following + 1], int(times[following - 1]), timeframe, where)
    return out


def _fill_file(
    offset: int,
    wanted: list[_Piece],
    out: dict[str, npt.NDArray[Any]],
    timeframe: int,
    source: str,
) -> None:
    """Decode the planned row groups of one file into ``out`` from ``offset`` on."""
    path = wanted[0].path
    where = f"{source}: {path}"
    with arrow_errors(where):
        table = _open(path).read_row_groups(
            [piece.group for piece in wanted], columns=list(out), use_threads=False
        )
    if table.num_rows != sum(piece.rows for piece in wanted):
        raise StoreChangedError(f"{where}: the file changed while being read")
    times: npt.NDArray[np.int64] = out["time"]
    previous: int | None = None
    row = 0
    for piece in wanted:
        size = piece.stop - piece.first
        part = table.slice(row + piece.first, size)
        for name, target in out.items():
            _copy(part.column(name), target[offset : offset + size], name, where)
        previous = _check_order(times[offset : offset + size], previous, timeframe, where)
        row += piece.rows
        offset += size


def _open(path: Path) -> Any:
    import pyarrow.parquet as pq  # noqa: PLC0415 - pyarrow stays out of `import quantkit`

    return pq.ParquetFile(os.fspath(path))


def _plan(path: Path, start: int | None, end: int | None, source: str) -> list[_Piece]:
    """The row groups of one file that hold bars in the range, and which of their rows."""
    where = f"{source}: {path}"
    with arrow_errors(where):
        reader = _open(path)
        check_schema(where, reader.schema_arrow)
        metadata = reader.metadata
        pieces = []
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            low, high = _bounds(metadata.row_group(group).column(0).statistics)
            if rows == 0 or _outside(low, high, start, end):
                continue
            if _inside(low, high, start, end):
                pieces.append(_Piece(path, group, rows, 0, rows))
                continue
            column = reader.read_row_group(group, columns=["time"], use_threads=False).column(0)
            times = np.empty(rows, np.int64)
            _copy(column, times, "time", where)
            first = 0 if start is None else int(np.searchsorted(times, start))
            stop = rows if end is None else int(np.searchsorted(times, end))
            if first < stop:
                pieces.append(_Piece(path, group, rows, first, stop))
    return pieces


def _bounds(statistics: Any) -> tuple[int | None, int | None]:
    """Min and max open time of a row group, or ``None`` when the file has no statistics."""
    if statistics is None or not statistics.has_min_max:
        return None, None
    return int(statistics.min_raw), int(statistics.max_raw)


def _outside(low: int | None, high: int | None, start: int | None, end: int | None) -> bool:
    if low is None or high is None:
        return False
    return (end is not None and low >= end) or (start is not None and high < start)


def _inside(low: int | None, high: int | None, start: int | None, end: int | None) -> bool:
    if low is None or high is None:
        return False
    return (start is None or low >= start) and (end is None or high < end)


def _copy(column: Any, target: npt.NDArray[Any], name: str, where: str) -> None:
    """Copy a chunked Arrow column into ``target``; missing values are an error."""
    if column.null_count:
        raise StoreError(f"{where}: column {name!r} has missing values")
    offset = 0
    for chunk in column.chunks:
        size = len(chunk)
        target[offset : offset + size] = chunk.to_numpy()
        offset += size
    if offset != len(target):
        raise StoreChangedError(f"{where}: the file changed while being read")


def _check_order(
    times: npt.NDArray[np.int64], previous: int | None, timeframe: int, where: str
) -> int:
    """Raise unless the (non-empty) times follow ``previous`` and each other by a timeframe."""
    bad = np.flatnonzero(np.diff(times) < timeframe)
    if previous is not None and int(times[0]) - previous < timeframe:
        bad_time = int(times[0])
    elif bad.size:
        bad_time = int(times[bad[0] + 1])
    else:
        return int(times[-1])
    raise StoreError(
        f"{where}: bars out of order or overlapping at {format_ns(bad_time)}; "
        "the file was not written by this store or was changed by hand"
    )
