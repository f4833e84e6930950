"""Trailing stops in the simulator: the exit an entry's ``trail_pct`` attaches.

The rule is `quantkit.domain.trailing.TrailingStop`'s (the vector path's). An entry that
fills opens a `TrailSlot` for the amount it filled; `follow_trails` runs at each bar's close,
after the bar's matching, and keeps one reduce-only stop working at the level for the next
bar. When the level moves, the working stop is canceled and a new one placed (client ids
``<entry>-trail-1``, ``<entry>-trail-2``, ...), as a strategy re-placing its own stop would;
when the position is flat the slot is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quantkit.domain.market import Market
from quantkit.domain.order import Order, OrderRequest, OrderType, Side
from quantkit.domain.trailing import TrailingStop
from quantkit.sim.working import Working

__all__ = ["TrailSlot", "trail_child", "trail_problem"]


@dataclass(slots=True)
class TrailSlot:
    """The simulator's state of one entry's trailing stop.

    Attributes:
        entry_id: Client id of the entry.
        side: Side of the exit.
        trail_pct: Distance from the extreme.
        market: The entry's market.
        seq: The entry's submission sequence number.
        amount: Amount the entry filled (what the stop protects).
        stop: Where the stop stands, ``None`` before the fill bar's close.
        child_id: Client id of the latest stop order, ``""`` before the first.
        placed: How many stop orders were placed so far.
        refused: Whether the latest stop order was refused (too small): placed again next bar.
    """

    entry_id: str
    side: Side
    trail_pct: float
    market: Market
    seq: int
    amount: float = 0.0
    stop: TrailingStop | None = None
    child_id: str = ""
    placed: int = field(default=0)
    refused: bool = False


def trail_child(slot: TrailSlot, amount: float, now: int) -> Working:
    """A new stop order at ``slot.stop``'s level for ``amount``, ``NEW`` (not yet checked).

    Args:
        slot: The slot (its ``stop`` set; ``placed`` and ``child_id`` are updated).
        amount: Amount to protect, rounded to the market's step.
        now: The bar time stamped on the order.

    Returns:
        The working order.
    """
    assert slot.stop is not None
    slot.placed += 1
    slot.child_id = f"{slot.entry_id}-trail-{slot.placed}"
    request = OrderRequest(
        slot.market.symbol,
        slot.side,
        OrderType.STOP,
        amount=amount,
        stop_price=slot.stop.level,
        reduce_only=True,
        tag="trailing_stop",
    )
    order = Order(slot.child_id, request, now, parent_id=slot.entry_id)
    child = Working(order, slot.market, slot.seq)
    child.fresh = False
    child.role = "trail"
    return child


def trail_problem(amount: float, level: float, market: Market) -> str:
    """Why a trailing stop of ``amount`` at ``level`` cannot be placed, or ``""``.

    Args:
        amount: Rounded amount.
        level: Stop level.
        market: The market (its minimum amount and notional).

    Returns:
        The reason, or ``""``.
    """
    if amount <= 0 or amount < market.min_amount:
        return f"trailing stop: amount {amount:g} below the minimum {market.min_amount:g}"
    if amount * level < market.min_notional:
        return (
            f"trailing stop: notional {amount * level:.8g} below the minimum "
            f"{market.min_notional:g} {market.quote}"
        )
    return ""
