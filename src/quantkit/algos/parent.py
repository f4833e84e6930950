"""The parent order handle: what a strategy holds while an algorithm works."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from quantkit.algos.specs import ParentSpec, spec_to_json
from quantkit.domain.order import Order, OrderStatus, Side

__all__ = ["PARENT_TAG", "ParentOrder", "ParentStatus"]

PARENT_TAG = "parent:"
"""Prefix of the tag of the request a risk policy sees for a parent's whole amount
(``"parent:twap"``); a policy that counts venue orders (a rate limit) skips it."""


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.REJECTED})


class ParentStatus(StrEnum):
    """A parent order's status."""

    WORKING = "working"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """Whether the parent places no more children."""
        return self is not ParentStatus.WORKING


@dataclass(eq=False)
class ParentOrder:
    """A parent order, updated by the run's `AlgoBook` as bars close and children fill.

    Attributes:
        id: The parent's id (a client id of the run; its children are ``<id>-<n>``).
        symbol: Market symbol.
        side: Buy or sell.
        amount: The total to trade (after the risk policy's decision).
        spec: What the algorithm does.
        created_at: Start, ns (close of the bar it was made on).
        arrival_price: The latest close when it started.
        status: Current status.
        reason: Why it was rejected, canceled or expired.
        ended_at: When it ended, ns (-1 while working).
        children: Its child orders, oldest first.
        slices_done: Scheduled slices handled so far (placed or skipped).
        skipped: Slices (or bars) skipped because the price was beyond the limit.
        bar_value: Sum of typical price x volume of the bars seen while it worked.
        bar_volume: Sum of the volume of those bars.
        plan: A TWAP's schedule (due times, cumulative fractions), made once.
    """

    id: str
    symbol: str
    side: Side
    amount: float
    spec: ParentSpec
    created_at: int
    arrival_price: float
    status: ParentStatus = ParentStatus.WORKING
    reason: str = ""
    ended_at: int = -1
    children: list[Order] = field(default_factory=list)
    slices_done: int = 0
    skipped: int = 0
    bar_value: float = 0.0
    bar_volume: float = 0.0
    plan: tuple[list[int], list[float]] | None = field(default=None, repr=False)
    _settled: int = field(default=0, repr=False)
    _settled_filled: float = field(default=0.0, repr=False)
    _settled_value: float = field(default=0.0, repr=False)

    @property
    def kind(self) -> str:
        """``"twap"``, ``"iceberg"`` or ``"participation"``."""
        return self.spec.kind

    def _settle(self) -> list[Order]:
        """The children after the settled prefix (whose fills can no longer change).

        The prefix moves over children that are filled or rejected, so sums over a long run of
        children stay cheap. A canceled or expired child stays unsettled: a live venue may
        still report a fill it made before the cancel.
        """
        children = self.children
        i = self._settled
        while i < len(children) and children[i].status in _FINAL:
            child = children[i]
            self._settled_filled += child.filled
            self._settled_value += child.filled * child.average_price
            i += 1
        self._settled = i
        return children[i:]

    @property
    def filled(self) -> float:
        """Amount filled by all children."""
        rest = self._settle()
        return self._settled_filled + sum(child.filled for child in rest)

    @property
    def remaining(self) -> float:
        """``amount - filled`` (never below 0)."""
        return max(self.amount - self.filled, 0.0)

    @property
    def working_children(self) -> list[Order]:
        """Children still working (accepted or sent, not ended)."""
        return [child for child in self._settle() if not child.status.is_terminal]

    @property
    def committed(self) -> float:
        """Unfilled amount of the working children: what may still fill without a new child."""
        total = 0.0
        for child in self.working_children:
            size = child.amount if child.amount is not None else child.request.amount
            total += max((size or 0.0) - child.filled, 0.0)
        return total

    @property
    def average_price(self) -> float:
        """Volume-weighted fill price of the children (0.0 before any fill)."""
        rest = self._settle()
        filled = self._settled_filled + sum(child.filled for child in rest)
        if filled <= 0:
            return 0.0
        value = self._settled_value + sum(c.filled * c.average_price for c in rest)
        return value / filled

    @property
    def fees(self) -> float:
        """Fees the children paid (quote currency)."""
        return sum(child.fee for child in self.children)

    @property
    def vwap(self) -> float:
        """The interval VWAP (nan before the first bar).

        The typical price ``(high + low + close) / 3`` weighted by volume, over the bars that
        closed while the parent worked.
        """
        return self.bar_value / self.bar_volume if self.bar_volume > 0 else float("nan")

    @property
    def slippage_bps(self) -> float:
        """Cost against the arrival price in basis points (positive: paid more / got less)."""
        return _slippage(self.side, self.average_price, self.arrival_price, self.filled)

    @property
    def vwap_slippage_bps(self) -> float:
        """Cost against the interval VWAP in basis points (positive: worse than VWAP)."""
        return _slippage(self.side, self.average_price, self.vwap, self.filled)

    def as_row(self) -> dict[str, Any]:
        """The parent as one row of `Result.parents`."""
        return {
            "parent_id": self.id,
            "kind": self.kind,
            "symbol": self.symbol,
            "side": str(self.side),
            "amount": self.amount,
            "filled": self.filled,
            "remaining": self.remaining,
            "average_price": self.average_price,
            "arrival_price": self.arrival_price,
            "vwap": self.vwap,
            "slippage_bps": self.slippage_bps,
            "vwap_slippage_bps": self.vwap_slippage_bps,
            "fees": self.fees,
            "children": len(self.children),
            "skipped": self.skipped,
            "status": str(self.status),
            "reason": self.reason,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "spec": spec_to_json(self.spec),
        }

    def __repr__(self) -> str:
        return (
            f"ParentOrder({self.id} {self.kind} {self.side} {self.amount:g} {self.symbol}, "
            f"{self.status}, filled={self.filled:g})"
        )


def _slippage(side: Side, price: float, reference: float, filled: float) -> float:
    if filled <= 0 or not reference > 0:
        return float("nan")
    return side.sign * (price - reference) / reference * 1e4
