"""The run's parent orders: started by the strategy, driven at each closed bar, journaled."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from quantkit.algos.context import AlgoContext, ParentJournal
from quantkit.algos.drivers import drive
from quantkit.algos.parent import PARENT_TAG, ParentOrder, ParentStatus
from quantkit.algos.specs import IcebergSpec, ParentSpec, with_seed
from quantkit.algos.state import parent_from_json, parent_to_json
from quantkit.domain.order import Order, OrderRequest, OrderType, Side
from quantkit.errors import OrderError

__all__ = ["AlgoBook"]


def _log(event: str, **fields: Any) -> None:
    import structlog  # noqa: PLC0415 - `import quantkit` stays light

    structlog.get_logger("quantkit.algos").info(event, **fields)


class AlgoBook:
    """Every parent order of a run and the one loop that drives them, in every mode.

    The engine calls `on_bar` for each closed bar of a symbol while a parent works on it
    (after the broker matched that bar, before the strategy sees it). Children are ordinary
    orders sent through the run's risk policy and broker under ids ``<parent id>-<n>`` and
    tagged ``algo:<parent id>``; their fills reach the strategy like any order's.

    Args:
        context: The run (time, prices, risk, broker).
        journal: Where a live run keeps its parents, if anywhere.

    Attributes:
        parents: Every parent of the run, oldest first.
        working: The parents still working (a plain list: the engine tests it per bar).
    """

    def __init__(self, context: AlgoContext, journal: ParentJournal | None = None) -> None:
        self.context = context
        self.journal = journal
        self.parents: list[ParentOrder] = []
        self.working: list[ParentOrder] = []

    # -- commands (the strategy) --------------------------------------------------------------

    def start(self, symbol: str, side: Side, amount: float, spec: ParentSpec) -> ParentOrder:
        """Start a parent order: one risk decision on the whole amount, then its first slice.

        Args:
            symbol: Market symbol.
            side: Buy or sell.
            amount: Total amount in base currency.
            spec: The algorithm.

        Returns:
            The parent handle (``REJECTED`` with the reason if the risk policy refused it).

        Raises:
            OrderError: If the amount is not a finite number > 0, the symbol is unknown or has
                no closed bar yet.
        """
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise OrderError(f"{spec.kind}: amount must be a number, got {amount!r}")
        if not math.isfinite(amount) or amount <= 0:
            raise OrderError(f"{spec.kind}: amount must be a finite number > 0, got {amount!r}")
        context = self.context
        context.market(symbol)  # an unknown symbol fails here, naming it
        if context.now < 0 or not math.isfinite(context.price(symbol)):
            raise OrderError(
                f"{spec.kind} on {symbol}: no bar of {symbol} has closed yet; start parent "
                "orders from on_bar"
            )
        parent_id = context.next_client_id()
        spec = with_seed(spec)
        limit = spec.limit
        kind = OrderType.MARKET if limit is None else OrderType.LIMIT
        request = OrderRequest(symbol, side, kind, amount=float(amount), limit_price=limit,
                               tag=f"{PARENT_TAG}{spec.kind}")  # fmt: skip
        approved, reason = context.risk_decision(request, parent_id)
        now = context.now
        parent = ParentOrder(parent_id, symbol, side, float(approved.amount or amount), spec,
                             now, context.price(symbol))  # fmt: skip
        self.parents.append(parent)
        if reason:
            parent.status, parent.reason, parent.ended_at = ParentStatus.REJECTED, reason, now
            self.mark(parent)
            return parent
        self.working.append(parent)
        self.mark(parent)
        _log("parent_started", parent_id=parent_id, kind=spec.kind, symbol=symbol,
                  side=str(side), amount=parent.amount)  # fmt: skip
        drive(self, parent, now, parent.arrival_price, None)
        return parent

    def cancel(self, parent: ParentOrder) -> None:
        """Stop a parent: no more children; its working children are canceled.

        Args:
            parent: The parent (nothing happens if it already ended).
        """
        if parent.status.is_terminal:
            return
        self.finish(parent, ParentStatus.CANCELED, "canceled by the strategy")
        self.cancel_children(parent)

    def amend(
        self, parent: ParentOrder, *, amount: float | None = None, limit: float | None = None
    ) -> None:
        """Reshape a working parent: a new total and/or limit; its working child follows.

        A working child larger than the new rest is cut to it (canceled when nothing is
        left); an iceberg's working child moves to the new limit. Later slices use the new
        values.

        Args:
            parent: The working parent.
            amount: New total, above what already filled.
            limit: New limit price.

        Raises:
            OrderError: If the parent ended, nothing is given, or a value is invalid.
        """
        if parent.status.is_terminal:
            raise OrderError(f"amend of parent {parent.id}: it already ended ({parent.status})")
        if amount is None and limit is None:
            raise OrderError(f"amend of parent {parent.id}: give amount= and/or limit=")
        if amount is not None and not (math.isfinite(amount) and amount > parent.filled):
            raise OrderError(
                f"amend of parent {parent.id}: amount must be a finite number above what "
                f"filled ({parent.filled:g}), got {amount!r}"
            )
        if limit is not None:
            parent.spec = dataclasses.replace(parent.spec, limit=limit)  # validates it
        if amount is not None:
            parent.amount = float(amount)
        self.mark(parent)
        for child in parent.working_children:
            self._reshape(parent, child, limit)

    def restore(self) -> None:
        """Resume the parents an earlier process of the run journaled (live restarts).

        Each parent comes back with its state and the children the journal knows under its
        ids; working parents go on at the next bar. No child is placed again: children are
        found by their ids, and the next child gets the next unused number.
        """
        journal = self.journal
        if journal is None:
            return
        known = {p.id for p in self.parents}
        for data in journal.resumed_parents():
            parent = parent_from_json(data)
            if parent.id in known:
                continue
            parent.children = list(journal.known_children(parent.id))
            self.parents.append(parent)
            if not parent.status.is_terminal:
                self.working.append(parent)
            _log("parent_resumed", parent_id=parent.id, status=str(parent.status),
                      filled=parent.filled, children=len(parent.children))  # fmt: skip

    # -- the engine ---------------------------------------------------------------------------

    def on_bar(self, symbol: str) -> None:
        """Drive the working parents of ``symbol`` at the close of its latest bar.

        Args:
            symbol: The symbol whose bar just closed.
        """
        context = self.context
        bar = context.last_bar(symbol)
        if bar is None:
            return
        now = context.now
        for parent in [p for p in self.working if p.symbol == symbol]:
            if bar.close_time <= parent.created_at:
                continue  # the bar it started on: it was driven then
            parent.bar_value += (bar.high + bar.low + bar.close) / 3.0 * bar.volume
            parent.bar_volume += bar.volume
            drive(self, parent, now, bar.close, bar)

    # -- the drivers' side (`Slicer`) ----------------------------------------------------------

    def place(self, parent: ParentOrder, amount: float, limit_price: float | None) -> None:
        """Send a child of ``amount`` (capped at what is neither filled nor working)."""
        context = self.context
        market = context.market(parent.symbol)
        amount = market.round_amount(min(amount, parent.amount - parent.filled - parent.committed))
        if amount <= 0:
            return
        kind = OrderType.MARKET
        if limit_price is not None:
            kind, limit_price = OrderType.LIMIT, market.round_price(limit_price)
        request = OrderRequest(parent.symbol, parent.side, kind, amount=amount,
                               limit_price=limit_price, tag=f"algo:{parent.id}")  # fmt: skip
        child_id = f"{parent.id}-{len(parent.children) + 1}"
        parent.children.append(context.submit(request, child_id))

    def cancel_children(self, parent: ParentOrder) -> None:
        """Cancel the parent's working children."""
        for child in parent.working_children:
            self.context.cancel(child)

    def finish(self, parent: ParentOrder, status: ParentStatus | None, reason: str = "") -> None:
        """End ``parent`` (status ``None``: filled if nothing is left, else expired)."""
        if status is None:
            status = ParentStatus.FILLED if self.done(parent) else ParentStatus.EXPIRED
        parent.status = status
        parent.reason = "" if status is ParentStatus.FILLED else reason
        parent.ended_at = self.context.now
        if parent in self.working:
            self.working.remove(parent)
        self.mark(parent)
        _log("parent_ended", parent_id=parent.id, status=str(status), filled=parent.filled,
                  reason=parent.reason)  # fmt: skip

    def done(self, parent: ParentOrder) -> bool:
        """Whether what is left rounds to nothing at the market's precision."""
        left = parent.amount - parent.filled
        return (
            left <= parent.amount * 1e-12
            or self.context.market(parent.symbol).round_amount(left) <= 0
        )

    def mark(self, parent: ParentOrder) -> None:
        """Journal the parent's state (live runs), before any child it decided on is sent."""
        if self.journal is not None:
            self.journal.save_parent(parent_to_json(parent))

    # -- helpers ------------------------------------------------------------------------------

    def _reshape(self, parent: ParentOrder, child: Order, limit: float | None) -> None:
        rest = parent.amount - parent.filled
        size = child.amount if child.amount is not None else child.request.amount
        open_amount = (size or 0.0) - child.filled
        changes: dict[str, Any] = {}
        if open_amount > rest:
            if self.context.market(parent.symbol).round_amount(rest) <= 0:
                self.context.cancel(child)
                return
            changes["amount"] = child.filled + rest
        if limit is not None and isinstance(parent.spec, IcebergSpec):
            changes["limit_price"] = limit
        if not changes:
            return
        request = dataclasses.replace(child.request, **changes)
        child_id = f"{parent.id}-{len(parent.children) + 1}"
        now_working = self.context.amend(child, request, child_id)
        if now_working is not child:
            parent.children.append(now_working)
