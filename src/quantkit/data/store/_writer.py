"""Changing a series on disk: merge new bars into their partitions, delete ranges of bars.

A write first merges and checks every partition it touches (conflicting values, overlapping
bars, including where a partition meets its neighbours), then writes each changed partition to
a new file, and only then commits them all at once by replacing the series' manifest (see
`quantkit.data.store._manifest`). A refused write, a full disk or a crash before the commit
therefore changes nothing a reader can see; the new files are removed (or, after a crash, by
the next write). The caller holds the series' writer lock (`quantkit.data.store._locking`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantkit.data.store import _arrow, _locking, _manifest, _sanity
from quantkit.data.store._columns import Columns, Merged, check_boundaries, merge
from quantkit.data.store.layout import Partition, SeriesKey, list_partitions, overlapping
from quantkit.data.store.ranges import TimeRange, runs, to_time_ranges
from quantkit.domain.bars import BarSeries

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
        DataError: If a bar conflicts with or overlaps a stored one, or the bars' spacing
            contradicts the timeframe; nothing is written then.
        StoreError: If the files cannot be read or written.
    """
    new = Columns.from_series(series)
    _sanity.check_spacing(new.time, key.timeframe_ns, key.describe())
    periods = new.time.view("datetime64[ns]").astype(f"datetime64[{key.unit}]")
    starts = np.concatenate(([0], np.flatnonzero(periods[1:] != periods[:-1]) + 1))
    stops = np.concatenate((starts[1:], [len(new)]))
    existing = {part.name: part for part in list_partitions(key, root)}
    plan: dict[str, tuple[Partition, Merged]] = {}
    for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        partition = key.partition_for(root, periods[first])
        held = existing.get(partition.name)
        stored = None if held is None else _arrow.read_partition(held.path)
        merged = merge(
            stored,
            new.take(slice(first, stop)),
            overwrite=overwrite,
            timeframe=key.timeframe_ns,
            source=key.describe(),
            first_row=first,
        )
        plan[partition.name] = (partition, merged)
    _check_neighbours(existing, key, plan)
    if len(new):
        for _, merged in plan.values():
            first, last = int(new.time[0]), int(new.time[-1])
            _sanity.warn_price_jumps(merged.columns, first, last, key.timeframe_ns, key.describe())
    changed = {name: m.columns for name, (_, m) in plan.items() if m.added or m.replaced}
    files = {name: part.path.name for name, part in existing.items()}
    _commit(root, key, files, changed, compression)
    written = list(changed)
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


def _commit(
    root: Path,
    key: SeriesKey,
    files: dict[str, str],
    changed: Mapping[str, Columns | None],
    compression: str,
) -> None:
    """Write the changed partitions (``None``: drop it) to new files, then swap the manifest.

    All or nothing: if a file or the manifest cannot be written, the new files are removed and
    the committed version is untouched. Superseded files go when no reader holds the series.
    """
    if not changed:
        return
    directory = key.directory(root)
    fresh: list[Path] = []
    try:
        for name, columns in changed.items():
            if columns is None:
                files.pop(name, None)
                continue
            files[name] = _manifest.new_file_name(name)
            fresh.append(directory / files[name])
            _arrow.write_partition(fresh[-1], columns, compression=compression)
        _manifest.write_manifest(directory, files)
    except BaseException:
        for path in fresh:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    with _locking.exclusive_readers(root, key) as alone:
        if alone:
            _manifest.collect_garbage(directory, files)


def _check_neighbours(
    existing: Mapping[str, Partition], key: SeriesKey, plan: Mapping[str, tuple[Partition, Merged]]
) -> None:
    """Check where the merged partitions meet each other and their neighbours on disk."""
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
    partitions = list_partitions(key, root)
    changed: dict[str, Columns | None] = {}
    for partition in overlapping(partitions, (start, end)):
        count, kept = _delete_in(partition, start, end)
        if count:
            deleted += count
            changed[partition.name] = kept
    files = {part.name: part.path.name for part in partitions}
    _commit(root, key, files, changed, compression)
    return deleted


def _delete_in(
    partition: Partition, start: int | None, end: int | None
) -> tuple[int, Columns | None]:
    """How many bars of one partition open in ``[start, end)``, and the bars left (or None)."""
    after_start = start is None or start <= partition.start
    if after_start and (end is None or end >= partition.end):
        return _arrow.read_row_count(partition.path), None
    stored = _arrow.read_partition(partition.path)
    inside = np.ones(len(stored), dtype=bool)
    if start is not None:
        inside &= stored.time >= start
    if end is not None:
        inside &= stored.time < end
    count = int(inside.sum())
    if count == len(stored):
        return count, None
    return count, stored.take(np.flatnonzero(~inside))


def remove_empty(directory: Path, *, stop_at: Path) -> None:
    """Remove ``directory`` and its parents below ``stop_at`` while they are empty.

    Args:
        directory: Where to start.
        stop_at: A parent that is never removed (the store's root).
    """
    while directory != stop_at and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
