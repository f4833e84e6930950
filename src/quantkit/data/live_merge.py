"""BarMerge: closed bars of several symbols released in (close time, symbol order).

Each symbol's task hands its bars over as they close; a bar then waits a short grace period for
the other symbols' bars of the same close time, unless every other symbol is already past that
time or stale, so that bars of one close time come out together, in the order of the symbols.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

import anyio

from quantkit.data.live_rows import SymbolRows
from quantkit.domain.bars import Bar

__all__ = ["BarMerge"]

_MS = 1_000_000  # nanoseconds per millisecond


class BarMerge:
    """The buffer of bars not yet handed out, ordered by (close time, symbol index, arrival).

    Args:
        grace_s: How long a bar waits for other symbols' bars of the same close time.
    """

    def __init__(self, grace_s: float) -> None:
        self._grace_s = grace_s
        self._heap: list[tuple[int, int, int, float, Bar]] = []
        self._order = itertools.count()

    def push(self, bar: Bar, index: int) -> None:
        """Buffer a bar of the symbol at ``index``, stamped with its arrival time."""
        entry = (bar.close_time, index, next(self._order), anyio.current_time(), bar)
        heapq.heappush(self._heap, entry)

    def wait(self, symbols: Sequence[SymbolRows]) -> float | None:
        """Seconds until the first buffered bar may go out (``None``: nothing buffered)."""
        if not self._heap:
            return None
        close_time, index, _, arrived, _ = self._heap[0]
        behind = [
            state
            for state in symbols
            if state.index != index
            and not state.stale
            and (state.last is None or (state.last + state.step_ms) * _MS < close_time)
        ]
        if not behind:
            return 0.0
        return arrived + self._grace_s - anyio.current_time()

    def pop(self) -> Bar:
        """Take the first buffered bar (call when `wait` says 0 or less)."""
        return heapq.heappop(self._heap)[-1]
