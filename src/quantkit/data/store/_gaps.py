"""Known gaps: ranges a venue was asked for and had no bars (maintenance, before a listing).

Downloads record them next to the partitions in ``known_gaps.json`` so that a later run does not
ask again. The file is small JSON, written atomically like the partitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from quantkit.data.store._arrow import atomic_write
from quantkit.data.store.ranges import NsRange, subtract
from quantkit.errors import StoreError

__all__ = ["GAPS_FILE", "add_gaps", "load_gaps", "remove_gaps"]

GAPS_FILE = "known_gaps.json"
_VERSION = 1


def load_gaps(directory: Path) -> list[NsRange]:
    """The known gaps of a series, sorted and merged.

    Args:
        directory: The series' directory.

    Returns:
        The ranges in nanoseconds; empty when none were recorded.

    Raises:
        StoreError: If the file exists but is not a known-gaps file.
    """
    path = directory / GAPS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        content = json.loads(text)
        ranges = [(int(start), int(end)) for start, end in content["ranges"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a known-gaps file: {exc}") from exc
    return _union(ranges)


def add_gaps(directory: Path, ranges: Iterable[NsRange]) -> None:
    """Record more known gaps.

    Args:
        directory: The series' directory.
        ranges: Ranges in nanoseconds.

    Raises:
        StoreError: If the file cannot be read or written.
    """
    _save(directory, _union([*load_gaps(directory), *ranges]))


def remove_gaps(directory: Path, window: NsRange) -> None:
    """Forget the known gaps inside a window (after its bars were deleted).

    Args:
        directory: The series' directory.
        window: The range to forget, in nanoseconds.

    Raises:
        StoreError: If the file cannot be read or written.
    """
    known = load_gaps(directory)
    if not known:
        return
    kept = [part for gap in known for part in subtract(gap, [window])]
    if kept:
        _save(directory, kept)
    else:
        (directory / GAPS_FILE).unlink()


def _save(directory: Path, ranges: list[NsRange]) -> None:
    content = json.dumps({"version": _VERSION, "ranges": [list(r) for r in ranges]})

    def write(target: Path) -> None:
        target.write_text(content, encoding="utf-8")

    atomic_write(directory / GAPS_FILE, write)


def _union(ranges: list[NsRange]) -> list[NsRange]:
    """Sort ranges and merge those that touch or overlap."""
    merged: list[NsRange] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
