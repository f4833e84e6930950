"""Changing a series on disk: merge new bars into their partitions, delete ranges of bars.

Every file is replaced atomically. A write first merges and checks every partition it touches
(conflicting values, overlapping bars, including where a partition meets its neighbours) and only
then writes, so a rejected write changes nothing. If the process dies between two partition
files, each file on disk is still complete and valid; the write can simply be repeated.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantkit.data.store import _arrow
from quantkit.data.store._columns import Columns, Merged, check_boundaries, merge
from quantkit.data.store.layout import Partition, SeriesKey, list_partitions, overlapping
from quantkit.data.store.ranges import TimeRange, runs, to_time_ranges
from quantkit.domain.bars import BarSeries
from quantkit.errors import StoreError

__all__ = ["WriteReport", "delete_range", "remove_empty", "write_series"]


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What a write did.

    Attributes:
        exchange: Exchange id.
        symbol: Symbol.
        timeframe: Canonical timeframe.
        rows: Bars given.
        added: Bars that were not stored before.
        replaced: Stored bars whose values changed (``overwrite=True`` only).
        partitions: Names of the partition files written (unchanged ones are not rewritten).
        gaps: Holes between the first and the last bar given (gaps are allowed).
    """

    exchange: str
    symbol: str
    timeframe: str
    rows: int
    added: int
    replaced: int
    partitions: tuple[str, ...]
    gaps: tuple[TimeRange, ...]


def write_series(
    root: Path, key: SeriesKey, series: BarSeries, *, overwrite: bool, compression: str
) -> WriteReport:
    """Merge validated bars into their partitions and write the partitions that changed.

    Args:
        root: The store's root.
        key: The series.
        series: Validated bars of the key's timeframe.
        overwrite: Whether new values replace different stored ones.
        compression: Parquet codec.

    Returns:
        What was written.

    Raises:
        DataError: If a bar conflicts with or overlaps a stored one; nothing is written then.
        StoreError: If the files cannot be read or written.
    """
    new = Columns.from_series(series)
    periods = new.time.view("datetime64[ns]").astype(f"datetime64[{key.unit}]")
    starts = np.concatenate(([0], np.flatnonzero(periods[1:] != periods[:-1]) + 1))
    stops = np.concatenate((starts[1:], [len(new)]))
    plan: dict[str, tuple[Partition, Merged]] = {}
    for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        partition = key.partition_for(root, periods[first])
        stored = _arrow.read_partition(partition.path) if partition.path.exists() else None
        merged = merge(
            stored,
            new.take(slice(first, stop)),
            overwrite=overwrite,
            timeframe=key.timeframe_ns,
            source=key.describe(),
            first_row=first,
        )
        plan[partition.name] = (partition, merged)
    _check_neighbours(root, key, plan)
    written = []
    for partition, merged in plan.values():
        if merged.added or merged.replaced:
            _arrow.write_partition(partition.path, merged.columns, compression=compression)
            written.append(partition.name)
    given = runs(new.time, key.timeframe_ns)
    holes = [(stop, first) for (_, stop), (first, _) in itertools.pairwise(given)]
    return WriteReport(
        key.exchange,
        key.symbol,
        key.timeframe,
        len(new),
        sum(merged.added for _, merged in plan.values()),
        sum(merged.replaced for _, merged in plan.values()),
        tuple(written),
        tuple(to_time_ranges(holes)),
    )


def _check_neighbours(
    root: Path, key: SeriesKey, plan: Mapping[str, tuple[Partition, Merged]]
) -> None:
    """Check where the merged partitions meet each other and their neighbours on disk."""
    existing = {part.name: part for part in list_partitions(key, root)}
    names = sorted(set(existing) | set(plan))
    touched = {i for i, name in enumerate(names) if name in plan}
    wanted = sorted(touched | {i - 1 for i in touched} | {i + 1 for i in touched})
    chain: list[tuple[int, int]] = []
    previous = None
    for i in (i for i in wanted if 0 <= i < len(names)):
        if previous is not None and i != previous + 1:
            check_boundaries(chain, key.timeframe_ns, key.describe())
            chain = []
        if names[i] in plan:
            time = plan[names[i]][1].columns.time
            chain.append((int(time[0]), int(time[-1])))
        else:
            chain.append(_arrow.time_bounds(existing[names[i]].path))
        previous = i
    check_boundaries(chain, key.timeframe_ns, key.describe())


def delete_range(
    root: Path, key: SeriesKey, start: int | None, end: int | None, *, compression: str
) -> int:
    """Delete the bars of a series opening in ``[start, end)``.

    Args:
        root: The store's root.
        key: The series.
        start: First open time to delete, or ``None`` for the first bar.
        end: Open times at or after this are kept; ``None`` deletes to the last bar.
        compression: Parquet codec for rewritten partitions.

    Returns:
        How many bars were deleted.

    Raises:
        StoreError: If the files cannot be read, written or removed.
    """
    deleted = 0
    for partition in overlapping(list_partitions(key, root), (start, end)):
        deleted += _delete_in(partition, start, end, compression)
    return deleted


def _delete_in(partition: Partition, start: int | None, end: int | None, compression: str) -> int:
    """Delete the bars of one partition opening in ``[start, end)``."""
    after_start = start is None or start <= partition.start
    if after_start and (end is None or end >= partition.end):
        count = _arrow.read_row_count(partition.path)
        _unlink(partition.path)
        return count
    stored = _arrow.read_partition(partition.path)
    inside = np.ones(len(stored), dtype=bool)
    if start is not None:
        inside &= stored.time >= start
    if end is not None:
        inside &= stored.time < end
    count = int(inside.sum())
    if count == len(stored):
        _unlink(partition.path)
    elif count:
        kept = stored.take(np.flatnonzero(~inside))
        _arrow.write_partition(partition.path, kept, compression=compression)
    return count


def _unlink(path: Path) -> None:
    """Remove a partition file; a failure is a StoreError."""
    try:
        os.unlink(path)
    except OSError as exc:
        raise StoreError(f"cannot delete {path}: {exc}") from exc


def remove_empty(directory: Path, *, stop_at: Path) -> None:
    """Remove ``directory`` and its parents below ``stop_at`` while they are empty.

    Args:
        directory: Where to start.
        stop_at: A parent that is never removed (the store's root).
    """
    while directory != stop_at and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
