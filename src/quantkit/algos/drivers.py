"""What each kind of parent does at a closed bar: pure decisions on the parent's state.

Each driver reads the parent and the bar and calls back the book (`Slicer`) to place, cancel or
finish; the book owns ids, risk and the broker. A driver never looks past the bar it is given.
"""

from __future__ import annotations

from typing import Protocol

from quantkit.algos.parent import ParentOrder, ParentStatus
from quantkit.algos.schedule import display_size, twap_schedule
from quantkit.algos.specs import IcebergSpec, ParticipationSpec, TwapSpec
from quantkit.domain.bars import Bar
from quantkit.domain.order import OrderStatus, Side

__all__ = ["MAX_REFUSED", "Slicer", "drive"]

MAX_REFUSED = 3
"""An iceberg ends after this many refused children in a row (a refused slice is retried at
the next close: a passing refusal, or a refused amend of the working slice, does not end it)."""


class Slicer(Protocol):
    """The book's side of a driver."""

    def place(self, parent: ParentOrder, amount: float, limit_price: float | None) -> None:
        """Place a child of at most ``amount`` (capped at what is neither filled nor working)."""
        ...

    def cancel_children(self, parent: ParentOrder) -> None:
        """Cancel the parent's working children."""
        ...

    def finish(self, parent: ParentOrder, status: ParentStatus | None, reason: str = "") -> None:
        """End ``parent`` (status ``None``: filled if nothing is left, else expired)."""
        ...

    def done(self, parent: ParentOrder) -> bool:
        """Whether what is left rounds to nothing at the market's precision."""
        ...

    def mark(self, parent: ParentOrder) -> None:
        """Journal the parent's new state (before a child it decided on is sent)."""
        ...


def within_limit(side: Side, price: float, limit: float | None) -> bool:
    """Whether ``price`` is not beyond ``limit`` (above it for a buy, below for a sell)."""
    if limit is None:
        return True
    return price <= limit if side is Side.BUY else price >= limit


def drive(book: Slicer, parent: ParentOrder, now: int, price: float, bar: Bar | None) -> None:
    """Advance ``parent`` at the close ``now`` (``bar`` is ``None`` at the parent's start).

    Args:
        book: The book.
        parent: A working parent.
        now: Close time of the current step, ns.
        price: The symbol's latest close.
        bar: The bar that just closed, or ``None`` when the parent was just made.
    """
    spec = parent.spec
    if isinstance(spec, TwapSpec):
        _twap(book, parent, spec, now, price)
    elif isinstance(spec, IcebergSpec):
        _iceberg(book, parent, spec)
    else:
        _participation(book, parent, spec, now, bar)


def _twap(book: Slicer, parent: ParentOrder, spec: TwapSpec, now: int, price: float) -> None:
    if parent.plan is None:
        parent.plan = twap_schedule(parent.created_at, spec)
    times, cumulative = parent.plan
    first = parent.slices_done
    due = first
    while due < len(times) and times[due] <= now:
        due += 1
    if due > first:
        book.cancel_children(parent)  # a limit slice not filled by the next slice's time
        parent.slices_done = due
        if not within_limit(parent.side, price, spec.limit):
            parent.skipped += due - first
            book.mark(parent)
        else:
            book.mark(parent)
            target = parent.amount * cumulative[due - 1]
            limit_price = None
            if spec.limit_offset is not None:
                limit_price = price * (1.0 - parent.side.sign * spec.limit_offset)
                if spec.limit is not None:
                    limit_price = _capped(parent.side, limit_price, spec.limit)
            book.place(parent, target - parent.filled - parent.committed, limit_price)
    elif now >= parent.created_at + spec.horizon:
        book.cancel_children(parent)  # the horizon ended: the last limit slice stops
    if parent.slices_done == len(times) and not parent.working_children:
        book.finish(parent, None, _left_reason(parent, "the schedule ended"))


def _iceberg(book: Slicer, parent: ParentOrder, spec: IcebergSpec) -> None:
    if parent.working_children:
        return
    refused = 0
    for child in reversed(parent.children):
        if child.status is not OrderStatus.REJECTED:
            break
        refused += 1
    if refused >= MAX_REFUSED:
        last = parent.children[-1]
        book.finish(parent, ParentStatus.EXPIRED, f"child {last.client_id}: {last.reason}")
        return
    if book.done(parent):
        book.finish(parent, ParentStatus.FILLED)
        return
    size = display_size(spec, parent.slices_done)
    parent.slices_done += 1
    book.mark(parent)
    book.place(parent, size, spec.limit)


def _participation(
    book: Slicer, parent: ParentOrder, spec: ParticipationSpec, now: int, bar: Bar | None
) -> None:
    if bar is None:
        return  # nothing traded since the start yet
    ended = spec.horizon is not None and now >= parent.created_at + spec.horizon
    if ended or book.done(parent):
        book.cancel_children(parent)
        if not parent.working_children:
            book.finish(parent, None, _left_reason(parent, "the horizon ended"))
        return
    parent.slices_done += 1
    if not within_limit(parent.side, bar.close, spec.limit):
        parent.skipped += 1
        book.mark(parent)
        return
    book.mark(parent)
    amount = spec.rate * bar.volume
    if spec.max_slice is not None:
        amount = min(amount, spec.max_slice)
    book.place(parent, amount, None)


def _capped(side: Side, price: float, limit: float) -> float:
    return min(price, limit) if side is Side.BUY else max(price, limit)


def _left_reason(parent: ParentOrder, why: str) -> str:
    if parent.skipped:
        return f"{why} with {parent.remaining:g} left ({parent.skipped} skipped beyond the limit)"
    return f"{why} with {parent.remaining:g} left"
