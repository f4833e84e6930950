"""Time windows of store queries: ``[start, end)`` parsed to nanoseconds, and partition edges."""

from __future__ import annotations

from quantkit.data._timestamps import TimeLike, parse_instant
from quantkit.data.store.layout import Partition
from quantkit.data.store.ranges import NsRange
from quantkit.errors import ConfigError

__all__ = ["bounded_window", "edges", "parse_window"]


def parse_window(start: TimeLike | None, end: TimeLike | None) -> tuple[int | None, int | None]:
    """Parse a ``[start, end)`` window into nanoseconds; raise if it is empty."""
    first = None if start is None else parse_instant(start, name="start")
    stop = None if end is None else parse_instant(end, name="end")
    if first is not None and stop is not None and first >= stop:
        raise ConfigError(f"start ({start!r}) must be before end ({end!r})")
    return first, stop


def bounded_window(start: TimeLike, end: TimeLike) -> NsRange:
    """Parse a window whose both ends are given."""
    first, stop = parse_window(start, end)
    if first is None or stop is None:
        raise ConfigError("a range needs both a start and an end")
    return first, stop


def edges(
    chosen: list[Partition], window: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    """The window's bounds that cut into the chosen partitions (others need no filter)."""
    start, end = window
    if not chosen:
        return start, end
    first = start if start is not None and start > chosen[0].start else None
    last = end if end is not None and end < chosen[-1].end else None
    return first, last
