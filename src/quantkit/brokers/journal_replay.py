"""Rebuilding orders, fills and in-doubt intents from an order journal (after a restart)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantkit.brokers._journal_format import Record, iter_records, scan
from quantkit.domain.fill import Fill
from quantkit.domain.order import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from quantkit.errors import StoreError

__all__ = ["JournalState", "OrderState", "replay", "request_from_json"]


@dataclass(slots=True)
class OrderState:
    """An order as rebuilt from the journal.

    Attributes:
        client_id: The client order id.
        symbol: Market symbol.
        side: Buy or sell.
        amount: Ordered amount (base currency), ``None`` for a cost-sized order.
        cost: Ordered cost (quote currency) of a cost-sized order.
        status: The last known status.
        filled: Sum of the journaled fills' amounts.
        notional: Sum of the journaled fills' ``price * amount``.
        exchange_id: The venue's id, once acknowledged.
        reason: Why it was rejected.
        request: The journaled request, rebuilt.
    """

    client_id: str
    symbol: str
    side: Side
    amount: float | None
    cost: float | None
    status: OrderStatus = OrderStatus.NEW
    filled: float = 0.0
    notional: float = 0.0
    exchange_id: str = ""
    reason: str = ""
    request: OrderRequest | None = None


@dataclass(slots=True)
class JournalState:
    """The state rebuilt by `replay`.

    Attributes:
        orders: Orders by client id.
        fills: Every journaled fill, in order.
        trade_ids: Venue trade ids of the journaled fills that carried one.
        state: The data of the latest ``"state"`` record (empty when there is none).
        in_doubt: Client ids whose intent was written but never acknowledged, rejected,
            filled or canceled: the order may or may not have reached the venue. The broker
            must look each one up on the exchange by its client id before retrying it.
        parked: Client ids of orders held back (``park``) and never released (no
            ``unpark``): exits that waited for the cancel of OCO lists. One still ``NEW`` was
            never sent; it is not in doubt.
    """

    orders: dict[str, OrderState] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    trade_ids: set[str] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)
    parked: set[str] = field(default_factory=set)

    @property
    def in_doubt(self) -> frozenset[str]:
        """Client ids of intents with no answer from the venue yet (never-released ones apart)."""
        new = (c for c, o in self.orders.items() if o.status is OrderStatus.NEW)
        return frozenset(c for c in new if c not in self.parked)

    @property
    def never_sent(self) -> frozenset[str]:
        """Client ids of ``NEW`` orders that were parked and never released: never sent."""
        new = (c for c, o in self.orders.items() if o.status is OrderStatus.NEW)
        return frozenset(c for c in new if c in self.parked)


def _apply_fill(state: JournalState, data: dict[str, Any]) -> None:
    values = dict(data)
    trade_id = values.pop("trade_id", "")
    if trade_id:
        state.trade_ids.add(str(trade_id))
    fill = Fill(**{**values, "side": Side(values["side"])})
    state.fills.append(fill)
    order = state.orders.get(fill.client_id)
    if order is None or order.status.is_terminal:
        return
    order.filled += fill.amount
    order.notional += fill.price * fill.amount
    if order.amount is not None:
        done = order.filled >= order.amount * (1 - 1e-12)
    else:
        done = order.cost is not None and order.notional >= order.cost * (1 - 1e-9)
    order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED


def request_from_json(data: Mapping[str, Any]) -> OrderRequest:
    """Rebuild an `OrderRequest` from the ``request`` of an intent record.

    Args:
        data: The journaled fields.

    Returns:
        The request.
    """
    values = dict(data)
    values["side"] = Side(values["side"])
    values["type"] = OrderType(values.get("type", OrderType.MARKET))
    values["time_in_force"] = TimeInForce(values.get("time_in_force", TimeInForce.GTC))
    return OrderRequest(**values)


def replay(path: str | os.PathLike[str]) -> JournalState:
    """Rebuild orders, fills and in-doubt intents from a journal (after a restart or crash).

    Verifies the journal first. Intents in `JournalState.in_doubt` must be looked up on the
    exchange by client id before any retry; a retry reuses the same client id.

    Args:
        path: The journal file.

    Returns:
        The rebuilt state. Unknown kinds are skipped.

    Raises:
        StoreError: If the journal was tampered with or truncated.
    """
    report = scan(Path(path))[0]
    if report.truncated:
        raise StoreError(f"journal {path}: truncated below its head sidecar")
    state = JournalState()
    for record in iter_records(Path(path)):
        try:
            _apply(state, record)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"journal {path}: line {record.seq}: malformed {record.kind} record ({exc!r})"
            ) from exc
    return state


def _apply(state: JournalState, record: Record) -> None:
    data, kind = record.data, record.kind
    if kind == "intent":
        req = data["request"]
        state.orders[data["client_id"]] = OrderState(
            data["client_id"],
            req["symbol"],
            Side(req["side"]),
            req["amount"],
            req["cost"],
            request=request_from_json(req),
        )
    elif kind == "fill":
        _apply_fill(state, data)
    elif kind == "state":
        state.state = dict(data)
    elif kind == "park":
        state.parked.add(str(data["client_id"]))
    elif kind == "unpark":
        state.parked.discard(str(data["client_id"]))
    elif (order := state.orders.get(data.get("client_id", ""))) is None:
        return
    elif kind == "ack" and order.status is OrderStatus.NEW:
        order.status, order.exchange_id = OrderStatus.OPEN, data["exchange_id"]
    elif kind == "reject" and not order.status.is_terminal:
        order.status, order.reason = OrderStatus.REJECTED, data["reason"]
    elif kind == "cancel" and not order.status.is_terminal:
        order.status = OrderStatus.CANCELED
