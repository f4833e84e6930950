"""The bookkeeping of one symbol of a `LiveBarStream`: rows seen, pending, handed out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REMEMBERED", "LiveRow", "SymbolRows", "clean_row", "live_log"]

LiveRow = tuple[int, float, float, float, float, float]
"""One candle: open time in ms since the epoch (UTC), open, high, low, close, base volume."""

REMEMBERED = 1000  # handed-out rows kept per symbol to notice later changes


@dataclass(eq=False)
class SymbolRows:
    """The bookkeeping of one symbol: what was seen, what is pending, what was handed out."""

    name: str
    index: int
    step_ms: int
    last: int | None = None  # open time (ms) of the last bar handed out
    latest: int = -1  # latest open time seen in any response (the forming bar, usually)
    pending: dict[int, LiveRow] = field(default_factory=dict)  # after `last`, latest version
    final: set[int] = field(default_factory=set)  # pending open times whose values are final
    handed: OrderedDict[int, LiveRow] = field(default_factory=OrderedDict)
    last_new: float = 0.0  # clock reading when the last new bar was handed out
    stale: bool = False
    failures: int = 0  # consecutive websocket failures

    def ingest(self, rows: Sequence[LiveRow], *, rest: bool) -> int | None:
        """Take in one response; return its latest open time (``None`` when empty).

        Rows after the last one handed out are kept in their latest version, forming or not.
        Only a REST answer proves a row final (every row before its last one is closed). A
        websocket row never does: a client such as ccxt hands out rows from its cache, and after
        missed updates (a silent or dropped socket) the cached version of a bar may be its
        first, flat tick. Websocket rows tell that a bar closed; REST confirms its values. A row
        not proven final never replaces one that is.

        Args:
            rows: The response's candles.
            rest: ``True`` for a REST answer, ``False`` for a websocket update.
        """
        by_open = {int(row[0]): clean_row(row) for row in rows}
        if not by_open:
            return None
        top = max(by_open)
        self.latest = max(self.latest, top)
        for opened, row in by_open.items():
            if self.last is not None and opened <= self.last:
                self._check_unchanged(opened, row)
            elif rest and opened < top:  # a REST answer is a snapshot: rows before its last closed
                self.pending[opened] = row
                self.final.add(opened)
            elif opened not in self.final:
                self.pending[opened] = row
        return top

    def _check_unchanged(self, opened: int, row: LiveRow) -> None:
        before = self.handed.get(opened)
        if before is not None and before != row:
            live_log().warning(
                "live_bar_changed", symbol=self.name, open_ms=opened, handed_out=before, now=row
            )
            self.handed[opened] = row  # warn once per change

    @property
    def expected(self) -> int | None:
        """Open time of the next bar to hand out (``None`` before the first)."""
        return None if self.last is None else self.last + self.step_ms

    def closed(self) -> list[int]:
        """Open times of the pending bars that are closed (a later row was seen), in order."""
        return sorted(opened for opened in self.pending if opened < self.latest)

    def unconfirmed(self) -> int | None:
        """Open time of the first closed pending bar whose values are not known to be final."""
        return next((opened for opened in self.closed() if opened not in self.final), None)

    def drop_unconfirmed(self, before: int) -> None:
        """Forget unconfirmed rows before ``before``, which REST answered past without them."""
        for opened in [o for o in self.pending if o < before and o not in self.final]:
            del self.pending[opened]
            live_log().warning("live_unconfirmed_bar_dropped", symbol=self.name, open_ms=opened)

    def has_gap(self) -> bool:
        """Whether the closed pending bars do not follow the last one handed out contiguously."""
        closed = self.closed()
        if self.expected is None or not closed:
            return False
        return closed[-1] - closed[0] != (len(closed) - 1) * self.step_ms or (
            closed[0] != self.expected
        )

    def take(self, *, skip_holes: bool) -> list[LiveRow]:
        """Hand out the closed pending bars that follow the last one without a gap.

        Args:
            skip_holes: Jump over missing bars (the venue has none there) to the next pending.

        Returns:
            The rows now handed out, oldest first.
        """
        out: list[LiveRow] = []
        for opened in self.closed():
            if opened not in self.final:
                break  # its final values are not known yet: REST confirms them first
            expected = self.expected
            if expected is not None and opened != expected:
                if not skip_holes:
                    break
                live_log().warning(
                    "live_venue_hole",
                    symbol=self.name,
                    missing_from_ms=expected,
                    resumes_at_ms=opened,
                )
            row = self.pending.pop(opened)
            self.final.discard(opened)
            self.last = opened
            self.handed[opened] = row
            if len(self.handed) > REMEMBERED:
                self.handed.popitem(last=False)
            out.append(row)
        return out


def clean_row(row: Sequence[Any]) -> LiveRow:
    """A venue's candle as plain ints and floats.

    Args:
        row: Open time (ms), open, high, low, close, volume.

    Returns:
        The row.
    """
    return (int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]))


def live_log() -> Any:
    """The ``"quantkit.live"`` structlog logger (imported lazily, to keep imports light)."""
    import structlog  # noqa: PLC0415 - keep `import quantkit` light

    return structlog.get_logger("quantkit.live")
