"""A live run's parent orders in its journal, so a restart resumes them where they stood.

The `AlgoBook` writes a ``parent`` record (the parent's state, `quantkit.algos.state`) when a
parent starts, before each child it decides on is sent, and when it ends; the children are
ordinary journaled orders under ids ``<parent id>-<n>``. A restart rebuilds each parent from
its latest record and finds its children by id: a child whose intent was journaled is never
sent again (the broker resolves it like any order), and the next child takes the next number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from quantkit.brokers.journal import replay
from quantkit.brokers.journal_replay import OrderState
from quantkit.domain.order import Order, OrderRequest

if TYPE_CHECKING:
    from quantkit.brokers.live import LiveBroker

__all__ = ["LiveParentJournal"]

PARENT_RECORD = "parent"
"""The journal record kind of a parent's state."""


class LiveParentJournal:
    """`quantkit.algos.context.ParentJournal` on a `LiveBroker`'s journal.

    Args:
        broker: The started live broker.
    """

    def __init__(self, broker: LiveBroker) -> None:
        self.broker = broker

    def save_parent(self, data: Mapping[str, Any]) -> None:
        """Journal a parent's state (fsynced before the caller sends anything)."""
        self.broker.journal.append(PARENT_RECORD, data)

    def resumed_parents(self) -> list[Mapping[str, Any]]:
        """The latest journaled state of each parent, in the order they started."""
        latest: dict[str, Mapping[str, Any]] = {}
        for record in self.broker.journal.records():
            if record.kind == PARENT_RECORD:
                latest[str(record.data["id"])] = record.data
        return list(latest.values())

    def known_children(self, parent_id: str) -> list[Order]:
        """The journaled orders ``<parent_id>-<n>``, by ``n``.

        A working one is the broker's own handle (it keeps being updated); an ended one is
        rebuilt as the journal ends it (status, fills, average price, fees).
        """
        state = replay(self.broker.journal_path)
        working = self.broker.sync.orders
        prefix = f"{parent_id}-"
        numbered: list[tuple[int, Order]] = []
        for client_id, saved in state.orders.items():
            tail = client_id[len(prefix) :] if client_id.startswith(prefix) else ""
            if not tail.isdigit():
                continue
            fee = sum(f.fee for f in state.fills if f.client_id == client_id)
            order = working.get(client_id) or _ended(client_id, saved, fee)
            numbered.append((int(tail), order))
        return [order for _, order in sorted(numbered, key=lambda pair: pair[0])]


def _ended(client_id: str, saved: OrderState, fee: float) -> Order:
    request = saved.request or OrderRequest(saved.symbol, saved.side, amount=saved.amount)
    average = saved.notional / saved.filled if saved.filled else 0.0
    order = Order(client_id, request, 0, saved.status, saved.filled, average, fee)
    order.amount = saved.amount
    return order
